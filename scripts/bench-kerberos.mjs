#!/usr/bin/env node
// node --expose-gc scripts/bench-kerberos.mjs [--warmup 2000] [--handshakes 10000] [--median 1000] [--mib 128]
//
// Kerberos (GSS-API) figures for docs/performance.md, on loopback, against a
// throwaway MIT KDC (the spec helper, dist/spec/support/kdc.js; run
// `npm run build` and `npm run build:kerberos` first):
//   1. RSS of the server process and of this (client) process before and
//      after a warm-up, then after each fifth of N sequential handshakes,
//      each side GC'd first;
//   2. the handshake time (connect() until the tunnel is open), median and
//      p90 over the first M of them;
//   3. throughput of one tunnel at level 2 (and level 1, and method 00 for
//      scale) through the server: MiB sent into a sink, timed to the last byte;
//   4. for reference, MIT's own gss_wrap/gss_unwrap rate on 65000-byte
//      messages in one process (what level 2 can reach at best).
// The server is a separate process: SocksServer with gssapiKerberos (keytab)
// and none, as sockskit-proxy --gssapi-keytab runs it.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = await import(pathToFileURL(path.join(ROOT, 'dist/lib/index.js')).href);
const { startKdc } = await import(pathToFileURL(path.join(ROOT, 'dist/spec/support/kdc.js')).href);
const { connect, gssapiKerberos, none } = lib;

const argv = process.argv.slice(2);
const arg = (n, d) => (argv.includes(`--${n}`) ? Number(argv[argv.indexOf(`--${n}`) + 1]) : d);
const N = arg('handshakes', 10000);
const M = Math.min(arg('median', 1000), N);
const MIB = arg('mib', 128);
const WARMUP = arg('warmup', 2000);
const log = (s) => process.stderr.write(`bench-kerberos: ${s}\n`);
const rssOf = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const MiB = (b) => (b / 2 ** 20).toFixed(1);
const pct = (a, q) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(q * a.length))];

const SERVER = `
import { SocksServer, gssapiKerberos, none } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/lib/index.js')).href)};
const server = new SocksServer({ methods: [gssapiKerberos({ keytab: process.env.BENCH_KEYTAB, replayCache: 'none:', protection: ['confidentiality', 'integrity', 'selective'] }), none()] });
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
process.stdin.setEncoding('utf8').on('data', () => { globalThis.gc(); globalThis.gc(); setTimeout(() => console.log('gc'), 200); });
`;

async function startServer(env) {
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', SERVER], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const lines = [];
  let wake;
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) { lines.push(out.slice(0, i)); out = out.slice(i + 1); wake?.(); }
  });
  const next = async () => {
    const end = Date.now() + 10000;
    while (!lines.length && Date.now() < end) await new Promise((r) => { wake = r; setTimeout(r, 100); });
    if (!lines.length) throw new Error('server did not answer');
    return lines.shift();
  };
  const port = Number((await next()).split(' ')[1]);
  return { child, port, gc: async () => { child.stdin.write('gc\n'); await next(); return rssOf(child.pid); } };
}

function sink() {
  const state = { received: 0, server: undefined, port: 0, done: undefined };
  state.server = net.createServer((s) => s.on('data', (d) => { state.received += d.length; state.done?.(); }));
  return new Promise((r) => state.server.listen(0, '127.0.0.1', () => { state.port = state.server.address().port; r(state); }));
}

async function handshakes(port, target, ccache, n, times) {
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const res = await connect({ proxy: { host: 'localhost', port }, destination: { host: '127.0.0.1', port: target }, methods: [gssapiKerberos({ ccache })], handshakeTimeout: 10000 });
    times?.push(Number(process.hrtime.bigint() - t0) / 1e6);
    res.socket.destroy();
  }
}

async function throughput(port, target, method, bytes) {
  const res = await connect({ proxy: { host: 'localhost', port }, destination: { host: '127.0.0.1', port: target.port }, methods: [method], handshakeTimeout: 10000 });
  target.received = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const t0 = process.hrtime.bigint();
  const finished = new Promise((r) => { target.done = () => { if (target.received >= bytes) r(); }; });
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!res.socket.write(chunk)) await new Promise((r) => res.socket.once('drain', r));
  }
  await finished;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  res.socket.destroy();
  return bytes / 2 ** 20 / s;
}

/** gss_wrap then gss_unwrap of 500 × 65000 bytes, in this process, per conf flag. */
async function rawWrapRate(keytab, ccache) {
  const { loadNative } = await import(pathToFileURL(path.join(ROOT, 'dist/methods/gssapi/kerberos/native.js')).href);
  const { INITIATOR_FLAGS } = await import(pathToFileURL(path.join(ROOT, 'dist/methods/gssapi/kerberos/context.js')).href);
  const gss = loadNative();
  const ic = await gss.acquireCredential({ usage: 'initiate', ccache });
  const ac = await gss.acquireCredential({ usage: 'accept', keytab, rcache: 'none:' });
  const name = new gss.Name('rcmd@localhost', 'hostbased');
  const c = new gss.SecurityContext();
  const s = new gss.SecurityContext();
  const r1 = await c.initSecContext(ic, name, INITIATOR_FLAGS, null);
  await c.initSecContext(ic, name, INITIATOR_FLAGS, (await s.acceptSecContext(ac, r1.token)).token);
  const data = Buffer.alloc(65000, 1);
  const rate = (t0, n) => (n * data.length / 2 ** 20 / (Number(process.hrtime.bigint() - t0) / 1e9)).toFixed(0);
  for (const conf of [true, false]) {
    let t0 = process.hrtime.bigint();
    const tokens = [];
    for (let i = 0; i < 500; i++) tokens.push(c.wrap(data, conf).token);
    const w = rate(t0, 500);
    t0 = process.hrtime.bigint();
    for (const t of tokens) s.unwrap(t);
    console.log(`MIT gss_wrap/gss_unwrap conf=${conf}: ${w} / ${rate(t0, 500)} MiB/s (one process)`);
  }
  for (const o of [c, s, ic, ac, name]) o.release();
}

const kdc = await startKdc();
let server;
try {
  await kdc.addPrincipal('alice', 'alice-pw');
  await kdc.addPrincipal('rcmd/localhost');
  const keytab = await kdc.keytab('bench.keytab', ['rcmd/localhost']);
  const ccache = await kdc.kinit('alice', 'alice-pw', 'alice.ccache');
  server = await startServer({ ...kdc.env, BENCH_KEYTAB: keytab });
  const target = await sink();
  const start = { server: await server.gc(), client: rssOf(process.pid) };
  log(`warm-up ${WARMUP} handshakes`);
  await handshakes(server.port, target.port, ccache, WARMUP);
  globalThis.gc?.();
  const before = { server: await server.gc(), client: rssOf(process.pid) };
  const times = [];
  log(`${N} handshakes`);
  const t0 = Date.now();
  const steps = [];
  for (let done = 0; done < N; ) {
    const n = Math.min(N / 5, N - done);
    await handshakes(server.port, target.port, ccache, n, times);
    done += n;
    globalThis.gc?.();
    steps.push(`${done}: server ${MiB(await server.gc())}, client ${MiB(rssOf(process.pid))}`);
  }
  const wall = (Date.now() - t0) / 1000;
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 300));
  const after = { server: await server.gc(), client: rssOf(process.pid) };
  const first = times.slice(0, M);
  console.log(`handshakes: ${N} in ${wall.toFixed(1)} s (${(N / wall).toFixed(0)}/s, sequential)`);
  console.log(`handshake ms over the first ${M}: median ${pct(first, 0.5).toFixed(2)}, p90 ${pct(first, 0.9).toFixed(2)}, p99 ${pct(first, 0.99).toFixed(2)}`);
  console.log(`RSS MiB after each fifth: ${steps.join('; ')}`);
  console.log(`RSS before the warm-up: server ${MiB(start.server)}, client ${MiB(start.client)} MiB; after ${WARMUP}: server ${MiB(before.server)}, client ${MiB(before.client)}`);
  console.log(`RSS server: ${MiB(before.server)} → ${MiB(after.server)} MiB (+${MiB(after.server - before.server)}); client: ${MiB(before.client)} → ${MiB(after.client)} MiB (+${MiB(after.client - before.client)})`);
  const bytes = MIB * 2 ** 20;
  for (const [name, method] of [['level 2 (confidentiality)', gssapiKerberos({ ccache, protection: 'confidentiality' })], ['level 1 (integrity)', gssapiKerberos({ ccache, protection: 'integrity' })], ['method 00 (no auth)', none()]]) {
    const rates = [];
    for (let i = 0; i < 3; i++) rates.push(await throughput(server.port, target, method, bytes));
    console.log(`throughput ${name}: ${pct(rates, 0.5).toFixed(0)} MiB/s (median of 3 × ${MIB} MiB; ${rates.map((r) => r.toFixed(0)).join(', ')})`);
  }
  target.server.close();
  await rawWrapRate(keytab, ccache);
} finally {
  server?.child.kill();
  await kdc.stop();
}
