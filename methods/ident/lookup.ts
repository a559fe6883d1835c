/**
 * The Identification Protocol (ident), RFC 1413: a reply parser (pure,
 * incremental) and a client that asks the identd of a SOCKS client who owns
 * the connection. Used by methods/ident/method.ts for SOCKS4 (CD 5C/5D) and as an
 * identity source for SOCKS5 no-auth connections.
 *
 * "Server" in RFC 1413 is the host running identd, i.e. the SOCKS client.
 * A SOCKS server that accepted A:cport → B:sport connects from B to A:113
 * and asks:
 *
 *   <port-on-server> , <port-on-client> CRLF     here: "cport , sport\r\n"
 *
 * and reads one line:
 *
 *   <port-pair> : USERID : <opsys>[,<charset>] : <user-id> CRLF
 *   <port-pair> : ERROR : INVALID-PORT | NO-USER | HIDDEN-USER | UNKNOWN-ERROR | X<token> CRLF
 *
 * RFC 1413 rules kept here: white space (SP, TAB) may appear anywhere except
 * inside a token, but in a USERID reply everything after the colon that
 * follows the opsys field up to CRLF is the user id, leading spaces included
 * (`userId`; `user` is the same with surrounding white space removed, which is
 * what everyone compares). The user id is any octets but NUL, CR and LF
 * (at least 512 are accepted: the whole line may be 1000). Tokens are 1–64
 * characters; ports 1–5 digits in 1..65535. A client may give up after 1000
 * characters without an EOL (we do). A close before the EOL means
 * ERROR : UNKNOWN-ERROR. CRLF ends a line; a bare LF is accepted too.
 *
 * The RFC's own warning applies: ident says what the client host claims,
 * nothing more; it is not authentication.
 */
import net from 'node:net';
import { printable } from '../../lib/protocol/printable.js';
import createDebug from 'debug';
import { SocksError } from '../../lib/protocol/errors.js';

type IdentErrorCode = 'ERR_SOCKS_TIMEOUT' | 'ERR_SOCKS_CLOSED' | 'ERR_SOCKS_AUTH_FAILED';
import { Socks4Reply } from '../../lib/protocol/constants.js';

const debug = createDebug('sockskit:ident');

export const IDENT_PORT = 113;
export const IDENT_TIMEOUT = 10_000;
/** RFC 1413: a client may abort after 1000 characters without an EOL. */
export const IDENT_MAX_LINE = 1000;

export type IdentReply =
  | {
      type: 'USERID';
      /** Port on the identd host (the SOCKS client's port). */
      portOnServer: number;
      /** Port on the querying host (the SOCKS server's port). */
      portOnClient: number;
      opsys: string;
      /** Defaults to US-ASCII. */
      charset: string;
      /** Exactly as the RFC defines it: everything after the colon, leading spaces included. */
      userId: string;
      /** The same octets, undecoded. */
      raw: Buffer;
      /** `userId` without surrounding SP/TAB: what policies compare. */
      user: string;
    }
  | {
      type: 'ERROR';
      portOnServer?: number;
      portOnClient?: number;
      /** INVALID-PORT, NO-USER, HIDDEN-USER, UNKNOWN-ERROR or an X… token. */
      error: string;
      /** True when the error was not sent but implied by a premature close. */
      implied?: boolean;
    };

export type IdentFailure = 'unreachable' | 'timeout' | 'malformed' | 'overlong' | 'error-reply' | 'mismatch' | 'no-address' | 'aborted';

/**
 * An ident lookup or check failed. `reply` is the SOCKS4 CD it maps to:
 * 5D when identd names a different user, 5C for everything else (identd
 * unreachable, refusing, timing out, answering ERROR or garbage).
 */
export class IdentError extends SocksError<IdentErrorCode> {
  readonly reason: IdentFailure;
  readonly identReply: IdentReply | undefined;
  constructor(reason: IdentFailure, message: string, identReply?: IdentReply, options?: { cause?: unknown }) {
    const code: IdentErrorCode = reason === 'timeout' ? 'ERR_SOCKS_TIMEOUT' : reason === 'aborted' ? 'ERR_SOCKS_CLOSED' : 'ERR_SOCKS_AUTH_FAILED';
    super(code, `ident: ${message}`, reason === 'mismatch' ? Socks4Reply.IdentMismatch : Socks4Reply.IdentUnreachable, options);
    this.reason = reason;
    this.identReply = identReply;
  }
}

const SP = 0x20;
const TAB = 0x09;
const STANDARD_ERRORS = new Set(['INVALID-PORT', 'NO-USER', 'HIDDEN-USER', 'UNKNOWN-ERROR']);

/** RFC 1413 token characters: letters, digits and -.!@#$%^&*()_=+,<>/?"'~`{}[]; (no ':' or white space). */
function isTokenChar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return '-.!@#$%^&*()_=+,<>/?"\'~`{}[];'.includes(String.fromCharCode(c));
}

function malformed(what: string): IdentError {
  return new IdentError('malformed', `malformed reply: ${what}`);
}

/** A cursor over one reply line (without its EOL). */
class Line {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  ws(): void {
    while (this.pos < this.buf.length && (this.buf[this.pos] === SP || this.buf[this.pos] === TAB)) this.pos++;
  }
  expect(ch: string): void {
    this.ws();
    if (this.buf[this.pos] !== ch.charCodeAt(0)) throw malformed(`expected "${ch}" at column ${this.pos}`);
    this.pos++;
  }
  port(): number {
    this.ws();
    const start = this.pos;
    while (this.pos < this.buf.length && this.buf[this.pos]! >= 0x30 && this.buf[this.pos]! <= 0x39) this.pos++;
    const len = this.pos - start;
    if (len < 1 || len > 5) throw malformed(`port of ${len} digits at column ${start}`);
    const v = Number(this.buf.toString('latin1', start, this.pos));
    if (v < 1 || v > 65535) throw malformed(`port ${v} out of range`);
    return v;
  }
  /** A token; `stop` lists token characters that end it here (',' in the opsys field). */
  token(what: string, stop = ''): string {
    this.ws();
    const start = this.pos;
    while (this.pos < this.buf.length) {
      const c = this.buf[this.pos]!;
      if (!isTokenChar(c) || stop.includes(String.fromCharCode(c))) break;
      this.pos++;
    }
    const len = this.pos - start;
    if (len < 1 || len > 64) throw malformed(`${what} token of ${len} characters`);
    return this.buf.toString('latin1', start, this.pos);
  }
  atEnd(): boolean {
    this.ws();
    return this.pos >= this.buf.length;
  }
}

/** Parses one reply line (EOL removed). Throws IdentError('malformed'). */
export function parseIdentReply(line: Buffer): IdentReply {
  const l = new Line(line);
  const portOnServer = l.port();
  l.expect(',');
  const portOnClient = l.port();
  l.expect(':');
  const kind = l.token('reply type').toUpperCase();
  l.expect(':');
  if (kind === 'ERROR') {
    const error = l.token('error type').toUpperCase();
    if (!l.atEnd()) throw malformed('text after the error type');
    if (!STANDARD_ERRORS.has(error) && !(error.startsWith('X') && error.length >= 2)) throw malformed(`unknown error type ${printable(error)}`);
    return { type: 'ERROR', portOnServer, portOnClient, error };
  }
  if (kind !== 'USERID') throw malformed(`reply type ${kind}`);
  const opsys = l.token('opsys', ',');
  l.ws();
  let charset = 'US-ASCII';
  if (line[l.pos] === 0x2c) {
    l.pos++;
    charset = l.token('charset');
  }
  l.expect(':');
  // Everything after this colon is the user id, leading white space included.
  const raw = Buffer.from(line.subarray(l.pos));
  if (raw.includes(0) || raw.includes(0x0d) || raw.includes(0x0a)) throw malformed('NUL, CR or LF in the user id');
  const enc: BufferEncoding = /^utf-?8$/i.test(charset) ? 'utf8' : 'latin1';
  const userId = raw.toString(enc);
  const user = userId.replace(/^[ \t]+|[ \t]+$/g, '');
  if (user.length === 0) throw malformed('empty user id');
  return { type: 'USERID', portOnServer, portOnClient, opsys: opsys.toUpperCase(), charset, userId, raw, user };
}

const UNKNOWN: IdentReply = Object.freeze({ type: 'ERROR', error: 'UNKNOWN-ERROR', implied: true }) as IdentReply;

/**
 * Incremental reader for one reply: push() chunks as they come (any split),
 * get the reply once the EOL is seen; end() on close. Bounded: more than
 * `maxLine` bytes without an EOL throws IdentError('overlong').
 */
export class IdentReplyReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private result: IdentReply | undefined;
  constructor(private readonly maxLine: number = IDENT_MAX_LINE) {}

  get reply(): IdentReply | undefined {
    return this.result;
  }

  push(chunk: Buffer): IdentReply | undefined {
    if (this.result) return this.result;
    const lf = chunk.indexOf(0x0a);
    const take = lf < 0 ? chunk : chunk.subarray(0, lf);
    // The limit is on the line's content: a CR that may be the first half of CRLF is not counted.
    const content = this.size + take.length - (take.length && take[take.length - 1] === 0x0d ? 1 : 0);
    if (content > this.maxLine) throw new IdentError('overlong', `more than ${this.maxLine} bytes without an end of line`);
    this.chunks.push(take);
    this.size += take.length;
    if (lf < 0) return undefined;
    let line = Buffer.concat(this.chunks);
    if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    this.chunks = [];
    this.result = parseIdentReply(line);
    return this.result;
  }

  /** The connection closed: a reply without EOL means UNKNOWN-ERROR (RFC 1413 §6). */
  end(): IdentReply {
    return this.result ?? UNKNOWN;
  }
}

/** The query line for a connection: "<port on identd's host> , <port on ours>\r\n". */
export function encodeIdentQuery(portOnServer: number, portOnClient: number): Buffer {
  return Buffer.from(`${portOnServer} , ${portOnClient}\r\n`, 'latin1');
}

export interface IdentLookupOptions {
  /** The SOCKS client's address: where identd runs and the port it owns. */
  client: { host: string; port: number };
  /** The SOCKS server's local address of the same connection (the query is sent from this IP). */
  server: { host: string; port: number };
  /** identd's port (default 113; tests point this elsewhere). */
  identPort?: number;
  /** Milliseconds for the whole lookup (default 10 000). */
  timeout?: number;
  /** Abort after this many bytes without EOL (default 1000). */
  maxLine?: number;
  /** Abort: the ident connection is destroyed and the lookup rejects with IdentError('aborted'). */
  signal?: AbortSignal;
}

function plainHost(h: string): string {
  return h.startsWith('::ffff:') && net.isIPv4(h.slice(7)) ? h.slice(7) : h;
}

/** To identd on the client's host, from the same local IP the client reached, so identd sees the right pair. */
function dialIdentd(host: string, port: number, local: string): net.Socket {
  return net.connect({
    host,
    port,
    ...(local && local !== '0.0.0.0' && local !== '::' && net.isIP(local) === net.isIP(host) ? { localAddress: local } : {}),
  });
}

/** A reply naming a port pair other than the one asked is malformed. */
function otherPortPair(options: IdentLookupOptions, r: IdentReply): IdentError | undefined {
  if (r.portOnServer === undefined || (r.portOnServer === options.client.port && r.portOnClient === options.server.port)) return undefined;
  return new IdentError('malformed', `reply for ports ${r.portOnServer} , ${r.portOnClient}, asked ${options.client.port} , ${options.server.port}`, r);
}

/**
 * Asks identd on the SOCKS client's host who owns client.port → server.port.
 * Resolves with its reply (an ERROR reply included; a premature close is
 * ERROR UNKNOWN-ERROR). Rejects with IdentError: unreachable (refused, reset
 * before connecting), timeout, malformed, overlong, or a reply for another
 * port pair (malformed), or aborted by `signal`. Never waits longer than `timeout`.
 */
export function identLookup(options: IdentLookupOptions): Promise<IdentReply> {
  const identPort = options.identPort ?? IDENT_PORT;
  const timeout = options.timeout ?? IDENT_TIMEOUT;
  const host = plainHost(options.client.host);
  const aborted = () => new IdentError('aborted', 'lookup aborted', undefined, { cause: options.signal?.reason });
  if (options.signal?.aborted) return Promise.reject(aborted());
  return new Promise<IdentReply>((resolve, reject) => {
    const reader = new IdentReplyReader(options.maxLine);
    let connected = false;
    let settled = false;
    const sock = dialIdentd(host, identPort, plainHost(options.server.host));
    const finish = (err: IdentError | undefined, reply?: IdentReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) {
        debug('lookup %s:%d (%d , %d) failed: %s', host, identPort, options.client.port, options.server.port, err.message);
        reject(err);
        return;
      }
      const r = reply!;
      const mismatch = otherPortPair(options, r);
      if (mismatch) {
        reject(mismatch);
        return;
      }
      debug('lookup %s (%d , %d): %s', host, options.client.port, options.server.port, r.type === 'USERID' ? `USERID ${JSON.stringify(r.user)}` : `ERROR ${printable(r.error)}`);
      resolve(r);
    };
    const timer = setTimeout(() => finish(new IdentError('timeout', `no reply from ${host}:${identPort} within ${timeout} ms`)), timeout);
    const onAbort = () => finish(aborted());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    sock.setNoDelay(true);
    sock.on('connect', () => {
      connected = true;
      sock.write(encodeIdentQuery(options.client.port, options.server.port));
    });
    sock.on('data', (chunk: Buffer) => {
      try {
        const r = reader.push(chunk);
        if (r) finish(undefined, r);
      } catch (err) {
        finish(err instanceof IdentError ? err : new IdentError('malformed', String(err)));
      }
    });
    sock.on('end', () => finish(undefined, reader.end()));
    sock.on('close', () => finish(connected ? undefined : new IdentError('unreachable', `cannot connect to ${host}:${identPort}`), reader.end()));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // Before the connection: unreachable. After it: a premature close (UNKNOWN-ERROR).
      if (!connected) finish(new IdentError('unreachable', `cannot connect to ${host}:${identPort} (${err.code ?? err.message})`, undefined, { cause: err }));
      else finish(undefined, reader.end());
    });
  });
}
