/**
 * Method 0x02, USERNAME/PASSWORD: RFC 1929.
 *
 *   request                                         response
 *   +----+------+----------+------+----------+      +----+--------+
 *   |VER | ULEN |  UNAME   | PLEN |  PASSWD  |      |VER | STATUS |
 *   +----+------+----------+------+----------+      +----+--------+
 *   | 1  |  1   | 1 to 255 |  1   | 1 to 255 |      | 1  |   1    |
 *   +----+------+----------+------+----------+      +----+--------+
 *
 * VER is 0x01 (not 5). ULEN/PLEN = 0 occur in the wild (curl with an empty
 * user or password) and are parsed; whether an empty name is a valid user is
 * the verifier's business. STATUS 0 is success; on failure the server sends
 * 01 01 and closes. Passwords are compared in constant time and never logged.
 */
import createDebug from 'debug';
import { SmartBuffer } from 'smart-buffer';
import { Method, USERPASS_VERSION, UserPassStatus, Limits } from '../lib/protocol/constants.js';
import { AuthError, RemoteProtocolError, LocalProtocolError } from '../lib/protocol/errors.js';
import { safeEqual } from '../lib/protocol/secret.js';
import type { ByteQueue } from '../lib/protocol/codec/byte-queue.js';
import type { AuthMethod, AuthStep, ServerAuthContext, ServerAuthSession, ClientAuthSession, VerifyResult } from '../lib/protocol/method.js';
import { hex } from '../lib/protocol/codec/address.js';
import { isPasswordHash, parsePasswordHash, verifyParsed, dummyHash, type PasswordHash, type ScryptParams } from './password-hash.js';
import { VerifyQueue } from './verify-queue.js';
import { LoginThrottle, waitBefore } from './throttle.js';
import { sourceKey } from './source-key.js';

export * from './password-hash.js';
export { VerifyQueue, threadpoolSize } from './verify-queue.js';
export type { VerifyQueueOptions, VerifyJobOptions, VerifyQueueStats } from './verify-queue.js';
export { LoginThrottle } from './throttle.js';
export type { LoginThrottleOptions, LoginThrottleStats } from './throttle.js';
export { sourceKey } from './source-key.js';

const debug = createDebug('sockskit:method:userpass');

/** A verifier: false/null/undefined rejects, true accepts as the username, anything else is the identity. */
export type UserPassVerifier = (username: string, password: string, ctx: ServerAuthContext) => unknown;

export interface UserPassOptions {
  /**
   * Server: static users, compared in constant time. A password may be an
   * scrypt hash from hashPassword() (`$scrypt$N=16384,r=8,p=1$<salt>$<hash>`),
   * checked asynchronously so the event loop is not held. When any password
   * is hashed, every failed check costs one scrypt (unknown and plain-text
   * users are checked against a dummy hash too), so timing tells no class of
   * name from another.
   */
  users?: Record<string, string> | Map<string, string>;
  /** Server: a custom (maybe async) check, used when `users` is not given. */
  verify?: UserPassVerifier;
  /**
   * Server: where checks wait for their turn (verify-queue.ts). Default:
   * one queue per process for scrypt checks (libuv's threadpool is per
   * process); a `verify` runs unqueued unless a queue is given; false: never.
   */
  queue?: VerifyQueue | false;
  /** Server: login throttling by source address and user name (throttle.ts). */
  throttle?: LoginThrottle;
  /** Client: the credentials to send. */
  username?: string;
  password?: string;
}

export interface UserPassCredentials {
  username: string;
  password: string;
}

/** What one userpass() server has seen (its method's stats(), summed into the server's stats().auth). */
export interface UserPassStats {
  /** Logins received (RFC 1929 messages decoded). */
  attempts: number;
  successes: number;
  /** Logins checked and refused (wrong password, unknown user, verifier said no or threw). */
  failures: number;
  /** Logins whose client left before they were checked (dropped from the queue). */
  dropped: number;
  /** Logins refused because too many checks were waiting. */
  busy: number;
  /** Logins refused unchecked by the throttle (source or name locked out). */
  throttled: number;
  /** Failed logins whose answer the throttle delayed. */
  delayed: number;
}

let processQueue: VerifyQueue | undefined;
/** The queue scrypt checks share by default: one per process, sized to its threadpool. */
export function defaultVerifyQueue(): VerifyQueue {
  return (processQueue ??= new VerifyQueue());
}

const SUCCESS = Buffer.from([USERPASS_VERSION, UserPassStatus.Success]);
const FAILURE = Buffer.from([USERPASS_VERSION, UserPassStatus.Failure]);

export function encodeUserPassRequest(username: string, password: string): Buffer {
  const u = Buffer.from(username, 'utf8');
  const p = Buffer.from(password, 'utf8');
  if (u.length > 255 || p.length > 255) throw new LocalProtocolError('RFC 1929 username and password are at most 255 bytes');
  // VER ULEN UNAME PLEN PASSWD (RFC 1929 §2).
  return new SmartBuffer({ size: 3 + u.length + p.length })
    .writeUInt8(USERPASS_VERSION)
    .writeUInt8(u.length)
    .writeBuffer(u)
    .writeUInt8(p.length)
    .writeBuffer(p)
    .toBuffer();
}

/** Decodes an RFC 1929 request; undefined means "need more". */
export function decodeUserPassRequest(buf: Buffer): { username: string; password: string; length: number } | undefined {
  if (buf.length < 2) return undefined;
  if (buf[0] !== USERPASS_VERSION) {
    throw new RemoteProtocolError(`username/password version 0x${buf[0]!.toString(16)} (RFC 1929 wants 0x01)`, { code: 'ERR_SOCKS_BAD_VERSION' });
  }
  const ulen = buf[1]!;
  if (buf.length < 3 + ulen) return undefined;
  const plen = buf[2 + ulen]!;
  const length = 3 + ulen + plen;
  if (buf.length < length) return undefined;
  return {
    username: buf.toString('utf8', 2, 2 + ulen),
    password: buf.toString('utf8', 3 + ulen, length),
    length,
  };
}

function toMap(users: UserPassOptions['users']): Map<string, string> | undefined {
  if (!users) return undefined;
  return users instanceof Map ? users : new Map(Object.entries(users));
}

/** The parameters most hashed entries use (the costlier on a tie): what the dummy hash costs. */
function commonParams(hashes: Iterable<PasswordHash>): ScryptParams | undefined {
  const seen = new Map<string, { o: ScryptParams; n: number }>();
  for (const h of hashes) {
    const k = `${h.N},${h.r},${h.p}`;
    const e = seen.get(k) ?? seen.set(k, { o: { N: h.N, r: h.r, p: h.p }, n: 0 }).get(k)!;
    e.n++;
  }
  let best: { o: ScryptParams; n: number } | undefined;
  for (const e of seen.values()) if (!best || e.n > best.n || (e.n === best.n && e.o.N * e.o.r * e.o.p > best.o.N * best.o.r * best.o.p)) best = e;
  return best?.o;
}

type Checker = (username: string, password: string, ctx: ServerAuthContext) => unknown;

/**
 * The check for a users table holding hashes: exactly one scrypt per login,
 * whatever the name is. A hashed user checks against its hash; a plain-text
 * user and an unknown name check against a dummy of the file's common
 * parameters (and the plain one is compared in constant time besides).
 */
function hashedUsersCheck(users: Map<string, string>): Checker {
  const table = new Map<string, PasswordHash | string>();
  for (const [name, p] of users) table.set(name, isPasswordHash(p) ? parsePasswordHash(p) : p);
  const dummy = dummyHash(commonParams([...table.values()].filter((v): v is PasswordHash => typeof v !== 'string')));
  return async (username, password) => {
    const expected = table.get(username);
    if (expected !== undefined && typeof expected !== 'string') return verifyParsed(password, expected);
    await verifyParsed(password, dummy);
    return expected !== undefined && safeEqual(password, expected);
  };
}

/** A plain-text users table: compared in constant time, an unknown name against a dummy. */
function plainUsersCheck(users: Map<string, string>): Checker {
  return (username, password) => {
    const expected = users.get(username);
    return safeEqual(password, expected ?? '\u0000unknown-user') && expected !== undefined;
  };
}

const accepted = (v: unknown): boolean => v !== false && v !== null && v !== undefined;

/**
 * One login through the throttle and the queue: a locked-out source fails
 * unchecked; a check waits its turn (dropped if the client leaves); a
 * failure is answered after the throttle's delay. Counts every outcome.
 */
function guardedCheck(check: Checker, queue: VerifyQueue | undefined, throttle: LoginThrottle | undefined, counts: UserPassStats): Checker {
  return async (username, password, ctx) => {
    const source = sourceKey(ctx.source);
    if (throttle && !throttle.admit(source, username)) {
      counts.throttled++;
      return false;
    }
    let v: unknown;
    try {
      v = queue ? await queue.run(() => check(username, password, ctx), { source, signal: ctx.signal, deadline: ctx.deadline }) : await check(username, password, ctx);
    } catch (err) {
      const code = (err as { code?: string })?.code;
      if (code === 'ERR_SOCKS_CLOSED') counts.dropped++;
      else if (err instanceof AuthError) counts.busy++;
      else counts.failures++;
      throw err;
    }
    if (accepted(v)) {
      counts.successes++;
      throttle?.succeeded(source, username);
      return v;
    }
    counts.failures++;
    const ms = throttle ? throttle.failed(source, username) : 0;
    if (ms > 0) {
      counts.delayed++;
      await waitBefore(ms, ctx.signal, ctx.deadline);
    }
    return v;
  };
}

function failed(why: string, user?: string): AuthStep {
  debug('authentication failed: %s', why);
  return { kind: 'fail', error: new AuthError('username/password authentication failed', Method.UsernamePassword, { user }), write: FAILURE };
}

/** How the server side checks a login: at once in the engine (`direct`), or through the verify step (`guarded`). */
interface ServerChecks {
  direct: Checker | undefined;
  guarded: Checker | undefined;
  counts: UserPassStats;
}

function serverSession(ctx: ServerAuthContext, { direct, guarded, counts }: ServerChecks): ServerAuthSession {
  let username = '';
  return {
    maxMessage: Limits.userpass,
    receive(input: ByteQueue): AuthStep {
      const msg = decodeUserPassRequest(input.peek());
      if (!msg) return { kind: 'more' };
      input.skip(msg.length);
      counts.attempts++;
      username = msg.username;
      const { password } = msg;
      if (direct) {
        if (direct(username, password, ctx)) {
          counts.successes++;
          return { kind: 'done', identity: username, write: SUCCESS };
        }
        counts.failures++;
        return failed(`user ${JSON.stringify(username)}`, username);
      }
      if (!guarded) return failed('no users configured', username);
      return { kind: 'verify', check: () => guarded(username, password, ctx) };
    },
    verified(result: VerifyResult): AuthStep {
      // Not the error's message: a helper's BH text or a verifier's error may repeat the password.
      if (!result.ok) return failed(`the check failed (${(result.error as Error)?.name ?? 'error'})`, username);
      const v = result.value;
      if (!accepted(v)) return failed(`user ${JSON.stringify(username)}`, username);
      return { kind: 'done', identity: v === true ? username : v, write: SUCCESS };
    },
  };
}

function clientSession(options: UserPassOptions): ClientAuthSession {
  return {
    maxMessage: 2,
    start(): AuthStep {
      if (options.username === undefined || options.password === undefined) {
        throw new LocalProtocolError('userpass client needs username and password');
      }
      return { kind: 'more', write: encodeUserPassRequest(options.username, options.password) };
    },
    receive(input: ByteQueue): AuthStep {
      if (input.length < 2) return { kind: 'more' };
      const reply = input.take(2);
      // Lenient on VER (some servers echo 05); STATUS decides.
      if (reply[1] !== UserPassStatus.Success) {
        return { kind: 'fail', error: new AuthError(`proxy rejected the username/password (status 0x${hex(reply[1]!)})`, Method.UsernamePassword) };
      }
      return { kind: 'done', identity: options.username };
    },
  };
}

export function userpass(options: UserPassOptions = {}): AuthMethod<unknown> & { stats(): UserPassStats } {
  const users = toMap(options.users);
  // A malformed or too costly hash fails here, at configuration time, not at the first login.
  const hashed = users ? [...users.values()].some(isPasswordHash) : false;
  const counts: UserPassStats = { attempts: 0, successes: 0, failures: 0, dropped: 0, busy: 0, throttled: 0, delayed: 0 };
  const check: Checker | undefined = users ? (hashed ? hashedUsersCheck(users) : plainUsersCheck(users)) : options.verify;
  const queue = options.queue === false ? undefined : (options.queue ?? (hashed ? defaultVerifyQueue() : undefined));
  const { throttle } = options;
  // Plain-text users with no throttle and no queue answer at once, in the engine.
  const direct = users && !hashed && !queue && !throttle ? check : undefined;
  const checks: ServerChecks = { direct, guarded: check && !direct ? guardedCheck(check, queue, throttle, counts) : undefined, counts };

  return {
    code: Method.UsernamePassword,
    name: 'userpass',
    server: check ? (ctx) => serverSession(ctx, checks) : undefined,
    client: options.username !== undefined ? () => clientSession(options) : undefined,
    stats: () => ({ ...counts }),
    // Static users: a reload that removes one ends that user's UDP associations.
    knows: users ? (identity) => typeof identity === 'string' && users.has(identity) : undefined,
  };
}
