/** Raw-socket helpers for the BIND and UDP ASSOCIATE specs: every wait is bounded. */
import net from 'node:net';
import dgram from 'node:dgram';
import type { SocksServerOptions } from '../../lib/server/server.js';
import { startSocksServer, type StartedServer } from './socks-server.js';

export function startServer(options: SocksServerOptions = {}, host = '127.0.0.1'): Promise<StartedServer> {
  return startSocksServer(options, host);
}

/** A TCP connection whose bytes are read by exact counts with deadlines. */
export class Conn {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  ended = false;
  closed = false;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number, opts: { host?: string; localAddress?: string } = {}): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: opts.host ?? '127.0.0.1', port, localAddress: opts.localAddress, allowHalfOpen: true });
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private until(cond: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (cond()) {
          clearTimeout(t);
          resolve();
          return true;
        }
        return false;
      };
      const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what} (have ${this.buf.length} bytes)`)), ms);
      const loop = () => {
        if (!check()) this.waiters.push(loop);
      };
      loop();
    });
  }

  /** Exactly n bytes, or an error on timeout / early close. */
  async read(n: number, ms = 3000): Promise<Buffer> {
    await this.until(() => this.buf.length >= n || this.ended || this.closed, ms, `${n} bytes`);
    if (this.buf.length < n) throw new Error(`connection ended with ${this.buf.length} of ${n} bytes`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Whatever arrived so far (not waiting). */
  take(): Buffer {
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** Resolves when the peer has closed or ended the connection. */
  whenClosed(ms = 3000): Promise<void> {
    return this.until(() => this.closed || this.ended, ms, 'close');
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A UDP socket with a bounded receive. */
export class Udp {
  private queue: { msg: Buffer; from: dgram.RemoteInfo }[] = [];
  private waiter: (() => void) | undefined;
  constructor(readonly socket: dgram.Socket) {
    socket.on('message', (msg, from) => {
      this.queue.push({ msg, from });
      this.waiter?.();
    });
  }

  static async open(host = '127.0.0.1', port = 0): Promise<Udp> {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((r) => s.bind(port, host, () => r()));
    return new Udp(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(msg: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(msg, port, host, (err) => (err ? reject(err) : resolve())));
  }

  /** The next datagram, or undefined after `ms`. */
  recv(ms = 2000): Promise<{ msg: Buffer; from: dgram.RemoteInfo } | undefined> {
    const next = this.queue.shift();
    if (next) return Promise.resolve(next);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, ms);
      this.waiter = () => {
        clearTimeout(t);
        this.waiter = undefined;
        resolve(this.queue.shift());
      };
    });
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      /* closed */
    }
  }
}

/** A UDP echo target: answers every datagram with "echo:" + payload. */
export async function udpEcho(host = '127.0.0.1'): Promise<Udp & { received: Buffer[] }> {
  const u = (await Udp.open(host)) as Udp & { received: Buffer[] };
  u.received = [];
  u.socket.on('message', (msg, from) => {
    u.received.push(msg);
    u.socket.send(Buffer.concat([Buffer.from('echo:'), msg]), from.port, from.address);
  });
  return u;
}

/** Port of a SOCKS5 reply's BND (IPv4 reply: bytes 8-9). */
export function replyPort(reply: Buffer): number {
  return reply.readUInt16BE(reply.length - 2);
}

export function portHex(port: number): string {
  return port.toString(16).padStart(4, '0').replace(/(..)(..)/, '$1 $2');
}

/**
 * Greeting (no auth) + UDP ASSOCIATE with DST 0.0.0.0:0 through a server on
 * 127.0.0.1, and a client datagram socket; both are registered in `cleanup`.
 */
export async function openAssociation(port: number, cleanup: (() => unknown)[]): Promise<{ c: Conn; relay: number; cl: Udp }> {
  const c = await Conn.open(port);
  cleanup.push(() => c.destroy());
  // 05 01 00 (no auth), then 05 03 00 01 0.0.0.0 port 0
  c.write(Buffer.from([5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
  const greeting = await c.read(2);
  if (greeting[0] !== 5 || greeting[1] !== 0) throw new Error(`unexpected method reply ${greeting.toString('hex')}`);
  const reply = await c.read(10);
  if (reply[1] !== 0) throw new Error(`UDP ASSOCIATE refused: ${reply.toString('hex')}`);
  const cl = await Udp.open();
  cleanup.push(() => cl.close());
  return { c, relay: reply.readUInt16BE(8), cl };
}
