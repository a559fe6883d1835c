/**
 * Small helpers shared by the programs: host:port parsing, readable fatal
 * errors, signal handling. Kept tiny on purpose; each program owns its flags.
 */
import { readFileSync, statSync } from 'node:fs';
import { LocalProtocolError } from '../lib/index.js';

export class UsageError extends LocalProtocolError {}

/** Parses HOST:PORT, [IPV6]:PORT or PORT (with `defaultHost`). */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
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

export function parseNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} wants a non-negative number, got ${JSON.stringify(text)}`);
  return n;
}

export function packageVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Prints `prog: message` and exits non-zero; never a stack trace for expected
 * errors. Usage errors exit 2 (with a --help hint), everything else `code` (1).
 */
export function fail(prog: string, err: unknown, code = 1): never {
  if (err instanceof UsageError) code = 2;
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${prog}: ${msg}\n`);
  if (err instanceof UsageError) process.stderr.write(`Try '${prog} --help'.\n`);
  process.exit(code);
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
