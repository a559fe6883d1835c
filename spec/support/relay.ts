/** Shared by the relay specs: a SocksServer and targets on 127.0.0.1, paced senders and hashing receivers. */
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { expect } from 'chai';
import { SocksServer, SocksServerOptions } from '../../lib/server/server.js';
import { encodeRequest } from '../../lib/protocol/codec/index.js';
import { connect } from '../../lib/client/connect.js';
import { gssapiPsk } from '../../methods/gssapi/index.js';
import { readerTuning, readBuffersInUse } from '../../lib/transport/socket-reader.js';
import { hex, sleep } from './helpers.js';
import { waitFor, startTarget, Target } from './server.js';
import { startSocksServer, type StartedServer } from './socks-server.js';

export const LOCAL = '127.0.0.1';
export const KEY = Buffer.from('5f1e0a7c3b2d49e8a6c4b1f0d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0', 'hex');

export let servers: SocksServer[] = [];
export let targets: Target[] = [];
export let sockets: Duplex[] = [];

export function startServer(options: SocksServerOptions = {}): Promise<StartedServer> {
  return startSocksServer(options, LOCAL, servers);
}

export async function cleanup(): Promise<void> {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await Promise.all(targets.map((t) => t.close()));
  servers = [];
  targets = [];
  sockets = [];
}

/** A target whose connections are handed out in order of arrival. */
export async function target(): Promise<{ port: number; next(): Promise<net.Socket> }> {
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
export async function tunnel(port: number, targetPort: number): Promise<net.Socket> {
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

export type Pace = 'fast' | 'slow';

/** Random bytes to send from: every chunk is a different slice of it. */
export const SOURCE = randomBytes(1 << 20);

/**
 * Writes `size` random bytes: fast = 64 KiB chunks as quickly as the stream
 * takes them (waits for 'drain' only), slow = 1..8 KiB chunks a millisecond
 * apart. `midway`, when given, is awaited after half the bytes (the other
 * direction ends meanwhile). Ends the stream; resolves with the sha256.
 */
export async function send(s: Duplex, size: number, pace: Pace, midway?: Promise<unknown>): Promise<string> {
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
export function receive(s: Duplex, pace: Pace): { ended: Promise<{ hash: string; bytes: number }> } {
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
export async function exchange(client: Duplex, dest: Duplex, writer: Pace, reader: Pace, first: 'client' | 'dest'): Promise<void> {
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

export const COMBOS: [Pace, Pace, 'client' | 'dest'][] = [];
for (const writer of ['fast', 'slow'] as const) for (const reader of ['fast', 'slow'] as const) for (const first of ['client', 'dest'] as const) COMBOS.push([writer, reader, first]);


/** The relay's read paths, each checked for integrity (readerTuning selects one). */
export const READ_PATHS = [
    { name: 'reused buffers, written without a copy', tuning: { adopt: true, zeroCopy: true, queue: 64 * 1024 } },
    { name: 'reused buffers, written without a copy, reading stops at every queued write', tuning: { adopt: true, zeroCopy: true, queue: 0 } },
    { name: 'reused buffers, copied', tuning: { adopt: true, zeroCopy: false, queue: 64 * 1024 } },
    { name: "accepted socket read by 'data' events (the fallback)", tuning: { adopt: false, zeroCopy: true, queue: 64 * 1024 } },
  
];

/**
 * sha256 both ways for every writer/reader pace and end order, through each
 * of `paths`, on a server with `server` options (default: the JavaScript
 * relay all the way, splice 'off': its read paths are what is checked).
 */
export function integrityAcrossPaths(paths: typeof READ_PATHS, server: SocksServerOptions = { splice: 'off' }): void {
  for (const p of paths) {
    describe(p.name, () => {
      let saved: ReturnType<typeof readerTuning>;
      before(() => (saved = readerTuning(p.tuning)));
      after(() => readerTuning(saved));
      for (const [writer, reader, first] of COMBOS) {
        it(`${writer} writers, ${reader} readers, the ${first} ends first`, async () => {
          const { server: s, port } = await startServer(server);
          const t = await target();
          const c = await tunnel(port, t.port);
          const d = await t.next();
          await exchange(c, d, writer, reader, first);
          await waitFor(() => s.connections === 0, 5000, 'the tunnel to close');
          await waitFor(() => readBuffersInUse() === 0, 2000, `read buffers given back (${readBuffersInUse()} held)`);
        });
      }
    });
  }

}

/** The same through GSS-API encapsulation (client and server wrap every byte). */
export function integrityThroughGssapi(): void {
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
}
