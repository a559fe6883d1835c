/**
 * A harness for adversarial server and client specs: servers, targets and
 * raw clients that cleanup() closes, a guard that collects uncaught errors,
 * open-handle counts, and a writer that fills a path until it stalls.
 * Everything on 127.0.0.1; every wait is bounded.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import { SocksServer, SocksServerOptions } from '../../lib/server/server.js';
import { encodeRequest } from '../../lib/protocol/codec/index.js';
import { RawClient, startTarget, Target } from './server.js';
import { waitFor } from './helpers.js';
import type { Rogue } from './rogue.js';
import { startSocksServer, type StartedServer } from './socks-server.js';

export const LOCAL = '127.0.0.1';

/** Everything a spec started, closed by cleanup() (use in afterEach). */
export let servers: SocksServer[] = [];
export let targets: Target[] = [];
export let clients: RawClient[] = [];
export let extra: (() => void)[] = [];
export let rogues: Rogue[] = [];

export function startServer(options: SocksServerOptions = {}): Promise<StartedServer> {
  return startSocksServer(options, LOCAL, servers);
}

export async function target(onConnection: (s: net.Socket) => void): Promise<Target> {
  const t = await startTarget(onConnection, LOCAL);
  targets.push(t);
  return t;
}

export async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

export async function drained(server: SocksServer, timeout = 5000): Promise<void> {
  await waitFor(() => server.connections === 0 && server.registry['upstreams'].size === 0, timeout, `connections 0 (have ${server.connections}, upstreams ${server.registry['upstreams'].size})`);
}

/** Uncaught exceptions and unhandled rejections seen while `f` runs (mocha's own handler is bypassed). */
export async function noCrash(f: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onErr = (e: unknown) => seen.push(e);
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onErr);
  try {
    await f();
  } finally {
    process.removeListener('uncaughtException', onErr);
    process.removeListener('unhandledRejection', onErr);
    for (const l of saved) process.on('uncaughtException', l);
  }
  return seen;
}

export const connect5 = (port: number) => encodeRequest(1, { type: 'ipv4', host: LOCAL, port });

/** TCP sockets, listeners and UDP sockets open in this process. */
export const handles = () => process.getActiveResourcesInfo().filter((x) => x === 'TCPSocketWrap' || x === 'TCPServerWrap' || x === 'UDPWrap').length;

export async function cleanup(): Promise<void> {
  for (const c of clients) c.destroy();
  for (const f of extra) f();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await Promise.all(targets.map((t) => t.close()));
  await Promise.all(rogues.map((r) => r.close()));
  rogues = [];
  servers = [];
  targets = [];
  clients = [];
  extra = [];
}

/**
 * Writes a counting pattern until the whole path is full (a write says stop
 * and no 'drain' follows within 150 ms), then ends. Resolves with the count.
 */
export async function fillAndEnd(s: net.Socket, cap = 256 * 1024 * 1024): Promise<number> {
  const CHUNK = 64 * 1024;
  let sent = 0;
  while (sent < cap) {
    const b = Buffer.alloc(CHUNK);
    for (let i = 0; i < CHUNK; i++) b[i] = (sent + i) % 251;
    sent += CHUNK;
    if (!s.write(b)) {
      const drained = await new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), 150);
        s.once('drain', () => {
          clearTimeout(t);
          r(true);
        });
      });
      if (!drained) break;
    }
  }
  s.end();
  return sent;
}

export function checkPattern(b: Buffer): number {
  for (let i = 0; i < b.length; i++) if (b[i] !== i % 251) return i;
  return -1;
}


/**
 * A socket-like Duplex: writes reach `sink` only after a delay (a full
 * kernel buffer), destroy() discards what is still queued (as closing a
 * socket does), and it closes itself once both directions are done.
 */
export function slowSocket(sink: Buffer[], delay = 30): Duplex {
  let dead = false;
  return new Duplex({
    allowHalfOpen: true,
    read() {},
    write(chunk: Buffer, _e, cb) {
      setTimeout(() => {
        if (!dead) sink.push(chunk);
        cb();
      }, delay);
    },
    destroy(err, cb) {
      dead = true;
      cb(err);
    },
  });
}
