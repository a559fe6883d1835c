/**
 * Files for binauth keys, shared by the programs (sockskit-keys, -proxy, -connect).
 *
 *  - key file: the 32-byte Ed25519 seed as 64 hex digits and a newline, mode 0600.
 *    128 hex digits (upstream's seed || public key) are accepted when the halves agree.
 *  - authorized-keys file: one public key (64 hex digits) per line; `#` starts a
 *    comment (whole line or after the key); blank lines are ignored.
 *  - token cache: one token (202 hex digits) and a newline, mode 0600. A cache:
 *    anything unreadable is treated as "no token".
 *
 * Error messages name the file (and the line) but never echo key material.
 */
import { readFileSync, writeFileSync, statSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalProtocolError } from '../../lib/protocol/errors.js';
import { binauthPublicKey, BINAUTH_TOKEN_LENGTH } from './core.js';

export class KeyFileError extends LocalProtocolError {
  readonly path: string;
  readonly line: number | undefined;
  constructor(path: string, message: string, line?: number) {
    super(`${path}${line !== undefined ? ` line ${line}` : ''}: ${message}`);
    this.path = path;
    this.line = line;
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new KeyFileError(path, `cannot read ${what}: ${why}`);
  }
}

/** Parses key-file text into the 32-byte seed. */
export function parsePrivateKey(text: string, where = 'key'): Buffer {
  const clean = text.replace(/#.*$/gm, '').trim();
  if (!/^[0-9a-fA-F]{64}([0-9a-fA-F]{64})?$/.test(clean)) {
    throw new KeyFileError(where, 'not a binauth private key (expected 64 hex digits: an Ed25519 seed)');
  }
  const raw = Buffer.from(clean, 'hex');
  const seed = raw.subarray(0, 32);
  if (raw.length === 64 && !raw.subarray(32).equals(binauthPublicKey(seed))) {
    throw new KeyFileError(where, 'the 128-hex-digit key is not seed || public key');
  }
  return Buffer.from(seed);
}

/**
 * Reads a private key file. `onWarning` hears about a file that others may
 * read (it still loads, as ssh would not; the programs print the warning).
 */
export function loadKeyFile(path: string, onWarning?: (message: string) => void): Buffer {
  const seed = parsePrivateKey(readText(path, 'the key file'), path);
  if (onWarning && process.platform !== 'win32') {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) onWarning(`${path}: private key file is accessible by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${path}`);
  }
  return seed;
}

/**
 * Writes a private key (32-byte seed) as hex with mode 0600. Refuses to
 * replace an existing file unless `force`.
 */
export function writeKeyFile(path: string, seed: Buffer, options: { force?: boolean } = {}): void {
  if (!Buffer.isBuffer(seed) || seed.length !== 32) throw new LocalProtocolError('a binauth private key is a 32-byte seed');
  writeSecretFile(path, `${seed.toString('hex')}\n`, options);
}

/**
 * Writes a secret with mode 0600. A new file is created exclusively (an
 * existing name, a symlink included, is refused unless `force`). With
 * `force`, the text goes to a fresh temporary file in the same directory that
 * is then renamed over `path`: a symlink there is replaced, never written
 * through, and its target's content and mode stay as they were.
 */
export function writeSecretFile(path: string, text: string, options: { force?: boolean } = {}): void {
  const fail = (err: unknown): never => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new KeyFileError(path, 'already exists (use --force to overwrite)');
    const why = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new KeyFileError(path, `cannot write: ${why}`);
  };
  if (!options.force) {
    try {
      writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      fail(err);
    }
    return;
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* not created, or already renamed */
    }
    fail(err);
  }
}

/** Parses authorized-keys text into a Set of lowercase hex public keys. */
export function parseAuthorizedKeys(text: string, where = 'authorized keys'): Set<string> {
  const keys = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').replace(/#.*$/, '').trim();
    if (line === '') return;
    if (!/^[0-9a-fA-F]{64}$/.test(line)) {
      throw new KeyFileError(where, 'expected an Ed25519 public key (64 hex digits)', i + 1);
    }
    keys.add(line.toLowerCase());
  });
  return keys;
}

export function loadAuthorizedKeys(path: string): Set<string> {
  return parseAuthorizedKeys(readText(path, 'the authorized-keys file'), path);
}

/** Reads a cached token; undefined when absent or not a token. */
export function loadTokenCache(path: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!new RegExp(`^[0-9a-fA-F]{${BINAUTH_TOKEN_LENGTH * 2}}$`).test(text)) return undefined;
  return Buffer.from(text, 'hex');
}

/** Stores a token with mode 0600, replacing the old one atomically. */
export function saveTokenCache(path: string, token: Buffer): void {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, `${token.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* not created */
    }
    throw new KeyFileError(path, `cannot write the token cache: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
