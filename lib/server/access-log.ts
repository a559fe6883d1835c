/**
 * The record of one finished connection (SocksServer 'connectionEnd'), the
 * error classes operators count, and the two access-log line formats.
 *
 * Everything a peer chose (host names, usernames) is escaped in the text
 * format: a CR/LF, a space or a quote in a hostname cannot start a new line or
 * forge a field. JSON escapes by construction.
 */
import { Reply } from '../protocol/constants.js';
import { SocksError, AuthError, TimeoutError } from '../protocol/errors.js';
import { RuleBlock } from './policy.js';

/**
 * Why a connection counted as failed, one class per operator question:
 * refused (05), unreachable (03/04: no route), not-found (04: the name does not
 * resolve), timeout (06 and deadlines), ruleset (a rule's block, whatever
 * reply it sends; and 02), hook (the request hook threw: 01), auth, socks4
 * (a SOCKS4 request where SOCKS4 is off: authentication is required),
 * protocol (bytes that break SOCKS), command (07), limit (refused at
 * --max-connections), other.
 */
export type ErrorClass = 'refused' | 'unreachable' | 'not-found' | 'timeout' | 'ruleset' | 'hook' | 'auth' | 'socks4' | 'protocol' | 'command' | 'limit' | 'other';

export const ERROR_CLASSES: readonly ErrorClass[] = ['refused', 'unreachable', 'not-found', 'timeout', 'ruleset', 'hook', 'auth', 'socks4', 'protocol', 'command', 'limit', 'other'];

const NOT_FOUND = new Set(['ENOTFOUND', 'EAI_NONAME', 'EAI_NODATA', 'EAI_AGAIN', 'EAI_FAIL']);

/** The class of an error a connection ended with. `hook`: it came from the request hook. */
export function errorClass(err: unknown, hook = false): ErrorClass {
  if (hook) return 'hook';
  if (err instanceof RuleBlock) return 'ruleset';
  if (err instanceof AuthError) return 'auth';
  if (err instanceof TimeoutError) return 'timeout';
  const e = err as (SocksError & { cause?: unknown }) | undefined;
  const cause = e?.cause as { code?: unknown } | undefined;
  const errno = typeof cause?.code === 'string' ? cause.code : typeof e?.code === 'string' ? e.code : undefined;
  if (errno && NOT_FOUND.has(errno)) return 'not-found';
  if (errno === 'ERR_SOCKS_TIMEOUT' || errno === 'ETIMEDOUT') return 'timeout';
  if (errno === 'ERR_SOCKS_NO_METHOD') return 'auth';
  if (errno === 'ERR_SOCKS_LIMIT') return 'limit';
  if (errno === 'ERR_SOCKS_SOCKS4_OFF') return 'socks4';
  switch (e?.reply) {
    case Reply.ConnectionRefused: return 'refused';
    case Reply.NetworkUnreachable:
    case Reply.HostUnreachable: return 'unreachable';
    case Reply.TtlExpired: return 'timeout';
    case Reply.NotAllowedByRuleset: return 'ruleset';
    case Reply.CommandNotSupported: return 'command';
    case Reply.AddressTypeNotSupported: return 'protocol';
  }
  if (e instanceof SocksError && e.code !== 'ERR_SOCKS_DENIED' && e.code !== 'ERR_SOCKS_CLOSED') return 'protocol';
  return 'other';
}

/**
 * How a connection ended: closed (a tunnel, both sides done), denied (a
 * failure reply), handoff (given to the application), auth (authentication
 * failed), protocol (bad bytes), timeout (handshake deadline), idle (idle
 * timeout), reset (an error on either side of a tunnel), client-left (closed
 * during the handshake), shutdown (server closed).
 */
export type EndReason = 'closed' | 'denied' | 'handoff' | 'auth' | 'protocol' | 'timeout' | 'idle' | 'reset' | 'client-left' | 'shutdown' | 'refused' | 'healthcheck';

/** One finished connection. Never holds a password, token or secret hostname (see `secretDestination`). */
export interface ConnectionRecord {
  /** When it ended (ISO 8601). */
  time: string;
  /** The local address the client reached (after the PROXY protocol: the address it asked the balancer for). */
  listener: string;
  /** The client's address (after the PROXY protocol: the real client); undefined when the client reset before it could be read. */
  client: string | undefined;
  /** Negotiated method name (none, userpass, binauth, gssapi, ...), `socks4`, or undefined before one was chosen. */
  method: string | undefined;
  /** Who, as a method verified it: the username, `key:<hex public key>` for binauth, or undefined. */
  identity: string | undefined;
  /** The user name a failed authentication tried (never the password). */
  user?: string;
  /** The SOCKS4 USERID as sent: a claim nobody checked unless `identity` says so. */
  userid?: string;
  /** The rule that decided: its id, or its index in the list; `none` when no rule matched and the list blocked. */
  rule?: string;
  command: string | undefined;
  /** The destination as the client requested it (a name stays a name). */
  destination: string | undefined;
  /** The address actually dialled (CONNECT), when there was one. */
  dialled: string | undefined;
  /** The upstream proxy (or chain) CONNECT went through, without credentials; absent when direct. */
  via?: string;
  /** The SOCKS5 reply code sent (0 success), or undefined when none was sent. */
  reply: number | undefined;
  /** Bytes client → destination, and destination → client (tunnels relayed by the server). */
  bytesUp: number;
  bytesDown: number;
  /** Milliseconds from accept to close. */
  durationMs: number;
  /** Milliseconds from accept to the end of the handshake (undefined when it never finished). */
  handshakeMs: number | undefined;
  end: EndReason;
  /** The error class when it ended in an error. */
  error: ErrorClass | undefined;
  /** The worker (process) that served it, for multi-process servers. */
  worker?: number | string;
}

/** Escapes a peer-supplied string for the text format: printable ASCII other than space, quote and backslash stays; the rest is \xHH. */
export function escapeField(s: string): string {
  if (isPlain(s)) return s;
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c > 0x20 && c < 0x7f && ch !== '"' && ch !== '\\') out += ch;
    else if (c < 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += [...Buffer.from(ch, 'utf8')].map((b) => `\\x${b.toString(16)}`).join('');
  }
  return out;
}

/**
 * The log's fields, in order, with the same names in the text and the JSON
 * format (the record's own names). `time` comes first in both; `via` and
 * `worker` only when set.
 */
export const LOG_FIELDS = ['time', 'listener', 'client', 'method', 'identity', 'user', 'userid', 'command', 'destination', 'dialled', 'via', 'rule', 'reply', 'bytesUp', 'bytesDown', 'durationMs', 'handshakeMs', 'end', 'error', 'worker'] as const satisfies readonly (keyof ConnectionRecord)[];

/** Fields written only when set (a direct tunnel has no hop; one process has no worker). */
function optional(k: string): boolean {
  return k === 'worker' || k === 'via';
}

/** The record's fields as written, in LOG_FIELDS order. Both formats write these. */
export function logFields(r: ConnectionRecord): [string, string | number | undefined][] {
  const out: [string, string | number | undefined][] = [];
  for (const k of LOG_FIELDS) {
    const v = r[k];
    if (optional(k) && v === undefined) continue;
    out.push([k, v]);
  }
  return out;
}

/** The common case, every character printable ASCII other than space, quote and backslash: nothing to escape. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A text field's value: absent is '-', empty is "" (a quote in a value is always escaped, so neither can be forged), a peer's string escaped. */
function t(v: unknown): string {
  return v === undefined ? '-' : v === '' ? '""' : typeof v === 'number' ? String(v) : escapeField(String(v));
}

/**
 * `TIME key=value ...`, one line, absent fields as `-`, empty ones as `""`, peer strings escaped.
 * `worker` (default: the record's) is the writer's, so a worker need not copy the record to add it.
 * The fields are LOG_FIELDS in order, written out one by one rather than in a
 * loop over names: it runs for every connection, and a loop reads the record by
 * a varying key (spec/server/access-log.spec.ts checks the order against LOG_FIELDS).
 */
export function formatText(r: ConnectionRecord, worker: number | string | undefined = r.worker): string {
  return (
    r.time +
    ' listener=' + t(r.listener) +
    ' client=' + t(r.client) +
    ' method=' + t(r.method) +
    ' identity=' + t(r.identity) +
    ' user=' + t(r.user) +
    ' userid=' + t(r.userid) +
    ' command=' + t(r.command) +
    ' destination=' + t(r.destination) +
    ' dialled=' + t(r.dialled) +
    (r.via === undefined ? '' : ' via=' + t(r.via)) +
    ' rule=' + t(r.rule) +
    ' reply=' + t(r.reply) +
    ' bytesUp=' + t(r.bytesUp) +
    ' bytesDown=' + t(r.bytesDown) +
    ' durationMs=' + t(r.durationMs) +
    ' handshakeMs=' + t(r.handshakeMs) +
    ' end=' + t(r.end) +
    ' error=' + t(r.error) +
    (worker === undefined ? '' : ' worker=' + t(worker)) +
    '\n'
  );
}

/**
 * One JSON object per line, absent fields left out. JSON.stringify escapes
 * control characters but not U+2028/U+2029, which end a line for older
 * JavaScript parsers and some log tools: escaped here.
 */
export function formatJson(r: ConnectionRecord): string {
  const o: Record<string, string | number> = {};
  for (const [k, v] of logFields(r)) if (v !== undefined) o[k] = v;
  return JSON.stringify(o).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029')) + '\n';
}

/** The identity as logged: a string identity (username), binauth's key, an object's `username`; never anything else. */
export function identityOf(method: string | undefined, identity: unknown): string | undefined {
  if (typeof identity === 'string') return method === 'binauth' ? `key:${identity}` : identity;
  const u = (identity as { username?: unknown } | null)?.username;
  return typeof u === 'string' ? u : undefined;
}
