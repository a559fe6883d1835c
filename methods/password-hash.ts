/**
 * scrypt password hashes for users files:
 * `$scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>`.
 *
 * One check needs 128·N·r bytes (scrypt's V array) and work proportional to
 * N·r·p, so a users file decides what each login costs. The bounds keep a
 * hostile or careless file from asking for gigabytes per login: 64 MiB of
 * memory and 16 times the default's work at most.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { LocalProtocolError } from '../lib/protocol/errors.js';

/** The most memory one check may need (128·N·r bytes): 64 MiB. */
export const SCRYPT_MAX_MEMORY = 64 * 1024 * 1024;
/** The most work one check may need, as N·r·p: 16 times the default's (2^14·8·1). */
export const SCRYPT_MAX_WORK = 1 << 21;
/** The parameters hashPassword() uses. */
export const SCRYPT_DEFAULTS = { N: 16384, r: 8, p: 1 } as const;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
export interface PasswordHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

const SCRYPT = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
const MiB = 1024 * 1024;

/** True when `stored` is an scrypt hash (and not a plain password). */
export function isPasswordHash(stored: string): boolean {
  return stored.startsWith('$scrypt$');
}

/** Throws LocalProtocolError when one check under `o` would cost more than the bounds allow. */
export function checkScryptParams(o: ScryptParams): void {
  const { N, r, p } = o;
  const range = 'scrypt parameters out of range';
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0 || N > 1 << 30) throw new LocalProtocolError(`${range}: N=${N} is not a power of 2 from 2 to 2^30`);
  if (!Number.isSafeInteger(r) || r < 1 || r > 1024 || !Number.isSafeInteger(p) || p < 1 || p > 16) throw new LocalProtocolError(`${range}: want 1 <= r <= 1024 and 1 <= p <= 16`);
  const mem = 128 * N * r;
  if (mem > SCRYPT_MAX_MEMORY) {
    throw new LocalProtocolError(`${range}: N=${N}, r=${r} need ${mem / MiB} MiB per check (128·N·r); the limit is ${SCRYPT_MAX_MEMORY / MiB} MiB (N·r <= ${SCRYPT_MAX_MEMORY / 128})`);
  }
  if (N * r * p > SCRYPT_MAX_WORK) throw new LocalProtocolError(`${range}: N·r·p = ${N * r * p} is more than ${SCRYPT_MAX_WORK} (16 times the default's work per check)`);
}

/** Checks an scrypt hash string's shape and parameters; throws LocalProtocolError. */
export function parsePasswordHash(stored: string): PasswordHash {
  const m = SCRYPT.exec(stored);
  if (!m) throw new LocalProtocolError('malformed scrypt hash (want $scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>)');
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  checkScryptParams(params);
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) throw new LocalProtocolError('scrypt salt or hash too short (salt >= 8, hash 16 to 64 bytes)');
  return { ...params, salt, hash };
}

/** scrypt on libuv's threadpool; maxmem covers exactly what the bounded parameters need. */
export function scryptAsync(password: string, salt: Buffer, len: number, o: ScryptParams): Promise<Buffer> {
  const maxmem = 128 * o.N * o.r + 128 * o.r * o.p + MiB;
  return new Promise((resolve, reject) => scrypt(password, salt, len, { N: o.N, r: o.r, p: o.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** An scrypt hash of `password` for a users file (N=16384, r=8, p=1, 16-byte salt, 32-byte key). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const o = SCRYPT_DEFAULTS;
  const key = await scryptAsync(password, salt, 32, o);
  return `$scrypt$N=${o.N},r=${o.r},p=${o.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Checks `password` against a parsed hash; the comparison is constant-time. */
export async function verifyParsed(password: string, h: PasswordHash): Promise<boolean> {
  const key = await scryptAsync(password, h.salt, h.hash.length, h);
  return timingSafeEqual(key, h.hash);
}

/** Checks `password` against an scrypt hash string in constant time. */
export function verifyPassword(password: string, stored: string): Promise<boolean> {
  return verifyParsed(password, parsePasswordHash(stored));
}

/**
 * A hash nobody's password matches (random salt and key), with given
 * parameters: what unknown users and plain-text users are checked against
 * when a users file holds hashes, so every failed check costs one scrypt.
 */
export function dummyHash(o: ScryptParams = SCRYPT_DEFAULTS): PasswordHash {
  return { N: o.N, r: o.r, p: o.p, salt: randomBytes(16), hash: randomBytes(32) };
}
