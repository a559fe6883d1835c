/**
 * Parsers and checks for option values every program shares: HOST:PORT,
 * numbers, secret files, file-system errors as a person reads them.
 */
import { readFileSync, statSync } from 'node:fs';
import { UsageError } from './errors.js';
import { readInput } from './inputs.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses HOST:PORT, [IPV6]:PORT or PORT (with `defaultHost`). */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): HostPort {
  let host = defaultHost;
  let portText = text;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (m) {
    host = m[1]!;
    portText = m[2]!;
  } else if (!/^\d+$/.test(text)) {
    throw new UsageError(`expected HOST:PORT, got ${JSON.stringify(text)}`);
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid port in ${JSON.stringify(text)}`);
  return { host, port };
}

/** A non-negative number from `--name`, or `fallback` when it was not given. */
export function parseNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} wants a non-negative number, got ${JSON.stringify(text)}`);
  return n;
}

/** `text` when it is one of `choices`; a usage error naming them otherwise. */
export function parseChoice<T extends string>(name: string, text: string | undefined, choices: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if ((choices as readonly string[]).includes(text)) return text as T;
  const list = choices.length > 2 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices.join(' or ');
  throw new UsageError(`--${name} wants ${list}, got ${JSON.stringify(text)}`);
}

/** The package's version (from its package.json), or 'unknown'. */
export function packageVersion(): string {
  try {
    const url = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** A file-system error as a person reads it: "no such file", "permission denied", ... */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    default: return code ?? (err instanceof Error ? err.message : String(err));
  }
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || host === '[::1]';
}

/**
 * A warning when a secret file is accessible by group or others (undefined
 * when it is not, or cannot be read: whoever reads it reports that).
 */
export function permissionWarning(file: string, what = 'file'): string | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) return `${file}: ${what} is accessible by others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${file}`;
  } catch {
    /* reported by whoever reads it */
  }
  return undefined;
}

/** Reads a one-line secret from a file (trailing newline dropped); empty is an error. */
export function readSecretFile(flag: string, file: string): string {
  let text: string;
  try {
    text = readInput(file).toString('utf8');
  } catch (err) {
    throw new UsageError(`cannot read --${flag} file ${file}: ${describeFsError(err)}`);
  }
  const s = text.replace(/\r?\n$/, '');
  if (s === '') throw new UsageError(`--${flag} file ${file} is empty`);
  return s;
}
