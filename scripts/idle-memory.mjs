#!/usr/bin/env node
// node scripts/idle-memory.mjs [--steps 1000,3000,5000] [--settle 3000] [--rounds 1]
//                              [--proxy dist/examples/proxy.js] [--node-args "--expose-gc"]
//                              [--command "node other-server.js {PORT}"] [-- extra proxy arguments]
// Memory held per idle tunnel: starts the proxy (access log to /dev/null) and
// an echo target on loopback, opens tunnels through the proxy (SOCKS5 no-auth
// handshake, CONNECT, one 64-byte echo each) up to each step, lets the proxy
// settle and reads its PSS and RSS from /proc/PID/smaps_rollup. Prints the
// marginal KiB per tunnel between the first and the last step (after a
// warm-up: --warm N tunnels opened and closed first). Bounded: at
// most 20,000 tunnels, a 120 s cap per step; everything it starts is stopped.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync, openSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const own = dd >= 0 ? argv.slice(0, dd) : argv;
const extra = dd >= 0 ? argv.slice(dd + 1) : [];
const arg = (n, d) => {
  const i = own.indexOf(`--${n}`);
  return i >= 0 ? own[i + 1] : d;
};
const STEPS = arg('steps', '1000,3000,5000').split(',').map(Number);
const SETTLE_MS = Number(arg('settle', 3000));
const ROUNDS = Math.min(5, Number(arg('rounds', 1)));
const PROXY = path.resolve(ROOT, arg('proxy', 'dist/examples/proxy.js'));
// Another server to compare with: a command line, {PORT} replaced by the port it must listen on (127.0.0.1).
const COMMAND = arg('command', '');
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);
// --snapshots DIR: the proxy writes a heap snapshot into DIR at every step (after the PSS is read).
const SNAP_DIR = arg('snapshots', '');
// Tunnels opened and closed before the steps (0: none), as the shared benchmark's idle test comes after
// others. The figure then depends on when V8 collects (0.7 to 6 KiB by round for the same build): off by default.
const WARM = Number(arg('warm', 0));
const PARALLEL = 64;
const STEP_CAP_MS = 120_000;
if (Math.max(...STEPS) > 20_000 || STEPS.some((s, i) => i > 0 && s <= STEPS[i - 1])) {
  throw new Error('steps must rise and stay at or under 20,000');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`idle-memory: ${s}\n`);

function rollup(pid) {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { pss: kib('Pss'), rss: kib('Rss') };
}

function echoServer() {
  const sockets = [];
  const srv = net.createServer((s) => {
    sockets.push(s);
    s.on('data', (d) => s.write(d));
    s.on('error', () => {});
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, sockets })));
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function startProxy(port) {
  const out = openSync('/dev/null', 'w');
  const snap = SNAP_DIR ? ['--heapsnapshot-signal=SIGUSR2'] : [];
  const [file, ...args] = COMMAND
    ? COMMAND.split(' ').filter(Boolean).map((w) => w.replaceAll('{PORT}', String(port))).flatMap((w) => (w === 'node' ? [process.execPath, ...snap] : [w]))
    : [process.execPath, ...NODE_ARGS, ...snap, PROXY, '--listen', `127.0.0.1:${port}`, ...extra];
  const child = spawn(file, args, {
    stdio: ['ignore', out, out],
    cwd: SNAP_DIR || ROOT,
  });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) return child;
    if (child.exitCode !== null) throw new Error(`proxy exited with ${child.exitCode}`);
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('proxy did not listen within 10 s');
}

/** One tunnel: greeting, CONNECT to the echo port, 64 bytes there and back. */
function tunnel(proxyPort, echoPort) {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxyPort, '127.0.0.1');
    const ping = Buffer.alloc(64, 0x61);
    const req = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, echoPort >> 8, echoPort & 255]);
    let got = Buffer.alloc(0);
    let stage = 0;
    const timer = setTimeout(() => (s.destroy(), reject(new Error('tunnel timed out'))), 10_000);
    s.on('error', (e) => (clearTimeout(timer), reject(e)));
    s.on('connect', () => s.write(Buffer.concat([Buffer.from([5, 1, 0]), req])));
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (stage === 0 && got.length >= 12) {
        if (got[1] !== 0 || got[3] !== 0) return reject(new Error(`refused: ${got.subarray(0, 12).toString('hex')}`));
        got = got.subarray(12);
        stage = 1;
        s.write(ping);
      }
      if (stage === 1 && got.length >= 64) {
        stage = 2;
        clearTimeout(timer);
        s.removeAllListeners('data');
        resolve(s);
      }
    });
  });
}

/** Objects in a heap snapshot file, by type and constructor: count and bytes (self size). */
function heapCensus(file) {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  const f = j.snapshot.meta.node_fields;
  const [nf, ti, ni, si] = [f.length, f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const types = j.snapshot.meta.node_types[0];
  const census = new Map();
  for (let i = 0; i < j.nodes.length; i += nf) {
    const type = types[j.nodes[i + ti]];
    const key = /string|number|code/.test(type) ? `(${type})` : `${type} ${String(j.strings[j.nodes[i + ni]]).slice(0, 40)}`;
    const e = census.get(key) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += j.nodes[i + si];
    census.set(key, e);
  }
  return census;
}

/** Live heap per tunnel between the first and the last snapshot, and the constructors that grew most. */
function heapDiff(files, tunnels) {
  const [a, b] = [heapCensus(files[0]), heapCensus(files.at(-1))];
  const rows = [...b].map(([k, v]) => ({ k, n: (v.n - (a.get(k)?.n ?? 0)) / tunnels, bytes: (v.bytes - (a.get(k)?.bytes ?? 0)) / tunnels }));
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((t, r) => t + r.bytes, 0);
  console.log(`heap: ${total.toFixed(0)} bytes of live objects per tunnel (snapshots at ${STEPS[0]} and ${STEPS.at(-1)})`);
  for (const r of rows.slice(0, 30)) if (Math.abs(r.bytes) >= 8) console.log(`  ${r.n.toFixed(2).padStart(6)} ${r.bytes.toFixed(0).padStart(5)} B  ${r.k}`);
}

/** Signals the proxy to write a heap snapshot and waits (up to 60 s) until the file stops growing. */
async function snapshot(pid) {
  const before = new Set(readdirSync(SNAP_DIR));
  process.kill(pid, 'SIGUSR2');
  let last = -1;
  for (let i = 0; i < 120; i++) {
    await sleep(500);
    const f = readdirSync(SNAP_DIR).find((n) => n.endsWith('.heapsnapshot') && !before.has(n));
    if (!f) continue;
    const size = statSync(path.join(SNAP_DIR, f)).size;
    if (size > 0 && size === last) return path.join(SNAP_DIR, f);
    last = size;
  }
  throw new Error('no heap snapshot within 60 s');
}

async function openUpTo(n, held, proxyPort, echoPort) {
  const deadline = Date.now() + STEP_CAP_MS;
  while (held.length < n) {
    if (Date.now() > deadline) throw new Error(`step ${n}: over ${STEP_CAP_MS} ms`);
    const batch = Math.min(PARALLEL, n - held.length);
    held.push(...(await Promise.all(Array.from({ length: batch }, () => tunnel(proxyPort, echoPort)))));
  }
}

async function round(echo) {
  const port = await freePort();
  const proxy = await startProxy(port);
  const held = [];
  const rows = [];
  const snaps = [];
  try {
    if (WARM > 0) {
      await openUpTo(WARM, held, port, echo.srv.address().port);
      for (const s of held.splice(0)) s.destroy();
      for (const s of echo.sockets.splice(0)) s.destroy();
      await sleep(SETTLE_MS);
    }
    for (const step of STEPS) {
      await openUpTo(step, held, port, echo.srv.address().port);
      await sleep(SETTLE_MS);
      rows.push({ step, ...rollup(proxy.pid) });
      log(`${step} tunnels: PSS ${rows.at(-1).pss} KiB, RSS ${rows.at(-1).rss} KiB`);
      if (SNAP_DIR) snaps.push(await snapshot(proxy.pid));
    }
  } finally {
    for (const s of held) s.destroy();
    proxy.kill('SIGKILL');
    for (const s of echo.sockets.splice(0)) s.destroy();
  }
  if (snaps.length > 1) heapDiff(snaps, STEPS.at(-1) - STEPS[0]);
  const [a, b] = [rows[0], rows.at(-1)];
  const per = (k) => (b[k] - a[k]) / (b.step - a.step);
  return { pss: per('pss'), rss: per('rss') };
}

const echo = await echoServer();
try {
  for (let r = 1; r <= ROUNDS; r++) {
    const m = await round(echo);
    console.log(`round ${r}: ${m.pss.toFixed(2)} KiB PSS, ${m.rss.toFixed(2)} KiB RSS per idle tunnel ` +
      `(${STEPS[0]} -> ${STEPS.at(-1)})`);
  }
} finally {
  echo.srv.close();
}
