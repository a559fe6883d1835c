// Destinations for the soak run, in their own process (so the tunnels'
// far ends do not count against the soak driver's descriptors). Prints one
// JSON line of ports; reads commands on stdin, answers JSON lines on stdout.
//   echo      echoes
//   sink      reads nothing until the command "read"; then hashes all it got
//   halfA     after the client's FIN, sends 1 MB and FIN
//   halfB     sends "hi" and FIN at once, counts what the client sends after it
import net from 'node:net';
import { createHash } from 'node:crypto';
import readline from 'node:readline';

const MB = Buffer.alloc(1 << 20, 0x61);
const stats = { halfB: [], sinks: [] };
let sinkReading = false;
const sinks = new Set();

function listen(onConn) {
  const s = net.createServer({ allowHalfOpen: true }, (c) => {
    c.on('error', () => {});
    onConn(c);
  });
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r(s.address().port)));
}

const ports = {
  echo: await listen((c) => c.pipe(c)),
  sink: await listen((c) => {
    const st = { hash: createHash('sha256'), bytes: 0 };
    stats.sinks.push(st);
    c.on('data', (d) => {
      st.hash.update(d);
      st.bytes += d.length;
    });
    c.on('end', () => {
      st.sha = st.hash.digest('hex');
      c.end();
    });
    if (!sinkReading) {
      c.pause();
      sinks.add(c);
    }
  }),
  halfA: await listen((c) => {
    c.resume();
    c.on('end', () => c.end(MB));
  }),
  halfB: await listen((c) => {
    let n = 0;
    c.on('data', (d) => (n += d.length));
    c.on('end', () => {
      stats.halfB.push(n);
      c.destroy();
    });
    c.end('hi');
  }),
};
process.stdout.write(JSON.stringify(ports) + '\n');

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'read') {
    sinkReading = true;
    for (const c of sinks) c.resume();
    sinks.clear();
    process.stdout.write('{"reading":true}\n');
  } else if (line === 'stats') {
    process.stdout.write(JSON.stringify({ halfB: stats.halfB, sinks: stats.sinks.map((s) => ({ bytes: s.bytes, sha: s.sha })) }) + '\n');
    stats.halfB = [];
  } else if (line === 'exit') process.exit(0);
});
process.stdin.on('end', () => process.exit(0));
