/**
 * Descriptor limits. Every tunnel holds two descriptors (client and
 * destination), so the descriptor limit, not memory, usually caps a proxy:
 * a default of 10 000 connections needs about 20 020 descriptors. Past the
 * limit the kernel refuses accept() and socket(), and libuv answers an
 * accept() it cannot make by accepting with a reserve descriptor and closing
 * at once: the client sees a close and nothing else. So a program raises its
 * soft limit to the hard one at start, and the server's default connection
 * limit comes from the descriptors that remain.
 *
 * Node has no setrlimit(2): the soft limit is raised with util-linux
 * prlimit(1) on the process's own pid (allowed without privilege up to the
 * hard limit). Linux only; elsewhere, or without prlimit, nothing changes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Descriptors kept back for listeners, log files, DNS, the event loop and BIND listeners. */
export const DESCRIPTOR_HEADROOM = 64;
/** The connection limit when the descriptor limit allows more (memory, not descriptors, then bounds it). */
export const MAX_CONNECTIONS_CAP = 10000;

export interface DescriptorLimit {
  /** Soft RLIMIT_NOFILE (what the process may open). */
  soft: number;
  /** Hard RLIMIT_NOFILE (the most the soft limit may be raised to). */
  hard: number;
}

export interface RaiseResult extends DescriptorLimit {
  /** The soft limit before. */
  before: number;
  /** Why the soft limit could not be raised, if it could not (e.g. prlimit missing). */
  error?: string;
}

/** RLIMIT_NOFILE of this process from /proc/self/limits; undefined where there is no /proc. */
export function descriptorLimit(): DescriptorLimit | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  // "Max open files            1024                 4096                 files"
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!m) return undefined;
  const n = (s: string) => (s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

/** Descriptors this process has open now (/proc/self/fd); undefined where there is no /proc. */
export function descriptorsInUse(): number | undefined {
  try {
    // The listing itself holds one descriptor while it runs.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/**
 * Raises the soft descriptor limit to the hard one, once, at program start
 * (it runs prlimit synchronously). Never throws: without /proc or prlimit,
 * or when refused, the limit stays and `error` says why.
 */
export function raiseDescriptorLimit(run: (cmd: string, args: string[]) => void = runQuiet): RaiseResult | undefined {
  const lim = descriptorLimit();
  if (!lim) return undefined;
  const before = lim.soft;
  if (lim.soft >= lim.hard) return { ...lim, before };
  const hard = lim.hard === Number.MAX_SAFE_INTEGER ? 'unlimited' : String(lim.hard);
  let error: string | undefined;
  try {
    run('prlimit', [`--pid=${process.pid}`, `--nofile=${hard}:${hard}`]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    error = e.code === 'ENOENT' ? 'prlimit (util-linux) is not installed' : (e.stderr?.toString().trim() || e.message).split('\n')[0];
  }
  const after = descriptorLimit() ?? lim;
  if (!error && after.soft < after.hard) error = 'prlimit left the soft limit unchanged';
  return { ...after, before, error };
}

function runQuiet(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
}

/**
 * The connection limit the descriptors allow: two per tunnel, after the
 * descriptors already open and a headroom; at least 1, at most
 * MAX_CONNECTIONS_CAP. Without /proc: MAX_CONNECTIONS_CAP.
 */
export function connectionLimit(limit: DescriptorLimit | undefined = descriptorLimit(), inUse: number | undefined = descriptorsInUse()): number {
  if (!limit) return MAX_CONNECTIONS_CAP;
  const free = limit.soft - (inUse ?? 0) - DESCRIPTOR_HEADROOM;
  return Math.max(1, Math.min(MAX_CONNECTIONS_CAP, Math.floor(free / 2)));
}

/** Errors that mean "no descriptor could be had" (per process, or system-wide). */
export function isDescriptorExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
