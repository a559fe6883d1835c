#!/usr/bin/env node
// npm run soak [-- --quick] [-- --only slowloris,tunnels,backpressure,leaks,halfclose,fuzz]
//              [-- --cases N --sessions N --tunnels N --connections N] [-- --no-doc]
// Starts sockskit-proxy (dist/examples/proxy.js) on loopback, measures it,
// prints the figures and writes them into docs/reliability.md (between the
// soak markers). Every phase is bounded in count and time; every process it
// starts is stopped. Loopback only.
import net from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROXY = path.join(ROOT, 'dist', 'examples', 'proxy.js');
const DOC = path.join(ROOT, 'docs', 'reliability.md');

const argv = process.argv.slice(2);
const flag = (n) => argv.includes(`--${n}`);
const arg = (n, d) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : d;
};
const QUICK = flag('quick');
const ONLY = arg('only', 'slowloris,tunnels,backpressure,leaks,halfclose,fuzz').split(',');
const N_TUNNELS = Number(arg('tunnels', QUICK ? 2000 : 9990));
const N_MIXED = Number(arg('connections', QUICK ? 10000 : 100000));
const FUZZ_CASES = Number(arg('cases', QUICK ? 200000 : 10000000));
const FUZZ_SESSIONS = Number(arg('sessions', QUICK ? 1000 : 100000));
const FUZZ_BUDGET_S = Number(arg('fuzz-seconds', QUICK ? 120 : 0)); // 0: no time cap
const BACKPRESSURE_BYTES = QUICK ? 256 * 2 ** 20 : 2 ** 30;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const KiB = (b) => b / 1024;
const MiB = (b) => b / 2 ** 20;
const pct = (a, q) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};
const log = (s) => process.stderr.write(`soak: ${s}\n`);
const results = {};
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

// ------------------------------------------------------------ processes

function procStatus(pid, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
const fdsOf = (pid) => readdirSync(`/proc/${pid}/fd`).length;

/** A helper process (scripts/soak-*.mjs) that answers in JSON lines; next() waits up to `wait` ms for the next one. */
function helper(file, args, what, wait) {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', file), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const lines = [];
  const waiters = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  const next = async () => {
    for (let i = 0; i < wait / 50 && !lines.length; i++) await new Promise((r) => (waiters.push(r), setTimeout(r, 50)));
    if (!lines.length) throw new Error(`the ${what} process did not answer`);
    return lines.shift();
  };
  return { child, next };
}

async function startDest() {
  const { child, next } = helper('soak-dest.mjs', [], 'destination', 10000);
  const ports = await next();
  return {
    ports,
    ask: async (cmd) => {
      child.stdin.write(cmd + '\n');
      return next();
    },
    stop: () => {
      child.kill();
      children.delete(child);
    },
  };
}

async function startProxy(args = [], { cpu } = {}) {
  const cmd = cpu !== undefined ? 'taskset' : process.execPath;
  const full = cpu !== undefined ? ['-c', String(cpu), process.execPath, PROXY, ...args] : [PROXY, ...args];
  const child = spawn(cmd, [...full, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 1e6) err = err.slice(-5e5);
  });
  for (let i = 0; i < 200 && !/listening on 127\.0\.0\.1:\d+/.test(err); i++) await sleep(50);
  const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
  if (!m) throw new Error(`proxy did not start: ${err}`);
  const pid = child.pid;
  return {
    port: Number(m[1]),
    pid,
    stderr: () => err,
    rss: () => procStatus(pid, 'VmRSS'),
    fds: () => fdsOf(pid),
    async stats() {
      const before = (err.match(/stats \{/g) ?? []).length;
      child.kill('SIGUSR1');
      for (let i = 0; i < 100 && (err.match(/stats \{.*\}\n/g) ?? []).length <= before; i++) await sleep(50);
      const all = [...err.matchAll(/stats (\{.*\})\n/g)];
      return JSON.parse(all[all.length - 1][1]);
    },
    async stop() {
      child.kill('SIGTERM');
      for (let i = 0; i < 60 && child.exitCode === null && child.signalCode === null; i++) await sleep(50);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      children.delete(child);
    },
  };
}

function proxyHelp() {
  return spawnSync(process.execPath, [PROXY, '--help'], { encoding: 'utf8' }).stdout;
}

// ------------------------------------------------------------ SOCKS5 by hand

const u16 = (n) => Buffer.from([n >> 8, n & 255]);
const connectReq = (port) => Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1]), u16(port)]);
const AUTH = Buffer.concat([Buffer.from([5, 1, 2, 1, 5]), Buffer.from('alice'), Buffer.from([6]), Buffer.from('s3cret')]);
const authReq = (cmd, port, pw = 's3cret') => Buffer.concat([Buffer.from([5, 1, 2, 1, 5]), Buffer.from('alice'), Buffer.from([pw.length]), Buffer.from(pw), Buffer.from([5, cmd, 0, 1, 127, 0, 0, 1]), u16(port)]);

/**
 * Opens a socket, writes `hello`, resolves when `want` bytes arrived (with
 * the socket and the bytes), or with { error } on close/timeout.
 */
function exchange(proxyPort, hello, want, { timeout = 15000, localAddress } = {}) {
  return new Promise((resolve) => {
    const s = net.connect({ port: proxyPort, host: '127.0.0.1', localAddress, allowHalfOpen: true });
    s.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let done = false;
    const end = (r) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.removeAllListeners('data');
      if (r.error) s.destroy();
      resolve({ ...r, socket: s, data: buf });
    };
    const t = setTimeout(() => end({ error: 'timeout' }), timeout);
    s.on('error', (e) => end({ error: e.code ?? e.message }));
    s.on('close', () => end({ error: 'closed' }));
    s.on('connect', () => s.write(hello));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= want) end({});
    });
  });
}

/** No-auth CONNECT to the echo port and one round trip; the socket is kept open when keep is set. */
async function roundTrip(proxyPort, echoPort, { keep = false, localAddress, timeout } = {}) {
  const t0 = process.hrtime.bigint();
  const r = await exchange(proxyPort, Buffer.concat([connectReq(echoPort), Buffer.from('ping')]), 2 + 10 + 4, { localAddress, timeout });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const ok = !r.error && r.data[1] === 0 && r.data[3] === 0 && r.data.subarray(12, 16).toString() === 'ping';
  if (!keep || !ok) r.socket.destroy();
  return { ok, ms, socket: r.socket, error: r.error ?? (ok ? undefined : `reply ${r.data.subarray(0, 4).toString('hex')}`) };
}

/** Many tasks, `conc` at a time. */
async function pool(n, conc, task) {
  let i = 0;
  const out = new Array(n);
  await Promise.all(Array.from({ length: Math.min(conc, n) }, async () => {
    while (i < n) {
      const k = i++;
      out[k] = await task(k);
    }
  }));
  return out;
}

/** Connections that send one byte and stall, reconnected as soon as they are cut, in their own process. */
async function stallers(n, port, { localAddress = '' } = {}) {
  const { child, next } = helper('soak-stallers.mjs', [String(n), String(port), localAddress], 'stallers', 30000);
  await next();
  return {
    stats: async () => {
      child.stdin.write('stats\n');
      return next();
    },
    stop: async () => {
      child.stdin.end();
      for (let i = 0; i < 100 && child.exitCode === null; i++) await sleep(50);
      child.kill('SIGKILL');
      children.delete(child);
    },
  };
}

// ------------------------------------------------------------ the measurements

/** The measuring client's address; the stallers come from 127.0.0.1. */
const CLIENT = '127.0.0.2';

async function slowloris(dest) {
  const out = {};
  const trips = async (p) => {
    const r = [];
    for (let i = 0; i < 200; i++) r.push(await roundTrip(p.port, dest.ports.echo, { localAddress: CLIENT }));
    return { p50: pct(r.map((x) => x.ms), 0.5), p99: pct(r.map((x) => x.ms), 0.99), failures: r.filter((x) => !x.ok).length };
  };
  for (const n of QUICK ? [1000] : [1000, 5000]) {
    const p = await startProxy();
    const quiet = await trips(p);
    const st = await stallers(n, p.port);
    await sleep(500);
    const loaded = await trips(p);
    const held = (await st.stats()).live;
    await st.stop();
    await p.stop();
    out[n] = { quiet, loaded, held };
    log(`slowloris ${n}: quiet p50 ${quiet.p50.toFixed(2)} p99 ${quiet.p99.toFixed(2)} ms; with stallers p50 ${loaded.p50.toFixed(2)} p99 ${loaded.p99.toFixed(2)} ms, ${loaded.failures} failures`);
  }
  // Over the limit: 1,500 stallers against --max-connections 1000, reconnecting
  // as soon as they are cut; a client tries once every 100 ms for 20 s.
  const perSource = /--max-connections-per-source/.test(proxyHelp());
  const p = await startProxy(['--max-connections', '1000']);
  const st = await stallers(1500, p.port);
  await sleep(500);
  const tries = [];
  const until = Date.now() + (QUICK ? 10000 : 20000);
  while (Date.now() < until) {
    const t = Date.now();
    tries.push(await roundTrip(p.port, dest.ports.echo, { timeout: 2000, localAddress: CLIENT }));
    await sleep(Math.max(0, 100 - (Date.now() - t)));
  }
  const stats = await p.stats();
  const { reconnects } = await st.stats();
  await st.stop();
  await p.stop();
  const ok = tries.filter((x) => x.ok).length;
  out.overLimit = { tries: tries.length, ok, share: ok / tries.length, p50: pct(tries.filter((x) => x.ok).map((x) => x.ms), 0.5), stallerReconnects: reconnects, refused: stats.refused, evictionCode: perSource };
  log(`over the limit: ${ok}/${tries.length} tries succeeded (${((100 * ok) / tries.length).toFixed(1)} %), stallers reconnected ${reconnects} times`);
  return out;
}

async function tunnels(dest) {
  const p = await startProxy([], { cpu: 1 });
  await sleep(300);
  const rss0 = p.rss();
  const fd0 = p.fds();
  const keep = [];
  const t0 = Date.now();
  // Opened in steps, RSS read at each after 2 s of settling: the marginal
  // cost between the last two steps leaves out the baseline and the heap's
  // warm-up (V8 grows its heap over the first few thousand handshakes).
  const steps = [...new Set([1000, 3000, 5000, 7000, N_TUNNELS].filter((n) => n <= N_TUNNELS))];
  const atStep = [];
  let tried = 0;
  for (const step of steps) {
    await pool(step - tried, 200, async () => {
      const r = await roundTrip(p.port, dest.ports.echo, { keep: true });
      if (r.ok) keep.push(r.socket);
      return r.ok;
    });
    tried = step;
    await sleep(2000);
    atStep.push({ tried: step, held: keep.length, rss: p.rss() });
  }
  const held = keep.length;
  const rss1 = p.rss();
  const fd1 = p.fds();
  const stats = await p.stats();
  // A sample of 100 still echoing.
  const sample = keep.filter((_, i) => i % Math.max(1, Math.floor(keep.length / 100)) === 0).slice(0, 100);
  const echoing = (
    await Promise.all(
      sample.map(
        (s) =>
          new Promise((resolve) => {
            const t = setTimeout(() => resolve(false), 5000);
            s.once('data', (d) => {
              clearTimeout(t);
              resolve(d.toString() === 'pong');
            });
            s.write('pong');
          }),
      ),
    )
  ).filter(Boolean).length;
  for (const s of keep) s.destroy();
  await p.stop();
  const out = {
    tried: N_TUNNELS,
    held,
    seconds: (Date.now() - t0) / 1000,
    rssStartMiB: MiB(rss0),
    rssMiB: MiB(rss1),
    kibPerTunnelTotal: KiB(rss1) / held,
    kibPerTunnelMarginal: atStep.length > 1 ? KiB(atStep.at(-1).rss - atStep.at(-2).rss) / (atStep.at(-1).held - atStep.at(-2).held) : KiB(rss1 - rss0) / held,
    kibPerTunnelAboveStart: KiB(rss1 - rss0) / held,
    steps: atStep.map((x) => `${x.held}: ${MiB(x.rss).toFixed(1)} MiB`),
    fds: fd1 - fd0,
    refused: stats.refused,
    noDescriptor: stats.noDescriptor,
    echoing,
    sampled: sample.length,
    workers: /--workers/.test(proxyHelp()),
  };
  log(`tunnels: ${held}/${N_TUNNELS} held, RSS ${out.rssStartMiB.toFixed(1)} -> ${out.rssMiB.toFixed(1)} MiB, ${out.kibPerTunnelMarginal.toFixed(2)} KiB each (marginal), ${out.kibPerTunnelTotal.toFixed(2)} KiB (RSS / n); ${echoing}/${sample.length} echo`);
  return out;
}

async function backpressure(dest) {
  const p = await startProxy();
  await sleep(300);
  const r = await exchange(p.port, connectReq(dest.ports.sink), 12);
  if (r.error || r.data[1] !== 0) throw new Error(`backpressure: CONNECT failed ${r.error ?? r.data.toString('hex')}`);
  const s = r.socket;
  const rss0 = p.rss();
  const hash = createHash('sha256');
  const chunk = randomBytes(1 << 16);
  let sent = 0;
  let peak = rss0;
  let stalledAt = -1;
  // Push until the writes stall (nothing drains for 2 s) or the whole amount is queued.
  const push = async (limitStall) => {
    while (sent < BACKPRESSURE_BYTES) {
      const c = Buffer.from(chunk);
      c.writeUInt32BE(sent / (1 << 16), 0);
      hash.update(c);
      sent += c.length;
      if (!s.write(c)) {
        const drained = await new Promise((resolve) => {
          const t = setTimeout(() => resolve(false), limitStall ? 2000 : 60000);
          s.once('drain', () => {
            clearTimeout(t);
            resolve(true);
          });
        });
        peak = Math.max(peak, p.rss());
        if (!drained) return false;
      }
    }
    return true;
  };
  const finishedEarly = await push(true);
  if (!finishedEarly) {
    stalledAt = sent;
    await sleep(1000);
    peak = Math.max(peak, p.rss());
  }
  const growth = peak - rss0;
  log(`backpressure: writes stalled after ${MiB(sent).toFixed(1)} MiB; proxy RSS +${MiB(growth).toFixed(2)} MiB`);
  await dest.ask('read');
  const t0 = Date.now();
  const watch = setInterval(() => (peak = Math.max(peak, p.rss())), 200);
  await new Promise((resolve) => {
    s.once('drain', resolve);
    if (s.writableLength === 0) resolve();
  });
  await push(false);
  s.end();
  await new Promise((resolve) => s.once('close', resolve).resume());
  clearInterval(watch);
  const sha = hash.digest('hex');
  let got;
  for (let i = 0; i < 50; i++) {
    got = (await dest.ask('stats')).sinks.find((x) => x.sha);
    if (got) break;
    await sleep(100);
  }
  await p.stop();
  const out = { bytes: sent, stalledAtMiB: stalledAt >= 0 ? MiB(stalledAt) : undefined, rssGrowthMiB: MiB(growth), rssGrowthWhileReadingMiB: MiB(peak - rss0), arrived: got?.bytes, shaMatch: got?.sha === sha, seconds: (Date.now() - t0) / 1000 };
  log(`backpressure: ${got?.bytes} of ${sent} bytes arrived, sha256 ${out.shaMatch ? 'equal' : 'DIFFERENT'}`);
  return out;
}

async function leaks(dest) {
  // The throttle off: every client here is 127.0.0.1, and a seventh of them fail to log in on purpose (the throttle has its own specs).
  const p = await startProxy(['--user', 'alice:s3cret', '--handshake-timeout', '2000', '--connect-timeout', '2000', '--login-throttle', 'off']);
  const kinds = ['success', 'refused', 'reset', 'badGreeting', 'authFailure', 'udp', 'bind'];
  const counts = Object.fromEntries(kinds.map((k) => [k, 0]));
  const closedPort = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
  const one = async (k) => {
    const kind = kinds[k % kinds.length];
    counts[kind]++;
    switch (kind) {
      case 'success': {
        const r = await exchange(p.port, Buffer.concat([authReq(1, dest.ports.echo), Buffer.from('ping')]), 2 + 2 + 10 + 4);
        r.socket.destroy();
        return !r.error;
      }
      case 'refused': {
        const r = await exchange(p.port, authReq(1, closedPort), 14);
        r.socket.destroy();
        return !r.error && r.data[3 + 2] === 5;
      }
      case 'reset': {
        const r = await exchange(p.port, AUTH.subarray(0, 5), 2);
        r.socket.resetAndDestroy();
        return !r.error;
      }
      case 'badGreeting': {
        const r = await exchange(p.port, Buffer.from([5, 0]), 1, { timeout: 3000 });
        r.socket.destroy();
        return true;
      }
      case 'authFailure': {
        const r = await exchange(p.port, authReq(1, dest.ports.echo, 'nopenope'), 4);
        r.socket.destroy();
        return !r.error && r.data[3] !== 0;
      }
      case 'udp':
      case 'bind': {
        // Abandoned: UDP with a FIN (that ends the association), BIND with a
        // reset (a FIN is a half-close there: the BIND waits for its peer
        // until its deadline, 60 s by default, by design).
        const r = await exchange(p.port, authReq(kind === 'udp' ? 3 : 2, 0), 14);
        if (kind === 'bind' && !r.error) r.socket.resetAndDestroy();
        else r.socket.destroy();
        return !r.error && r.data[5] === 0;
      }
    }
  };
  // Warm-up (code paths compiled, the V8 heap grown to its working size:
  // RSS climbs for the first ~20 % of the run, then stays flat), then the baseline.
  await sleep(300);
  const rssFresh = p.rss();
  const warmup = Math.max(2000, Math.round(N_MIXED / 10));
  await pool(warmup, 50, one);
  for (const k of kinds) counts[k] = 0;
  await sleep(3000);
  const fd0 = p.fds();
  const rss0 = p.rss();
  const t0 = Date.now();
  const samples = [];
  /** Connections that did not end as their kind expects, by kind. */
  const failed = {};
  const res = await pool(N_MIXED, 50, (k) => {
    if (k % Math.ceil(N_MIXED / 10) === 0) samples.push(Math.round(MiB(p.rss())));
    const miss = (ok) => {
      if (!ok) failed[kinds[k % kinds.length]] = (failed[kinds[k % kinds.length]] ?? 0) + 1;
      return ok;
    };
    return one(k).then(miss, () => miss(false));
  });
  const seconds = (Date.now() - t0) / 1000;
  // Past every deadline (handshake/connect 2 s here).
  await sleep(4000);
  const fd1 = p.fds();
  const rss1 = p.rss();
  const stats = await p.stats();
  await p.stop();
  const out = { connections: N_MIXED, counts, asExpected: res.filter(Boolean).length, failed, seconds, fdStart: fd0, fdEnd: fd1, rssStartMiB: MiB(rss0), rssEndMiB: MiB(rss1), rssChange: (rss1 - rss0) / rss0, rssFreshMiB: MiB(rssFresh), warmup, rssSamplesMiB: samples, open: stats.open };
  log(`leaks: ${N_MIXED} connections in ${seconds.toFixed(0)} s; descriptors ${fd0} -> ${fd1}; RSS ${out.rssStartMiB.toFixed(1)} -> ${out.rssEndMiB.toFixed(1)} MiB (${(100 * out.rssChange).toFixed(1)} %); open ${stats.open}; not as expected: ${JSON.stringify(failed)}`);
  return out;
}

async function halfclose(dest) {
  const p = await startProxy();
  // Way 1: the client's FIN first, then a 1 MB reply must arrive whole.
  const way1 = await pool(100, 20, async () => {
    const r = await exchange(p.port, Buffer.concat([connectReq(dest.ports.halfA), Buffer.from('request')]), 12);
    if (r.error || r.data[1] !== 0) return false;
    const s = r.socket;
    let n = r.data.length - 12;
    s.end();
    return new Promise((resolve) => {
      s.on('data', (d) => (n += d.length));
      s.on('close', () => resolve(n === 1 << 20));
      setTimeout(() => (s.destroy(), resolve(false)), 15000);
    });
  });
  // Way 2: the destination's FIN first, then the client sends 1 MB, which must arrive whole.
  const way2 = await pool(100, 20, async () => {
    const r = await exchange(p.port, connectReq(dest.ports.halfB), 14);
    if (r.error || r.data[1] !== 0) return false;
    const s = r.socket;
    await new Promise((resolve) => (s.readableEnded ? resolve() : s.once('end', resolve).resume()));
    s.end(Buffer.alloc(1 << 20, 0x62));
    return new Promise((resolve) => {
      s.on('close', () => resolve(true));
      setTimeout(() => (s.destroy(), resolve(false)), 15000);
    });
  });
  await sleep(300);
  const got = (await dest.ask('stats')).halfB;
  await p.stop();
  const out = { clientFirst: way1.filter(Boolean).length, destinationFirst: got.filter((n) => n === 1 << 20).length, of: 100 };
  log(`half-close: client FIN first ${out.clientFirst}/100; destination FIN first ${out.destinationFirst}/100`);
  return out;
}

async function fuzz() {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const run = (env, file, seconds) => {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'), '--no-config', '--exit', '--timeout', '0', file], {
      cwd: ROOT,
      env: { ...process.env, ...env, SOCKSKIT_SEED: String(seed) },
      encoding: 'utf8',
      timeout: seconds ? seconds * 1000 : undefined,
      maxBuffer: 64 * 2 ** 20,
    });
    return { ok: r.status === 0, seconds: (Date.now() - t0) / 1000, out: (r.stdout + r.stderr).slice(-3000), timedOut: r.error?.code === 'ETIMEDOUT' };
  };
  const engine = run({ SOCKSKIT_RANDOM_CASES: String(FUZZ_CASES) }, 'dist/spec/fuzz/engine.spec.js', FUZZ_BUDGET_S);
  log(`fuzz: ${FUZZ_CASES} engine cases ${engine.ok ? 'passed' : 'FAILED'} in ${engine.seconds.toFixed(0)} s (seed ${seed})`);
  const socket = run({ SOCKSKIT_SOCKET_SESSIONS: String(FUZZ_SESSIONS) }, 'dist/spec/fuzz/socket.spec.js', FUZZ_BUDGET_S);
  const m = /(\d+) sessions in ([\d.]+) s/.exec(socket.out);
  log(`fuzz: ${FUZZ_SESSIONS} socket sessions ${socket.ok ? 'passed' : 'FAILED'} in ${socket.seconds.toFixed(0)} s`);
  if (!engine.ok) log(engine.out);
  if (!socket.ok) log(socket.out);
  return { seed, engine: { cases: FUZZ_CASES, ok: engine.ok, seconds: engine.seconds, usPerCase: (1e6 * engine.seconds) / FUZZ_CASES }, socket: { sessions: FUZZ_SESSIONS, ok: socket.ok, seconds: socket.seconds, msPerSession: m ? (1000 * Number(m[2])) / Number(m[1]) : (1000 * socket.seconds) / FUZZ_SESSIONS } };
}

// ------------------------------------------------------------ the report

// The code measured: the commit when the run started (and whether the tree differed from it).
const CODE = (() => {
  const r = spawnSync('git', ['log', '-1', '--format=%h %s'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  return `${r.stdout.trim().slice(0, 100)}${dirty ? ' (with uncommitted changes)' : ''}`;
})();

function report(res) {
  const f = (x, d = 1) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  const goal = (ok) => (ok ? 'meets' : '**misses**');
  const rows = [];
  const s = res.slowloris;
  if (s) {
    for (const n of Object.keys(s).filter((k) => /^\d+$/.test(k))) {
      const x = s[n];
      rows.push([`slowloris: ${n} stallers (${x.held} held), 200 CONNECT + echo`, `quiet p50 ${f(x.quiet.p50, 2)} / p99 ${f(x.quiet.p99, 2)} ms; with stallers p50 ${f(x.loaded.p50, 2)} / p99 ${f(x.loaded.p99, 2)} ms; ${x.loaded.failures} failures`, 'no failure, p99 < 2× quiet', goal(x.loaded.failures === 0 && x.loaded.p99 < 2 * x.quiet.p99)]);
    }
    const o = s.overLimit;
    rows.push([`slowloris over the limit: 1,500 reconnecting stallers, --max-connections 1000, a client every 100 ms (2 s per try)`, `${o.ok}/${o.tries} tries succeeded (${f(100 * o.share)} %); ${o.stallerReconnects} staller reconnects; ${o.evictionCode ? '--max-connections-per-source available' : 'no --max-connections-per-source flag in this build'}`, '≥ 95 %', goal(o.share >= 0.95)]);
  }
  const t = res.tunnels;
  if (t) {
    rows.push([`tunnels held on one core (taskset -c 1), ${t.tried} tried`, `${t.held} held (${t.refused} refused at the limit, ${t.noDescriptor} without a descriptor); RSS ${f(t.rssStartMiB)} → ${f(t.rssMiB)} MiB: ${f(t.kibPerTunnelMarginal, 2)} KiB per tunnel marginal (between the last two steps; RSS by tunnels held: ${t.steps.join(', ')}), ${f(t.kibPerTunnelAboveStart, 2)} KiB above the idle process, ${f(t.kibPerTunnelTotal, 2)} KiB as RSS / n; ${t.echoing}/${t.sampled} sampled still echo${t.workers ? '' : '; --workers not in this build'}`, 'all held up to the descriptor limit, ≤ 4 KiB each, sample echoes', goal(t.kibPerTunnelMarginal <= 4 && t.echoing === t.sampled)]);
  }
  const b = res.backpressure;
  if (b) {
    rows.push([`backpressure: ${f(MiB(b.bytes), 0)} MiB towards a destination that does not read, then reads`, `writes stalled after ${f(b.stalledAtMiB)} MiB; proxy RSS growth ${f(b.rssGrowthMiB, 2)} MiB while stalled (peak during the transfer that followed: +${f(b.rssGrowthWhileReadingMiB, 2)} MiB); ${b.arrived} bytes arrived, sha256 ${b.shaMatch ? 'equal' : 'different'}`, '< 16 MiB; every byte arrives', goal(b.rssGrowthMiB < 16 && b.shaMatch)]);
  }
  const l = res.leaks;
  if (l) {
    rows.push([`descriptors and memory: ${l.connections} mixed connections (${Object.entries(l.counts).map(([k, n]) => `${n} ${k}`).join(', ')})`, `descriptors ${l.fdStart} → ${l.fdEnd}; RSS ${f(l.rssFreshMiB)} MiB fresh, ${f(l.rssStartMiB)} after a warm-up of ${l.warmup} connections → ${f(l.rssEndMiB)} MiB (${f(100 * l.rssChange)} %; every 10 %: ${l.rssSamplesMiB.join(', ')} MiB); ${l.open} open at the end; ${f(l.seconds, 0)} s`, 'descriptors back, RSS within 10 %', goal(l.fdEnd <= l.fdStart && Math.abs(l.rssChange) <= 0.1 && l.open === 0)]);
  }
  const h = res.halfclose;
  if (h) rows.push(['half-close, 1 MB after the FIN', `client FIN first: ${h.clientFirst}/100; destination FIN first: ${h.destinationFirst}/100`, '100/100 each way', goal(h.clientFirst === 100 && h.destinationFirst === 100)]);
  const z = res.fuzz;
  if (z) {
    rows.push([`fuzz: ${z.engine.cases.toLocaleString('en')} engine cases (seed ${z.seed})`, `${z.engine.ok ? 'passed, no error' : 'FAILED'} in ${f(z.engine.seconds, 0)} s (${f(z.engine.usPerCase, 1)} µs per case)`, 'zero errors', goal(z.engine.ok)]);
    rows.push([`fuzz: ${z.socket.sessions.toLocaleString('en')} socket-level sessions (seed ${z.seed})`, `${z.socket.ok ? 'passed: no process-level error, descriptors and handles back' : 'FAILED'} in ${f(z.socket.seconds, 0)} s (${f(z.socket.msPerSession, 1)} ms per session, 32 at once)`, 'zero process-level errors', goal(z.socket.ok)]);
  }
  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return [
    `Run ${when}${QUICK ? ' (--quick)' : ''} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, code at \`${CODE}\`. Descriptor limit ${readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/)?.[1]}. The machine was shared with other builds and tests: latencies are indicative; counts, memory and success shares are the point.`,
    '',
    '| measurement | figures | goal | |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

// ------------------------------------------------------------ main

if (!existsSync(PROXY)) {
  log('build first: npm run build');
  process.exit(2);
}
const dest = await startDest();
const phases = { slowloris, tunnels, backpressure, leaks, halfclose, fuzz };
let failed = false;
for (const name of Object.keys(phases)) {
  if (!ONLY.includes(name)) continue;
  log(`${name}...`);
  try {
    results[name] = await phases[name](dest);
  } catch (err) {
    failed = true;
    log(`${name} failed: ${err.stack ?? err}`);
  }
}
dest.stop();
const table = report(results);
process.stdout.write(table + '\n');
process.stdout.write(JSON.stringify(results) + '\n');
if (!flag('no-doc') && existsSync(DOC)) {
  const doc = readFileSync(DOC, 'utf8');
  const begin = '<!-- soak:begin -->';
  const end = '<!-- soak:end -->';
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) {
    writeFileSync(DOC, `${doc.slice(0, i + begin.length)}\n${table}\n${doc.slice(j)}`);
    log(`figures written to docs/reliability.md`);
  }
}
process.exit(failed ? 1 : 0);
