/**
 * The Electrum connector: authenticate to a token-protected Electrum port
 * (bwt with --electrum-socks-auth, or sockskit-electrum-gateway) and speak
 * newline-delimited JSON-RPC over it (docs/protocols.md §3, §4).
 *
 *   via 'password'  SOCKS5 + RFC 1929 through connect() (any username, token as password)
 *   via 'hostname'  SOCKS5 no-auth, CONNECT to the token as a DOMAINNAME (12 bytes back)
 *   via 'raw'       bwt's documented byte string in one write, then exactly 14 bytes back
 *
 * The hostname path is done here rather than through connect() because the
 * destination *is* the secret, and connect() logs destinations.
 */
import net from 'node:net';
import dns from 'node:dns';
import type { Duplex } from 'node:stream';
import { TypedEventEmitter } from '../transport/typed-events.js';
import createDebug from 'debug';
import { connect, ClientLookup } from '../client/connect.js';
import { SocksError, AuthError, ReplyError, RemoteProtocolError, TimeoutError, LocalProtocolError } from '../protocol/errors.js';
import { Method, Reply } from '../protocol/constants.js';
import { userpass } from '../../methods/userpass.js';
import { checkToken } from './gate.js';

const debug = createDebug('sockskit:electrum-client');

export type ElectrumVia = 'password' | 'hostname' | 'raw';

export interface ElectrumConnectOptions {
  /** "HOST:PORT" or { host, port }. */
  server: string | { host: string; port: number };
  token: string;
  /** Default 'password'. */
  via?: ElectrumVia;
  /** RFC 1929 username on the password path (ignored by the server; default "sockskit"). */
  username?: string;
  /** Resolves the server's name (default dns.lookup). */
  lookup?: ClientLookup;
  signal?: AbortSignal;
  /** Connect plus handshake, ms (default 10 000; 0 = none). */
  timeout?: number;
}

export interface ElectrumStream {
  /** Authenticated: write JSON-RPC lines here. Paused until read. */
  socket: Duplex;
  /** Bytes the server sent right after the handshake (normally none). */
  head: Buffer;
}

const DEFAULT_TIMEOUT = 10000;
const OK_REPLY = Buffer.from([0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
const CONNECT_ANY = Buffer.from([0x05, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);

/** "host:port" / "[v6]:port" → { host, port }. */
function parseServer(server: ElectrumConnectOptions['server']): { host: string; port: number } {
  if (typeof server !== 'string') return server;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(server) ?? /^([^:]+):(\d+)$/.exec(server);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new LocalProtocolError(`expected HOST:PORT for the server, got ${JSON.stringify(server)}`);
  return { host: m[1]!, port };
}

/** bwt's documented client bytes (doc/auth.md): greeting, RFC 1929 with ULEN 0, CONNECT 0.0.0.0:0. */
export function rawAuthSequence(token: string): Buffer {
  const t = Buffer.from(token, 'utf8');
  return Buffer.concat([Buffer.from([0x05, 0x01, 0x02, 0x01, 0x00, t.length]), t, CONNECT_ANY]);
}

/** Authenticates to a token-protected Electrum port and returns the stream. */
export async function electrumConnect(options: ElectrumConnectOptions): Promise<ElectrumStream> {
  checkToken(options.token);
  const { host, port } = parseServer(options.server);
  const via = options.via ?? 'password';
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  const lookup = options.lookup ?? (dns.lookup as unknown as ClientLookup);
  // One deadline for dial + handshake, merged with the caller's signal.
  const signals = [options.signal, timeout > 0 ? AbortSignal.timeout(timeout) : undefined].filter((s): s is AbortSignal => !!s);
  const signal = signals.length ? AbortSignal.any(signals) : undefined;
  const deadline = (err: unknown) => (err instanceof DOMException && err.name === 'TimeoutError' ? new TimeoutError(`Electrum handshake with ${host}:${port}`, timeout) : err);
  signal?.throwIfAborted();
  debug('connecting to %s:%d via %s', host, port, via);

  if (via === 'password') {
    try {
      const r = await connect({
        proxy: { host, port, version: 5, methods: [userpass({ username: options.username ?? 'sockskit', password: options.token })] },
        destination: { host: '0.0.0.0', port: 0 },
        lookup,
        signal,
        connectTimeout: 0,
        handshakeTimeout: 0,
      });
      return { socket: r.socket, head: r.head };
    } catch (err) {
      throw deadline(err);
    }
  }
  if (via !== 'hostname' && via !== 'raw') throw new LocalProtocolError(`unknown --via ${JSON.stringify(via)} (password, hostname or raw)`);

  const sock = net.connect({ host, port, lookup: lookup as unknown as net.LookupFunction, noDelay: true });
  const reader = new ExactReader(sock, signal);
  try {
    await reader.connected();
    if (via === 'raw') {
      sock.write(rawAuthSequence(options.token));
      // 14 bytes in all, read as 4 + 10 so a refusal (05 02 01 01, close) is reported as such.
      const r = await reader.read(4, 'the method and password replies');
      if (r[0] !== 0x05 || r[1] !== Method.UsernamePassword) throw new AuthError(`server did not select username/password (got ${hexs(r.subarray(0, 2))})`);
      if (r[3] !== 0x00) throw new AuthError(`server rejected the token (status 0x${hexs(r.subarray(3, 4))})`, Method.UsernamePassword);
      checkReply(await reader.read(10, 'the CONNECT reply'), 'raw');
    } else {
      sock.write(Buffer.from([0x05, 0x01, Method.NoAuth]));
      const sel = await reader.read(2, 'the method selection');
      if (sel[0] !== 0x05 || sel[1] !== Method.NoAuth) throw new AuthError(`server refused the no-auth method (got ${hexs(sel)})`);
      const t = Buffer.from(options.token, 'utf8');
      sock.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x03, t.length]), t, Buffer.from([0x00, 0x01])]));
      const rep = await reader.read(10, 'the CONNECT reply');
      checkReply(rep, 'hostname');
    }
    return { socket: sock, head: reader.finish() };
  } catch (err) {
    reader.finish();
    sock.destroy();
    throw deadline(err);
  }
}

function checkReply(r: Buffer, via: ElectrumVia): void {
  if (r[0] !== 0x05) throw new RemoteProtocolError(`not a SOCKS5 reply (${hexs(r.subarray(0, 2))})`);
  if (r[1] === Reply.NotAllowedByRuleset && via === 'hostname') throw new AuthError('server rejected the token (REP 02)', Method.NoAuth);
  if (r[1] !== Reply.Succeeded) throw new ReplyError(r[1]!);
  // The token servers always answer BND 0.0.0.0:0 (ATYP 01); anything else would be mis-framed.
  if (r[3] !== 0x01) throw new RemoteProtocolError(`unexpected reply address type 0x${hexs(r.subarray(3, 4))} from a token server`);
  if (!r.equals(OK_REPLY)) debug('reply with a non-zero BND (accepted)');
}

function hexs(b: Buffer): string {
  return b.toString('hex').replace(/(..)(?=.)/g, '$1 ');
}

/** Reads exact byte counts from a socket, keeping whatever arrives beyond them. */
class ExactReader {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private error: unknown;
  private ended = false;

  constructor(private readonly sock: net.Socket, private readonly signal?: AbortSignal) {
    sock.on('data', this.onData);
    sock.on('error', this.onError);
    sock.on('end', this.onEnd);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private onData = (d: Buffer) => {
    this.buf = Buffer.concat([this.buf, d]);
    this.wake?.();
  };
  private onError = (err: Error) => {
    this.error ??= err;
    this.wake?.();
  };
  private onEnd = () => {
    this.ended = true;
    this.wake?.();
  };
  private onAbort = () => {
    this.error ??= this.signal!.reason;
    this.sock.destroy();
    this.wake?.();
  };

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.error) return reject(this.error);
      const check = () => {
        if (this.error) reject(this.error);
        else if (!this.sock.connecting) resolve();
        else return;
        this.wake = undefined;
        this.sock.off('connect', check);
      };
      this.wake = check;
      this.sock.once('connect', check);
      check();
    });
  }

  read(n: number, what: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.buf.length >= n) {
          const out = this.buf.subarray(0, n);
          this.buf = this.buf.subarray(n);
          this.wake = undefined;
          resolve(out);
        } else if (this.error) {
          this.wake = undefined;
          reject(this.error);
        } else if (this.ended || this.sock.destroyed) {
          this.wake = undefined;
          // bwt closes without a word on a wrong token.
          reject(new AuthError(`server closed the connection before ${what} (${this.buf.length} of ${n} bytes; wrong token?)`));
        }
      };
      this.wake = check;
      check();
    });
  }

  /** Detaches and returns bytes read beyond the handshake; the socket is left paused. */
  finish(): Buffer {
    this.sock.off('data', this.onData);
    this.sock.off('error', this.onError);
    this.sock.off('end', this.onEnd);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.sock.pause();
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }
}

// ------------------------------------------------------------- JSON-RPC

/** 16 MiB: far above any Electrum message (aiorpcx allows ~1 MB by default). */
const DEFAULT_MAX_LINE = 16 * 1024 * 1024;

/**
 * Splits a byte stream into newline-terminated lines of any length (Electrum
 * ≥ 4.6 pads to 1024 bytes and more). Scans each byte once; a line longer
 * than `maxLine` throws instead of growing without bound.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  constructor(readonly maxLine: number = DEFAULT_MAX_LINE) {}

  /** Returns the complete lines in `chunk` (without '\n'; a trailing '\r' is kept). */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.maxLine) throw this.tooLong();
      lines.push(this.parts.length ? Buffer.concat([...this.parts, piece]) : Buffer.from(piece));
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.size + rest.length > this.maxLine) throw this.tooLong();
      this.parts.push(rest);
      this.size += rest.length;
    }
    return lines;
  }

  /** Bytes of the unfinished line. */
  get pending(): number {
    return this.size;
  }

  private tooLong(): SocksError {
    return new RemoteProtocolError(`JSON-RPC line longer than ${this.maxLine} bytes`, { code: 'ERR_SOCKS_BUFFER_LIMIT', reply: 'none' });
  }
}

/** A JSON-RPC error from the server; `code` is undefined when the server sends a bare string (bwt). */
export class ElectrumRpcError extends Error {
  constructor(message: string, readonly rpcCode: number | undefined, readonly data?: unknown) {
    super(message);
    this.name = 'ElectrumRpcError';
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * A minimal Electrum JSON-RPC session over an authenticated stream: ids
 * from 0, compact JSON, one line per request. Notifications are emitted as
 * 'notification' (method, params). Any stream error or a bad line fails every
 * pending request.
 */
/** ElectrumSession's events: name → listener arguments. */
export interface ElectrumSessionEvents {
  /** A server notification (a line without id). */
  notification: [method: string, params: unknown];
}

export class ElectrumSession extends TypedEventEmitter<ElectrumSessionEvents> {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly lines: LineReader;
  private failed: unknown;

  constructor(readonly socket: Duplex, head: Buffer = Buffer.alloc(0), options: { maxLine?: number } = {}) {
    super();
    this.lines = new LineReader(options.maxLine);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new SocksError('ERR_SOCKS_CLOSED', 'the Electrum server closed the connection')));
    if (head.length) this.onData(head);
    socket.resume();
  }

  request(method: string, params: unknown[] = []): Promise<unknown> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(JSON.stringify({ jsonrpc: '2.0', method, id, params }) + '\n');
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    let lines: Buffer[];
    try {
      lines = this.lines.push(d);
    } catch (err) {
      this.fail(err);
      this.socket.destroy();
      return;
    }
    for (const line of lines) {
      if (line.toString('latin1').trim() === '') continue;
      let msg: { id?: unknown; result?: unknown; error?: unknown; method?: string; params?: unknown };
      try {
        msg = JSON.parse(line.toString('utf8'));
      } catch {
        this.fail(new RemoteProtocolError('the server sent a line that is not JSON', { reply: 'none' }));
        this.socket.destroy();
        return;
      }
      if (msg.id === undefined || msg.id === null) {
        if (msg.method) this.emit('notification', msg.method, msg.params);
        continue;
      }
      const p = this.pending.get(msg.id as number);
      if (!p) continue;
      this.pending.delete(msg.id as number);
      if (msg.error !== undefined && msg.error !== null) p.reject(rpcError(msg.error));
      else p.resolve(msg.result ?? null);
    }
  }

  private fail(err: unknown): void {
    this.failed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

function rpcError(e: unknown): ElectrumRpcError {
  if (typeof e === 'string') return new ElectrumRpcError(e, undefined);
  const o = (e ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  return new ElectrumRpcError(typeof o.message === 'string' ? o.message : JSON.stringify(e), typeof o.code === 'number' ? o.code : undefined, o.data);
}

export interface ElectrumCallOptions extends ElectrumConnectOptions {
  method: string;
  params?: unknown[];
  /** Sent with server.version when `method` is something else (it must come first). */
  clientName?: string;
  protocolVersion?: string | [string, string];
}

/**
 * One call on a fresh authenticated connection. server.version goes first
 * when another method is asked for, as the protocol requires.
 */
export async function electrumCall(options: ElectrumCallOptions): Promise<unknown> {
  const { socket, head } = await electrumConnect(options);
  const session = new ElectrumSession(socket, head);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => session.close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const work = (async () => {
      if (options.method !== 'server.version') {
        await session.request('server.version', [options.clientName ?? 'sockskit', options.protocolVersion ?? '1.4']);
      }
      return session.request(options.method, options.params ?? []);
    })();
    const limit = timeout > 0
      ? new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(`Electrum call ${options.method}`, timeout)), timeout);
        })
      : new Promise<never>(() => {});
    return await Promise.race([work, limit]);
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    session.close();
  }
}
