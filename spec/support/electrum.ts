/**
 * Test helpers for the Electrum specs: a stand-in Electrum server, a raw TCP
 * exchange with bounded waits (programs are started with spec/support/interop.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { ROOT as PATHS_ROOT } from './paths.js';
import { startSocksServer } from './socks-server.js';
import { electrumTokenAuth } from '../../lib/electrum/gate.js';
import { relay } from '../../lib/transport/relay.js';

export const ROOT = PATHS_ROOT;
export const DIST = path.join(ROOT, 'dist');

/** A 25-character token in the generated alphabet. */
export const TOKEN = 'q7x2kz9m4t1v8w3b6n5c0pdfr';

export function tokenBytes(t = TOKEN): Buffer {
  const b = Buffer.from(t, 'utf8');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/**
 * The stand-in Electrum server: newline-delimited JSON-RPC on 127.0.0.1.
 * server.version → ["stand-in 1.0","1.4"], server.ping → null, else an error.
 * `received` keeps every line (without its newline) for assertions.
 */
export interface StandIn {
  port: number;
  received: string[];
  connections: number;
  /** With `tls`: the SNI name each connection sent (false: none), in order. */
  servernames: (string | false)[];
  /** With `tls`: handshakes that failed (the client gave up on the certificate, say). */
  tlsErrors: number;
  close(): Promise<void>;
}

/** With `tls` ({ key, cert } in PEM) the stand-in speaks TLS, like an Electrum "s" port. */
export async function startStandIn(opts: { tls?: tls.TlsOptions; port?: number } = {}): Promise<StandIn> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const servernames: (string | false)[] = [];
  const state = { connections: 0, tlsErrors: 0 };
  const onSocket = (s: net.Socket) => {
    state.connections++;
    if (s instanceof tls.TLSSocket) servernames.push((s as tls.TLSSocket & { servername: string | false }).servername);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        received.push(line);
        let msg: { id?: unknown; method?: string };
        try {
          msg = JSON.parse(line) as { id?: unknown; method?: string };
        } catch {
          s.destroy();
          return;
        }
        const base = { jsonrpc: '2.0', id: msg.id ?? null };
        const reply =
          msg.method === 'server.version' ? { ...base, result: ['stand-in 1.0', '1.4'] }
          : msg.method === 'server.ping' ? { ...base, result: null }
          : { ...base, error: { code: -32601, message: `unknown method ${msg.method}` } };
        s.write(JSON.stringify(reply) + '\n');
      }
    });
  };
  const server = opts.tls ? tls.createServer(opts.tls, onSocket) : net.createServer(onSocket);
  // The raw sockets too, so close() also ends TLS handshakes still in progress.
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  if (server instanceof tls.Server) {
    server.on('tlsClientError', (_err, s) => {
      state.tlsErrors++;
      s.destroy();
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    servernames,
    get connections() {
      return state.connections;
    },
    get tlsErrors() {
      return state.tlsErrors;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface Exchange {
  data: Buffer;
  closed: boolean;
}

/**
 * Connects, writes `chunks` (a short pause between them so they tend to
 * arrive separately), and resolves when `expect` bytes have arrived (then
 * waits `settle` ms for anything extra) or the server closed. Bounded by
 * `timeout`.
 */
export function exchange(port: number, chunks: Buffer[], opts: { expect?: number; settle?: number; timeout?: number; host?: string } = {}): Promise<Exchange> {
  const { expect, settle = 30, timeout = 4000, host = '127.0.0.1' } = opts;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host, noDelay: true });
    const got: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(got), closed });
    };
    const timer = setTimeout(() => {
      done = true;
      sock.destroy();
      reject(new Error(`exchange timed out after ${timeout} ms with ${size} bytes: ${Buffer.concat(got).toString('hex')}`));
    }, timeout);
    sock.on('data', (d: Buffer) => {
      got.push(d);
      size += d.length;
      if (expect !== undefined && size >= expect) setTimeout(() => finish(false), settle);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('connect', async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 3));
        if (done || sock.destroyed) return;
        sock.write(chunks[i]!);
      }
    });
  });
}

/** Long-running programs: startProgram() in interop.ts (run is its old name here). */
export { startProgram as run, type Proc } from './interop.js';

/** One JSON line (newline-terminated). */
export function jsonLine(obj: unknown): Buffer {
  return Buffer.from(JSON.stringify(obj) + '\n');
}

/** Electrum ≥ 4.6's first write: server.version padded with spaces to exactly 1024 bytes. */
export function paddedVersionRequest(): Buffer {
  const body = '{"jsonrpc":"2.0","method":"server.version","id":0,"params":["electrum/4.8.1",["1.4","1.6"]]';
  const pad = 1024 - body.length - 2;
  return Buffer.from(body + ' '.repeat(pad) + '}\n');
}

/** A stand-in Electrum server behind a token gateway (electrumTokenAuth relaying to it), both on loopback. */
export interface TokenGateway {
  backend: StandIn;
  /** The gateway's SOCKS port. */
  port: number;
  close(): Promise<void>;
}

export async function startTokenGateway(): Promise<TokenGateway> {
  const backend = await startStandIn();
  const gateway = await startSocksServer(electrumTokenAuth({
    token: TOKEN,
    onConnection: ({ socket, head }) => relay(socket, net.connect({ port: backend.port, host: '127.0.0.1' }), head),
  }));
  return {
    backend,
    port: gateway.port,
    close: async () => {
      await gateway.close();
      await backend.close();
    },
  };
}
