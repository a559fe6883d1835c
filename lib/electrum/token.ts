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
import { readFileSync, writeFileSync } from 'node:fs';
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
  const read = (): CookieResult => {
    const token = tokenFromCookie(readFileSync(file, 'utf8'));
    if (token.length === 0) throw new LocalProtocolError(`cookie file ${file} is empty`);
    return { token, created: false };
  };
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
  const token = tokenFromCookie(readFileSync(file, 'utf8'));
  if (token.length === 0) throw new LocalProtocolError(`token file ${file} is empty`);
  return token;
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
