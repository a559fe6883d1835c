/**
 * The relay through a real SocksServer on 127.0.0.1: half-open tunnels are
 * freed (issue: a FIN and then silence kept a tunnel forever), and every byte
 * arrives intact (sha256 both ways) whatever the pace of writers and readers,
 * through each read path (reused buffers written without a copy, copies, and
 * the 'data' fallback for accepted sockets) and through GSS-API encapsulation.
 */
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { expect } from 'chai';
import { SocksServer, SocksServerOptions } from '../../lib/server/server.js';
import { connect } from '../../lib/client/connect.js';
import { gssapiPsk } from '../../methods/gssapi/index.js';
import { encodeRequest } from '../../lib/protocol/codec/index.js';
import { readerTuning, readBuffersInUse, dial } from '../../lib/transport/socket-reader.js';
import { relay, RelayCounter } from '../../lib/transport/relay.js';
import { hex, sleep } from '../support/helpers.js';
import { waitFor, startTarget, Target } from '../support/server.js';

const LOCAL = '127.0.0.1';
const KEY = Buffer.from('5f1e0a7c3b2d49e8a6c4b1f0d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0', 'hex');

let servers: SocksServer[] = [];
let targets: Target[] = [];
let sockets: Duplex[] = [];

async function startServer(options: SocksServerOptions = {}): Promise<{ server: SocksServer; port: number }> {
  const server = new SocksServer(options);
  server.on('clientError', () => {});
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, LOCAL, () => r()));
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function cleanup(): Promise<void> {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await Promise.all(targets.map((t) => t.close()));
  servers = [];
  targets = [];
  sockets = [];
}

/** A target whose connections are handed out in order of arrival. */
async function target(): Promise<{ port: number; next(): Promise<net.Socket> }> {
  const queue: net.Socket[] = [];
  const t = await startTarget((s) => queue.push(s), LOCAL);
  targets.push(t);
  return {
    port: t.port,
    async next() {
      await waitFor(() => queue.length > 0, 5000, 'the target connection');
      return queue.shift()!;
    },
  };
}

/**
 * A no-auth CONNECT through the proxy. Returns the client socket (paused, with
 * any tunnel bytes that came with the reply unshifted back) once the reply is in.
 */
async function tunnel(port: number, targetPort: number): Promise<net.Socket> {
  const s = net.connect({ port, host: LOCAL, allowHalfOpen: true });
  sockets.push(s);
  s.on('error', () => {});
  s.write(Buffer.concat([hex('05 01 00'), encodeRequest(1, { type: 'ipv4', host: LOCAL, port: targetPort })]));
  let buf = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 12) return;
      s.off('data', onData);
      s.pause();
      if (buf.length > 12) s.unshift(buf.subarray(12));
      resolve();
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error('closed during the handshake')));
  });
  expect(buf.subarray(0, 6).toString('hex')).to.equal('050005000001');
  return s;
}

type Pace = 'fast' | 'slow';

/** Random bytes to send from: every chunk is a different slice of it. */
const SOURCE = randomBytes(1 << 20);

/**
 * Writes `size` random bytes: fast = 64 KiB chunks as quickly as the stream
 * takes them (waits for 'drain' only), slow = 1..8 KiB chunks a millisecond
 * apart. `midway`, when given, is awaited after half the bytes (the other
 * direction ends meanwhile). Ends the stream; resolves with the sha256.
 */
async function send(s: Duplex, size: number, pace: Pace, midway?: Promise<unknown>): Promise<string> {
  const h = createHash('sha256');
  let sent = 0;
  let k = 0;
  let waited = !midway;
  while (sent < size) {
    if (!waited && sent >= size / 2) {
      await midway;
      waited = true;
    }
    const len = Math.min(size - sent, pace === 'fast' ? 65536 + (k % 7) * 1000 : 1024 + ((k * 2999) % 7168));
    const off = (k * 7919) % (SOURCE.length - len);
    const chunk = SOURCE.subarray(off, off + len);
    k++;
    h.update(chunk);
    sent += len;
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
    if (pace === 'slow') await sleep(1);
  }
  s.end();
  return h.digest('hex');
}

/** Reads to the end: fast = as it comes, slow = a 2 ms pause after every chunk. Resolves with the sha256 and the count. */
function receive(s: Duplex, pace: Pace): { ended: Promise<{ hash: string; bytes: number }> } {
  const h = createHash('sha256');
  let bytes = 0;
  const ended = new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
    s.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
      if (pace === 'slow') {
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
    });
    s.once('end', () => resolve({ hash: h.digest('hex'), bytes }));
    s.once('error', reject);
    s.once('close', () => reject(new Error(`closed before the end (${bytes} bytes)`)));
  });
  s.resume();
  return { ended };
}

/**
 * Both directions at once between `client` and `dest`: each writes at
 * `writer` pace while the other reads at `reader` pace. The side named
 * `first` ends first; the other sends half, waits for that FIN, then sends
 * the rest through the half-closed tunnel and ends.
 */
async function exchange(client: Duplex, dest: Duplex, writer: Pace, reader: Pace, first: 'client' | 'dest'): Promise<void> {
  const big = writer === 'fast' ? 3_000_001 : 200_003;
  const upSize = first === 'client' ? big : big + 1_000_000;
  const downSize = first === 'dest' ? big : big + 1_000_000;
  const atDest = receive(dest, reader);
  const atClient = receive(client, reader);
  const [upSent, downSent, up, down] = await Promise.all([
    send(client, upSize, writer, first === 'dest' ? atClient.ended : undefined),
    send(dest, downSize, writer, first === 'client' ? atDest.ended : undefined),
    atDest.ended,
    atClient.ended,
  ]);
  expect(up.bytes, 'bytes up').to.equal(upSize);
  expect(down.bytes, 'bytes down').to.equal(downSize);
  expect(up.hash, 'sha256 up').to.equal(upSent);
  expect(down.hash, 'sha256 down').to.equal(downSent);
}

const COMBOS: [Pace, Pace, 'client' | 'dest'][] = [];
for (const writer of ['fast', 'slow'] as const) for (const reader of ['fast', 'slow'] as const) for (const first of ['client', 'dest'] as const) COMBOS.push([writer, reader, first]);

describe('relay: half-open tunnels are freed after lingerTimeout', () => {
  afterEach(cleanup);

  it('the client sends FIN and the destination stays silent: both closed after the linger', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 300 });
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    d.resume(); // reads the FIN, never answers, never ends
    const t0 = Date.now();
    c.end();
    await waitFor(() => server.connections === 0 && server['upstreams'].size === 0, 4000, `the half-open tunnel to be freed (open: ${server.connections})`);
    expect(Date.now() - t0, 'not before the linger').to.be.at.least(250);
  });

  it('the destination sends FIN and the client stays silent: both closed after the linger', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 300 });
    const t = await target();
    const c = await tunnel(port, t.port);
    c.resume();
    const d = await t.next();
    d.end();
    await waitFor(() => server.connections === 0, 4000, `the half-open tunnel to be freed (open: ${server.connections})`);
  });

  it('a half-closed tunnel that still carries data is not cut: every byte arrives', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 300 });
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    const got = receive(c, 'fast');
    c.end(); // the client is done sending
    d.resume();
    // The destination answers in 20 pieces 100 ms apart: 2 s, far beyond the 300 ms linger.
    for (let i = 0; i < 20; i++) {
      d.write(Buffer.alloc(1000, i));
      await sleep(100);
    }
    d.end();
    const { bytes } = await got.ended;
    expect(bytes).to.equal(20000);
    await waitFor(() => server.connections === 0, 3000, 'the tunnel to close once both ends are done');
  });

  it('lingerTimeout 0 keeps a half-open tunnel', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 0 });
    const t = await target();
    const c = await tunnel(port, t.port);
    (await t.next()).resume();
    c.end();
    await sleep(500);
    expect(server.connections).to.equal(1);
  });
});

describe('relay: content integrity (sha256 both ways, half-close, every pace)', function () {
  this.timeout(60000);
  afterEach(cleanup);

  const paths = [
    { name: 'reused buffers, written without a copy', tuning: { adopt: true, zeroCopy: true, queue: 64 * 1024 } },
    { name: 'reused buffers, written without a copy, reading stops at every queued write', tuning: { adopt: true, zeroCopy: true, queue: 0 } },
    { name: 'reused buffers, copied', tuning: { adopt: true, zeroCopy: false, queue: 64 * 1024 } },
    { name: "accepted socket read by 'data' events (the fallback)", tuning: { adopt: false, zeroCopy: true, queue: 64 * 1024 } },
  ];
  for (const p of paths) {
    describe(p.name, () => {
      let saved: ReturnType<typeof readerTuning>;
      before(() => (saved = readerTuning(p.tuning)));
      after(() => readerTuning(saved));
      for (const [writer, reader, first] of COMBOS) {
        it(`${writer} writers, ${reader} readers, the ${first} ends first`, async () => {
          const { server, port } = await startServer();
          const t = await target();
          const c = await tunnel(port, t.port);
          const d = await t.next();
          await exchange(c, d, writer, reader, first);
          await waitFor(() => server.connections === 0, 5000, 'the tunnel to close');
          await waitFor(() => readBuffersInUse() === 0, 2000, `read buffers given back (${readBuffersInUse()} held)`);
        });
      }
    });
  }

  // The client library's socket closes its side at the proxy's FIN (no
  // allowHalfOpen), so through it only the client can end first.
  describe('GSS-API encapsulation (client and server wrap every byte)', () => {
    for (const [writer, reader, first] of COMBOS.filter((c) => c[2] === 'client')) {
      it(`${writer} writers, ${reader} readers, the ${first} ends first`, async () => {
        const { server, port } = await startServer({ methods: [gssapiPsk({ key: KEY })] });
        const t = await target();
        const res = await connect({ proxy: { host: LOCAL, port }, destination: { host: LOCAL, port: t.port }, methods: [gssapiPsk({ key: KEY })], handshakeTimeout: 5000 });
        sockets.push(res.socket);
        expect(res.encapsulation, 'the tunnel is encapsulated').to.not.equal(undefined);
        expect(res.head.length).to.equal(0);
        const d = await t.next();
        await exchange(res.socket, d, writer, reader, first);
        await waitFor(() => server.connections === 0, 5000, 'the tunnel to close');
      });
    }
  });
});

describe('relay: read buffers', function () {
  this.timeout(30000);
  afterEach(cleanup);

  it('an accepted client socket is read into reused buffers on this Node (not the fallback)', async () => {
    const { port } = await startServer();
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    d.pause(); // the destination does not read: the upload stalls with a read buffer held
    const chunk = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 64 && readBuffersInUse() === 0; i++) {
      c.write(chunk);
      await sleep(5);
    }
    expect(readBuffersInUse(), 'a streaming reader of the accepted socket holds its own buffer').to.be.at.least(1);
    c.destroy();
  });

  it('a tunnel that goes quiet after a burst holds no read buffer of its own', async () => {
    const { port } = await startServer();
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    const got = { up: 0, down: 0 };
    d.on('data', (b: Buffer) => (got.up += b.length));
    c.on('data', (b: Buffer) => (got.down += b.length));
    c.resume();
    const size = 4_000_003;
    for (let sent = 0; sent < size; sent += 100_001) {
      const n = Math.min(100_001, size - sent);
      const okC = c.write(SOURCE.subarray(0, n));
      const okD = d.write(SOURCE.subarray(1, n + 1));
      if (!okC) await new Promise((r) => c.once('drain', r));
      if (!okD) await new Promise((r) => d.once('drain', r));
    }
    await waitFor(() => got.up === size && got.down === size, 10000, `all bytes (up ${got.up}, down ${got.down})`);
    await waitFor(() => readBuffersInUse() === 0, 2000, `no buffer held by the quiet tunnel (${readBuffersInUse()})`);
    // Still open and still relaying.
    c.write('ping');
    await waitFor(() => got.up === size + 4, 2000, 'a byte after the quiet');
  });
});

describe('relay: counters', function () {
  this.timeout(20000);
  afterEach(cleanup);

  /** A connected pair on 127.0.0.1: [the relay's side, the test's side]; the relay's side is accepted or dial()ed. */
  async function pair(relaySide: 'accepted' | 'dialled'): Promise<[net.Socket, net.Socket]> {
    const t = await target();
    const out = relaySide === 'dialled' ? dial({ host: LOCAL, port: t.port, allowHalfOpen: true }) : net.connect({ host: LOCAL, port: t.port, allowHalfOpen: true });
    sockets.push(out);
    out.on('error', () => {});
    await new Promise((r) => out.once('connect', r));
    const acc = await t.next();
    return relaySide === 'dialled' ? [out, acc] : [acc, out];
  }

  it('counts the bytes each way (head included) and says why it tore the tunnel down', async () => {
    // client ⇄ [c1 | relay | u1] ⇄ upstream: c1 is an accepted socket, u1 a dialled one.
    const [c1, client] = await pair('accepted');
    const [u1, upstream] = await pair('dialled');
    const counter = { up: 0, down: 0 } as RelayCounter;
    relay(c1, u1, Buffer.from('head'), { counter, lingerTimeout: 200 });
    const atUp = receive(upstream, 'fast');
    const atClient = receive(client, 'fast');
    await Promise.all([send(client, 1_000_003, 'fast'), send(upstream, 2_000_001, 'slow')]);
    expect((await atUp.ended).bytes).to.equal(1_000_007);
    expect((await atClient.ended).bytes).to.equal(2_000_001);
    expect(counter).to.deep.equal({ up: 1_000_007, down: 2_000_001 });
    const [c2, client2] = await pair('accepted');
    const [u2, up2] = await pair('dialled');
    const counter2 = { up: 0, down: 0 } as RelayCounter;
    relay(c2, u2, Buffer.alloc(0), { counter: counter2, lingerTimeout: 200 });
    up2.resume();
    client2.end(); // then silence: freed by the linger
    await waitFor(() => c2.destroyed && u2.destroyed, 3000, 'the linger');
    expect(counter2.end).to.equal('linger');
  });
});
