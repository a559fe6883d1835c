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
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import createDebug from 'debug';
import { SmartBuffer } from 'smart-buffer';
import { Method, USERPASS_VERSION, UserPassStatus, Limits } from '../lib/protocol/constants.js';
import { AuthError, RemoteProtocolError, LocalProtocolError } from '../lib/protocol/errors.js';
import { safeEqual } from '../lib/protocol/secret.js';
import type { ByteQueue } from '../lib/protocol/codec/byte-queue.js';
import type { AuthMethod, AuthStep, ServerAuthContext, ServerAuthSession, ClientAuthSession, VerifyResult } from '../lib/protocol/method.js';
import { hex } from '../lib/protocol/codec/address.js';

const debug = createDebug('sockskit:method:userpass');

/** A verifier: false/null/undefined rejects, true accepts as the username, anything else is the identity. */
export type UserPassVerifier = (username: string, password: string, ctx: ServerAuthContext) => unknown;

export interface UserPassOptions {
  /**
   * Server: static users, compared in constant time. A password may be an
   * scrypt hash from hashPassword() (`$scrypt$N=16384,r=8,p=1$<salt>$<hash>`),
   * checked asynchronously so the event loop is not held.
   */
  users?: Record<string, string> | Map<string, string>;
  /** Server: a custom (maybe async) check, used when `users` is not given. */
  verify?: UserPassVerifier;
  /** Client: the credentials to send. */
  username?: string;
  password?: string;
}

export interface UserPassCredentials {
  username: string;
  password: string;
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

const SCRYPT = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/** True when `stored` is an scrypt hash (and not a plain password). */
export function isPasswordHash(stored: string): boolean {
  return stored.startsWith('$scrypt$');
}

/** Checks an scrypt hash string's shape and parameters; throws LocalProtocolError. */
export function parsePasswordHash(stored: string): { N: number; r: number; p: number; salt: Buffer; hash: Buffer } {
  const m = SCRYPT.exec(stored);
  if (!m) throw new LocalProtocolError('malformed scrypt hash (want $scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>)');
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a hostile users file from asking for gigabytes per login.
  if (N < 2 || N > 1 << 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) throw new LocalProtocolError('scrypt parameters out of range (N a power of 2 up to 2^20, r <= 32, p <= 16)');
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) throw new LocalProtocolError('scrypt salt or hash too short');
  return { N, r, p, salt, hash };
}

function scryptAsync(password: string, salt: Buffer, len: number, o: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, len, { ...o, maxmem: 256 * o.N * o.r + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** An scrypt hash of `password` for a users file (N=16384, r=8, p=1, 16-byte salt, 32-byte key). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const o = { N: 16384, r: 8, p: 1 };
  const key = await scryptAsync(password, salt, 32, o);
  return `$scrypt$N=${o.N},r=${o.r},p=${o.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Checks `password` against an scrypt hash in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parsePasswordHash(stored);
  const key = await scryptAsync(password, h.salt, h.hash.length, h);
  return timingSafeEqual(key, h.hash);
}

// An unknown user costs one scrypt too when hashed users exist, so timing does not tell them apart.
const DUMMY_HASH = '$scrypt$N=16384,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

function toMap(users: UserPassOptions['users']): Map<string, string> | undefined {
  if (!users) return undefined;
  return users instanceof Map ? users : new Map(Object.entries(users));
}

export function userpass(options: UserPassOptions = {}): AuthMethod<unknown> {
  const users = toMap(options.users);
  const hashed = users ? [...users.values()].some(isPasswordHash) : false;
  // A malformed hash fails here, at configuration time, not at the first login.
  if (users) for (const p of users.values()) if (isPasswordHash(p)) parsePasswordHash(p);
  const verify = options.verify;
  const failed = (why: string, user?: string): AuthStep => {
    debug('authentication failed: %s', why);
    return { kind: 'fail', error: new AuthError('username/password authentication failed', Method.UsernamePassword, { user }), write: FAILURE };
  };

  const serverSession = (ctx: ServerAuthContext): ServerAuthSession => {
    let username = '';
    return {
      maxMessage: Limits.userpass,
      receive(input: ByteQueue): AuthStep {
        const msg = decodeUserPassRequest(input.peek());
        if (!msg) return { kind: 'more' };
        input.skip(msg.length);
        username = msg.username;
        if (users && hashed) {
          const expected = users.get(msg.username);
          const { password } = msg;
          const check = async (): Promise<unknown> => {
            if (expected !== undefined && !isPasswordHash(expected)) return safeEqual(password, expected);
            const ok = await verifyPassword(password, expected ?? DUMMY_HASH);
            return ok && expected !== undefined;
          };
          return { kind: 'verify', check };
        }
        if (users) {
          // Compare against a dummy when the user is unknown, so timing does
          // not tell unknown users from wrong passwords.
          const expected = users.get(msg.username);
          const ok = safeEqual(msg.password, expected ?? '\u0000unknown-user') && expected !== undefined;
          return ok ? { kind: 'done', identity: msg.username, write: SUCCESS } : failed(`user ${JSON.stringify(msg.username)}`, msg.username);
        }
        if (!verify) return failed('no users configured', msg.username);
        const { password } = msg;
        return { kind: 'verify', check: () => verify(msg.username, password, ctx) };
      },
      verified(result: VerifyResult): AuthStep {
        if (!result.ok) return failed('verifier threw', username);
        const v = result.value;
        if (v === false || v === null || v === undefined) return failed(`user ${JSON.stringify(username)}`, username);
        return { kind: 'done', identity: v === true ? username : v, write: SUCCESS };
      },
    };
  };

  const clientSession = (): ClientAuthSession => ({
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
  });

  return {
    code: Method.UsernamePassword,
    name: 'userpass',
    server: users || verify ? serverSession : undefined,
    client: options.username !== undefined ? clientSession : undefined,
    // Static users: a reload that removes one ends that user's UDP associations.
    knows: users ? (identity) => typeof identity === 'string' && users.has(identity) : undefined,
  };
}
