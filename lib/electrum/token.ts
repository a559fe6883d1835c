/**
 * Access tokens for the Electrum gateway (docs/protocols.md §3), bwt-compatible:
 * `--auth-token TOKEN`, or `--auth-cookie FILE` whose content is the token
 * (created with a fresh random token when missing).
 *
 * Differences from bwt, on purpose: one trailing newline in a cookie file is
 * not part of the token (files written by editors and `echo` end in one), and
 * a new cookie file is created atomically (O_EXCL) with mode 0600 instead of
 * world-readable.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, openSync, fstatSync, closeSync, constants } from 'node:fs';
import { LocalProtocolError } from '../protocol/errors.js';

/** Lowercase letters and digits: a token must also work as a DNS label (hostname path). */
export const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** 25 symbols of 36: log2(36^25) ≈ 129 bits. */
export const TOKEN_LENGTH = 25;

/**
 * A uniformly random token. Rejection sampling: bytes ≥ 252 (7·36) are
 * dropped so that `byte % 36` has no bias.
 */
export function generateToken(length = TOKEN_LENGTH): string {
  const n = TOKEN_ALPHABET.length;
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b >= limit) continue;
      out += TOKEN_ALPHABET[b % n];
      if (out.length === length) break;
    }
  }
  return out;
}

/** The token in a cookie file's content: verbatim except for one trailing newline. */
export function tokenFromCookie(content: string): string {
  return content.replace(/\r?\n$/, '');
}

export interface CookieResult {
  token: string;
  /** True when this call created the file. */
  created: boolean;
}

/**
 * Reads the token from `file`, or creates the file with a new token (mode
 * 0600, no trailing newline). `wx` makes creation atomic: if another process
 * creates it first we read theirs instead of overwriting it.
 */
export function loadOrCreateCookie(file: string): CookieResult {
  const read = (): CookieResult => ({ token: readSecret(file, 'cookie file'), created: false });
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = generateToken();
  try {
    writeFileSync(file, token, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return read();
    throw err;
  }
  return { token, created: true };
}

/** Reads a token file without ever creating it (client side). */
export function readTokenFile(file: string): string {
  return readSecret(file, 'token file');
}

/**
 * Reads a token from a file only if it is plainly the user's secret: not a
 * symbolic link (O_NOFOLLOW: a link to /etc/hostname would make the host name
 * the token), a regular file owned by this user, not accessible by group or
 * others, holding a token at least as strong as a generated one. ENOENT is
 * passed through as is (the cookie is then created).
 */
function readSecret(file: string, what: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new LocalProtocolError(`${what} ${file} is a symbolic link: refused (give the file itself)`);
    throw err;
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new LocalProtocolError(`${what} ${file} is not a regular file`);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) throw new LocalProtocolError(`${what} ${file} is owned by uid ${st.uid}, not by this user (uid ${uid}): refused`);
    const mode = st.mode & 0o777;
    if (process.platform !== 'win32' && mode & 0o077) {
      throw new LocalProtocolError(`${what} ${file} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}): run chmod 600 ${file}`);
    }
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  const token = tokenFromCookie(text);
  if (token.length === 0) throw new LocalProtocolError(`${what} ${file} is empty`);
  checkTokenStrength(token, `${what} ${file}`);
  return token;
}

/** Bits of a generated token: TOKEN_LENGTH symbols of TOKEN_ALPHABET (≈ 129). */
const GENERATED_BITS = Math.floor(TOKEN_LENGTH * Math.log2(TOKEN_ALPHABET.length));

/**
 * Refuses a token weaker than a generated one, estimated as length × log2 of
 * the character classes it draws from (lowercase, uppercase, digits, other):
 * 25 lowercase letters and digits pass, 12 characters or 25 digits do not.
 */
function checkTokenStrength(token: string, where: string): void {
  let size = 0;
  if (/[a-z]/.test(token)) size += 26;
  if (/[A-Z]/.test(token)) size += 26;
  if (/[0-9]/.test(token)) size += 10;
  if (/[^a-zA-Z0-9]/.test(token)) size += 33;
  const bits = [...token].length * Math.log2(size);
  if (bits < GENERATED_BITS) {
    throw new LocalProtocolError(`${where}: token too weak (about ${Math.floor(bits)} bits, a generated one has ${GENERATED_BITS}; delete the file to have one generated)`);
  }
}

export interface TokenFlags {
  authToken?: string;
  authCookie?: string;
}

/** Exactly one of --auth-token / --auth-cookie. Throws a usage-style error otherwise. */
export function resolveToken(flags: TokenFlags): CookieResult & { source: 'token' | 'cookie' } {
  const given = [flags.authToken, flags.authCookie].filter((v) => v !== undefined).length;
  if (given !== 1) throw new LocalProtocolError('give exactly one of --auth-token TOKEN or --auth-cookie FILE');
  if (flags.authToken !== undefined) {
    if (flags.authToken.length === 0) throw new LocalProtocolError('--auth-token must not be empty');
    return { token: flags.authToken, created: false, source: 'token' };
  }
  return { ...loadOrCreateCookie(flags.authCookie!), source: 'cookie' };
}
