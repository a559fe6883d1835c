/**
 * Helpers for the server adapter specs: a raw byte-level client, tiny
 * targets on 127.0.0.1:0, bounded waits, and a listener whose accept queue
 * is full (to make a loopback connect hang honestly).
 */
import net from 'node:net';
import { spawn, ChildProcess } from 'node:child_process';

/** A client that writes raw bytes and reads exactly what it is told to. */
export class RawClient {
  private buf = Buffer.alloc(0);
  ended = false;
  closed = false;
  private wake: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, allowHalfOpen: true });
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w();
  }

  private async until(cond: () => boolean, timeout: number, what: string): Promise<void> {
    const end = Date.now() + timeout;
    while (!cond()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeout} ms waiting for ${what}; have ${this.buf.toString('hex')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  write(data: Buffer | string): this {
    this.socket.write(data);
    return this;
  }

  /** Exactly n bytes; fails if the connection ends first. */
  async read(n: number, timeout = 5000): Promise<Buffer> {
    await this.until(() => this.buf.length >= n || this.ended || this.closed, timeout, `${n} bytes`);
    if (this.buf.length < n) throw new Error(`connection ended after ${this.buf.length} of ${n} bytes: ${this.buf.toString('hex')}`);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Everything up to the peer's FIN (or close). */
  async readToEnd(timeout = 5000): Promise<Buffer> {
    await this.until(() => this.ended || this.closed, timeout, 'end of stream');
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  async waitClosed(timeout = 5000): Promise<void> {
    await this.until(() => this.closed, timeout, 'close');
  }

  get pending(): number {
    return this.buf.length;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Bounded polling lives in helpers.ts; re-exported for the server specs. */
export { waitFor } from './helpers.js';

export interface Target {
  port: number;
  server: net.Server;
  sockets: net.Socket[];
  close(): Promise<void>;
}

/** A TCP server on host:0 (half-open allowed) running `onConnection` for each client. */
export async function startTarget(onConnection: (s: net.Socket) => void, host = '127.0.0.1', port = 0): Promise<Target> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Echoes everything and ends when the client ends. */
export const echo = (s: net.Socket) => s.pipe(s);

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
export async function closedPort(): Promise<number> {
  const t = await startTarget(() => {});
  await t.close();
  return t.port;
}

/**
 * A listener that never accepts: a child process listens with backlog 1 and
 * blocks its event loop, and we fill its accept queue. Linux then drops new
 * SYNs to it, so a connect hangs in SYN-SENT (a real connect timeout, on
 * loopback only). `ok` is false if the queue could not be filled.
 */
export async function fullBacklog(): Promise<{ port: number; ok: boolean; close(): void }> {
  const code = `const net=require('net');const s=net.createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,30000);process.exit(0)})`;
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('backlog helper did not start')), 5000);
    child.stdout!.once('data', (d) => {
      clearTimeout(t);
      resolve(Number(String(d).trim()));
    });
  });
  const fillers: net.Socket[] = [];
  let ok = false;
  for (let i = 0; i < 8 && !ok; i++) {
    const connected = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      fillers.push(s);
      s.on('error', () => {});
      const t = setTimeout(() => resolve(false), 300);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    if (!connected) ok = true;
  }
  return {
    port,
    ok,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

/** Writes `bytes` to a new connection, ends it after `keepOpenMs`, and resolves with everything read until close (3 s at most). */
export function talk(port: number, bytes: Buffer, keepOpenMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const t = setTimeout(() => c.destroy(), 3000);
    c.on('data', (d) => (got = Buffer.concat([got, d])));
    c.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
    c.on('error', reject);
    c.write(bytes);
    setTimeout(() => c.end(), keepOpenMs);
  });
}
