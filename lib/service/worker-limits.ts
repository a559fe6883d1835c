/**
 * --max-connections and --max-connections-per-source under --workers: each
 * worker counts its own connections (a shared count would cost an IPC round
 * trip per accept), so the primary hands each worker a share of each limit,
 * the shares summing to the limit (docs/operations.md, "Limits and workers").
 * A worker's share travels in its environment (WORKER_SLOT_ENV), so a
 * replacement worker gets the share of the one it replaces.
 */
import type { SocksServerOptions } from '../server/index.js';

/** The environment variable that tells a worker its slot (0 .. workers-1). */
export const WORKER_SLOT_ENV = 'SOCKSKIT_WORKER_SLOT';

/** Worker `slot`'s share of `total` over `workers`: the shares sum to `total`, each at least 1. */
export function workerShare(total: number, workers: number, slot: number): number {
  return Math.max(1, Math.floor(total / workers) + (slot < total % workers ? 1 : 0));
}

/** The options with worker `slot`'s share of each explicit limit (0 and unset stay as they are). */
export function workerOptions(o: SocksServerOptions, workers: number, slot: number): SocksServerOptions {
  const share = (n: number | undefined) => (n === undefined || n <= 0 ? n : workerShare(n, workers, slot));
  return { ...o, maxConnections: share(o.maxConnections), maxConnectionsPerSource: share(o.maxConnectionsPerSource), maxConnectionsPerUser: share(o.maxConnectionsPerUser), ratePerUser: share(o.ratePerUser) };
}

/** The start-up line that says how the limits were split, or undefined when no limit is set. */
export function workerLimitsLine(o: SocksServerOptions, workers: number): string | undefined {
  const parts: string[] = [];
  for (const [flag, n] of [['--max-connections', o.maxConnections], ['--max-connections-per-source', o.maxConnectionsPerSource], ['--max-connections-per-user', o.maxConnectionsPerUser], ['--rate-per-user', o.ratePerUser]] as const) {
    if (n === undefined || n <= 0) continue;
    const shares = Array.from({ length: workers }, (_, i) => workerShare(n, workers, i));
    const sum = shares.reduce((a, b) => a + b, 0);
    parts.push(`${flag} ${n} split over ${workers} workers: ${shares.join('+')} (${sum} in all${sum > n ? `, more than ${n}: fewer workers than connections` : ''})`);
  }
  return parts.length ? `limits: ${parts.join('; ')}` : undefined;
}
