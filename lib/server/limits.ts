/**
 * Descriptor limits. Every tunnel holds two descriptors (client and
 * destination), so the descriptor limit, not memory, usually caps a proxy:
 * a default of 10 000 connections needs about 20 020 descriptors. Past the
 * limit the kernel refuses accept() and socket(), and libuv answers an
 * accept() it cannot make by accepting with a reserve descriptor and closing
 * at once: the client sees a close and nothing else. So the server's default
 * connection limit comes from the descriptors that remain.
 *
 * Nothing here raises the limit: Node raises its own soft RLIMIT_NOFILE to
 * the hard limit as it starts (Linux and macOS; docs/decisions.md), so a
 * program only reports a soft limit still below the hard one.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { DEFAULTS } from './defaults.js';

/** Descriptors kept back for listeners, log files, DNS, the event loop and BIND listeners. */
export const DESCRIPTOR_HEADROOM = DEFAULTS.descriptorHeadroom;
/** The connection limit when the descriptor limit allows more (memory, not descriptors, then bounds it). */
export const MAX_CONNECTIONS_CAP = DEFAULTS.maxConnectionsCap;

export interface DescriptorLimit {
  /** Soft RLIMIT_NOFILE (what the process may open). */
  soft: number;
  /** Hard RLIMIT_NOFILE (the most the soft limit may be raised to). */
  hard: number;
}

export interface RaiseResult extends DescriptorLimit {
  /** The soft limit before (the same: nothing is raised any more). */
  before: number;
  /** Why the soft limit is below the hard one, when it is. */
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
 * The descriptor limits as a program starts, for its start-up warning: Node
 * has already raised the soft limit to the hard one, so `error` is set only
 * when it did not (another platform, or a hard limit that moved since).
 * Reads /proc, spawns nothing, never throws; undefined without /proc.
 */
export function checkDescriptorLimit(limit: DescriptorLimit | undefined = descriptorLimit()): RaiseResult | undefined {
  if (!limit) return undefined;
  const r: RaiseResult = { ...limit, before: limit.soft };
  if (limit.soft < limit.hard) r.error = 'the soft limit is below the hard one (raise it with ulimit -n before starting)';
  return r;
}

/**
 * The connection limit the descriptors allow: two per tunnel, after the
 * descriptors already open, a headroom and `reserve` (what else the process
 * may open: the metrics endpoint's connections); at least 1, at most
 * MAX_CONNECTIONS_CAP. Without /proc: MAX_CONNECTIONS_CAP.
 */
export function connectionLimit(limit: DescriptorLimit | undefined = descriptorLimit(), inUse: number | undefined = descriptorsInUse(), reserve = 0): number {
  const free = descriptorBudget(limit, inUse, reserve);
  return free === undefined ? MAX_CONNECTIONS_CAP : Math.max(1, Math.min(MAX_CONNECTIONS_CAP, Math.floor(free / DESCRIPTORS_PER_CONNECTION)));
}

/** What one client connection is budgeted: itself and its destination (a UDP association and BIND add theirs: DESCRIPTORS_EXTRA). */
export const DESCRIPTORS_PER_CONNECTION = 2;

/**
 * Descriptors connections may use: the soft limit less those open, the
 * headroom and `reserve`; undefined without /proc (no budget then).
 */
export function descriptorBudget(limit: DescriptorLimit | undefined = descriptorLimit(), inUse: number | undefined = descriptorsInUse(), reserve = 0): number | undefined {
  if (!limit) return undefined;
  return Math.max(DESCRIPTORS_PER_CONNECTION, limit.soft - (inUse ?? 0) - DESCRIPTOR_HEADROOM - reserve);
}

/** Errors that mean "no descriptor could be had" (per process, or system-wide). */
export function isDescriptorExhaustion(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
