// Slowloris connections for the soak run, in their own process so that their
// reconnect loop does not slow the measuring client's event loop.
//   node soak-stallers.mjs N PORT [LOCAL_ADDRESS]
// (A LOCAL_ADDRESS makes every connect bind() first, and the kernel's search
// for a free port then slows down with thousands of sockets: leave it out.)
// Each sends one byte (05) and stalls; reconnects as soon as it is cut.
// Prints {"ready":true} once all N were started; on the stdin line "stats"
// prints {"live":…,"reconnects":…}; exits when stdin ends.
import net from 'node:net';
import readline from 'node:readline';

const [n, port, localAddress] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] || undefined];
const live = new Set();
let stopped = false;
let reconnects = 0;
const open = () => {
  if (stopped) return;
  const s = net.connect({ port, host: '127.0.0.1', localAddress });
  live.add(s);
  s.on('connect', () => s.write(Buffer.from([5])));
  s.on('error', () => {});
  s.on('close', () => {
    live.delete(s);
    if (!stopped) {
      reconnects++;
      setImmediate(open);
    }
  });
};
for (let i = 0; i < n; i++) {
  open();
  if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
}
process.stdout.write('{"ready":true}\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'stats') process.stdout.write(JSON.stringify({ live: live.size, reconnects }) + '\n');
});
process.stdin.on('end', () => {
  stopped = true;
  for (const s of live) s.destroy();
  process.exit(0);
});
