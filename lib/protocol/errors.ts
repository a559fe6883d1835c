/**
 * The SocksError family. Every error carries a stable `code` (ERR_SOCKS_*) and,
 * where the wire has one, the `reply` code to send back (server side) or that
 * was received (client side). Reply codes are never derived from message text.
 *
 *  - RemoteProtocolError: the peer broke the protocol (bad bytes).
 *  - LocalProtocolError:  the caller misused the API (a bug on our side of the socket).
 *  - AuthError:           authentication failed (wrong password, unknown key, ...).
 *  - ReplyError:          client side: the server answered REP/CD != success.
 *  - TimeoutError:        a deadline passed (handshake, connect, idle).
 *  - ProxyUnreachableError: client side: a proxy of the chain could not be
 *                         reached (refused, timed out, reset), named by URL
 *                         (no credentials) and hop index.
 *
 * `code` is typed per class, so `if (isSocksError(err)) switch (err.code)`
 * narrows to the class (ERR_SOCKS_REPLY → ReplyError, with `reply: number`).
 */
import { Reply } from './constants.js';

export type SocksErrorCode =
  | 'ERR_SOCKS_PROTOCOL'
  | 'ERR_SOCKS_BAD_VERSION'
  | 'ERR_SOCKS_NO_METHOD'
  | 'ERR_SOCKS_BAD_ADDRESS_TYPE'
  | 'ERR_SOCKS_BAD_COMMAND'
  | 'ERR_SOCKS_BAD_ADDRESS'
  | 'ERR_SOCKS_BUFFER_LIMIT'
  | 'ERR_SOCKS_AUTH_FAILED'
  | 'ERR_SOCKS_REPLY'
  | 'ERR_SOCKS_TIMEOUT'
  | 'ERR_SOCKS_USAGE'
  | 'ERR_SOCKS_CLOSED'
  | 'ERR_SOCKS_ENCAPSULATION'
  | 'ERR_SOCKS_DENIED'
  | 'ERR_SOCKS_KERBEROS_UNAVAILABLE'
  /** splice: 'on' where the native splice relay addon is not built (transport/splice.ts). */
  | 'ERR_SOCKS_SPLICE_UNAVAILABLE'
  /** A SOCKS4/4a request to a server where SOCKS4 is off (it carries no password: off when authentication is required). */
  | 'ERR_SOCKS_SOCKS4_OFF'
  | 'ERR_SOCKS_PROXY_UNREACHABLE';

/** Codes that one subclass alone carries (so a `switch` on `code` narrows to it). */
export type OwnSocksErrorCode = 'ERR_SOCKS_REPLY' | 'ERR_SOCKS_AUTH_FAILED' | 'ERR_SOCKS_USAGE' | 'ERR_SOCKS_PROXY_UNREACHABLE';
/** The codes a plain SocksError, a RemoteProtocolError or a TimeoutError may carry. */
export type SharedSocksErrorCode = Exclude<SocksErrorCode, OwnSocksErrorCode>;

export class SocksError<C extends SocksErrorCode = SocksErrorCode> extends Error {
  readonly code: C;
  /** Reply code to answer with (server) or that was received (client). */
  readonly reply: number | undefined;
  constructor(code: C, message: string, reply?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.reply = reply;
  }
}

/** Spelled-out "answer with no reply": the connection is only closed. */
export const NO_REPLY = 'none';

export interface RemoteProtocolErrorOptions {
  /** Default ERR_SOCKS_PROTOCOL. */
  code?: SharedSocksErrorCode;
  /** The reply code to answer with (default 01, general failure), or NO_REPLY ('none'). */
  reply?: number | typeof NO_REPLY;
  cause?: unknown;
}

/** The remote peer sent bytes that break the protocol. */
export class RemoteProtocolError extends SocksError<SharedSocksErrorCode> {
  constructor(message: string, options: RemoteProtocolErrorOptions = {}) {
    const reply = options.reply ?? Reply.GeneralFailure;
    super(options.code ?? 'ERR_SOCKS_PROTOCOL', message, reply === NO_REPLY ? undefined : reply, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** The caller used the API wrongly (state machine driven out of order, bad options). */
export class LocalProtocolError extends SocksError<'ERR_SOCKS_USAGE'> {
  constructor(message: string) {
    super('ERR_SOCKS_USAGE', message);
  }
}

/** Authentication failed. `method` is the method code negotiated; `user` the name the client tried, if it sent one (never a password). */
export class AuthError extends SocksError<'ERR_SOCKS_AUTH_FAILED'> {
  readonly method: number | undefined;
  readonly user: string | undefined;
  constructor(message: string, method?: number, options?: { cause?: unknown; user?: string }) {
    super('ERR_SOCKS_AUTH_FAILED', message, undefined, options?.cause === undefined ? undefined : { cause: options.cause });
    this.method = method;
    this.user = options?.user;
  }
}

/** Client side: the proxy answered with a failure reply (REP != 0, CD != 0x5A). */
export class ReplyError extends SocksError<'ERR_SOCKS_REPLY'> {
  /** The REP (SOCKS5) or CD (SOCKS4) the proxy answered: always present. */
  declare readonly reply: number;
  /** 4 or 5: which reply table `reply` comes from. */
  readonly version: 4 | 5;
  constructor(reply: number, version: 4 | 5 = 5) {
    super('ERR_SOCKS_REPLY', `proxy refused the request: ${replyMessage(reply, version)}`, reply);
    this.version = version;
  }
}

export class TimeoutError extends SocksError<'ERR_SOCKS_TIMEOUT'> {
  readonly phase: string;
  constructor(phase: string, ms: number) {
    super('ERR_SOCKS_TIMEOUT', `${phase} timed out after ${ms} ms`, Reply.TtlExpired);
    this.phase = phase;
  }
}

/**
 * Client side: a proxy could not be reached: the first one refused, timed
 * out or reset the TCP connection, or the hop before a later one answered
 * that it could not reach it (then `cause` is that ReplyError). `proxy` is
 * the hop as a URL without credentials; `hop` its index in the chain (0 for
 * the first or only proxy).
 */
export class ProxyUnreachableError extends SocksError<'ERR_SOCKS_PROXY_UNREACHABLE'> {
  readonly proxy: string;
  readonly hop: number;
  constructor(proxy: string, hop: number, hops: number, cause: unknown) {
    const where = hops > 1 ? `${proxy} (hop ${hop} of a chain of ${hops}, from 0)` : proxy;
    super('ERR_SOCKS_PROXY_UNREACHABLE', `cannot reach proxy ${where}: ${causeText(cause)}`, replyFromErrno(cause), { cause });
    this.proxy = proxy;
    this.hop = hop;
  }
}

function causeText(cause: unknown): string {
  if (cause instanceof ReplyError) return `the previous hop answered ${replyMessage(cause.reply, cause.version)}`;
  if (cause instanceof SocksError) return cause.message;
  const e = cause as { code?: unknown; message?: unknown } | null;
  return typeof e?.code === 'string' ? e.code : String(e?.message ?? cause);
}

/** Every error sockskit throws from the SocksError family, as a union whose `code` discriminates. */
export type AnySocksError = ReplyError | AuthError | LocalProtocolError | ProxyUnreachableError | TimeoutError | RemoteProtocolError | SocksError<SharedSocksErrorCode>;

/** Whether `err` belongs to the SocksError family; narrows to the union, so `switch (err.code)` narrows further. */
export function isSocksError(err: unknown): err is AnySocksError {
  return err instanceof SocksError;
}

const REPLY_TEXT5: Record<number, string> = {
  0x00: 'succeeded',
  0x01: 'general SOCKS server failure (01)',
  0x02: 'connection not allowed by ruleset (02)',
  0x03: 'network unreachable (03)',
  0x04: 'host unreachable (04)',
  0x05: 'connection refused (05)',
  0x06: 'TTL expired (06)',
  0x07: 'command not supported (07)',
  0x08: 'address type not supported (08)',
};
const REPLY_TEXT4: Record<number, string> = {
  0x5a: 'request granted (5A)',
  0x5b: 'request rejected or failed (5B)',
  0x5c: 'rejected: cannot reach identd on the client (5C)',
  0x5d: 'rejected: identd and client report different user ids (5D)',
};

export function replyMessage(reply: number, version: 4 | 5 = 5): string {
  const table = version === 4 ? REPLY_TEXT4 : REPLY_TEXT5;
  return table[reply] ?? `unassigned reply code 0x${reply.toString(16).padStart(2, '0')}`;
}

/**
 * Maps a Node system error (from connect, lookup, bind) to an RFC 1928 reply.
 * Only `err.code` is consulted, never the message.
 */
export function replyFromErrno(err: unknown): number {
  if (err instanceof SocksError && err.reply !== undefined) return err.reply;
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED': return Reply.ConnectionRefused;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
    case 'EAI_FAIL':
      return Reply.HostUnreachable;
    case 'ENETUNREACH':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return Reply.NetworkUnreachable;
    case 'ETIMEDOUT':
    case 'ERR_SOCKS_TIMEOUT':
      return Reply.TtlExpired;
    case 'EACCES':
    case 'EPERM':
      return Reply.NotAllowedByRuleset;
    case 'EAFNOSUPPORT':
      return Reply.AddressTypeNotSupported;
    default:
      return Reply.GeneralFailure;
  }
}

/** Any thrown value as a SocksError (ERR_SOCKS_PROTOCOL, `reply`, the original as cause). */
export function toSocksError(err: unknown, reply?: number): SocksError {
  if (err instanceof SocksError) return err;
  return new SocksError('ERR_SOCKS_PROTOCOL', err instanceof Error ? err.message : String(err), reply, { cause: err });
}

/** SOCKS4 has one failure code for everything but ident trouble: a SOCKS5 REP as a SOCKS4 CD. */
export function socks4ReplyFrom(reply5: number): number {
  return reply5 === 0x00 ? 0x5a : 0x5b;
}

/**
 * The reply code a failure is answered with. SOCKS5: the error's REP when it
 * is a failure code (01..FF), else 01. SOCKS4: the error's CD when it is in
 * the SOCKS4 table (5A..5D), else 5B. Used by the server engine for every
 * failure reply (a hook's deny(), a protocol error, a failed identify).
 */
export function failureCode(version: 4 | 5, reply: number | undefined): number {
  if (version === 4) return reply !== undefined && reply >= 0x5a && reply <= 0x5d ? reply : 0x5b;
  return reply !== undefined && reply > 0x00 && reply <= 0xff ? reply : Reply.GeneralFailure;
}
