/**
 * What a server holds of its connections: the open ones, the tunnels'
 * outbound streams, and the counters behind stats() and the metrics.
 * STAT_KEYS is the one list of the plain counters. What the limits count
 * (open connections, per source, the eviction order, descriptors) is in
 * ConnectionLimits, which the listeners of a process share.
 */
import type { Duplex } from 'node:stream';
import { ERROR_CLASSES, type ErrorClass } from './access-log.js';
import { armMarked } from '../transport/keepalive-later.js';
import { LinkList, type Link } from './link-list.js';

/** The plain counters of SocksServerStats, in order: what stats(), the metrics and their sums go through. */
export const STAT_KEYS = ['accepted', 'refused', 'open', 'tunnels', 'tunnelsOpen', 'handoffs', 'bytesUp', 'bytesDown', 'noDescriptor', 'healthChecks'] as const;
export type StatKey = (typeof STAT_KEYS)[number];

export interface SocksServerStats extends Record<StatKey, number> {
  /** Accepts and outbound sockets that failed for want of a descriptor (EMFILE/ENFILE). */
  noDescriptor: number;
  /** Balancer health checks behind a PROXY listener (a LOCAL header or nothing, then a close): not errors. */
  healthChecks: number;
  errors: Record<string, number>;
  errorClasses: Record<ErrorClass, number>;
  /**
   * Methods' own counters by method name (AuthMethod.stats(), added by
   * SocksServer.stats()), e.g. `auth.userpass`: attempts, successes,
   * failures, dropped (client left before the check), busy (queue full),
   * throttled (refused unchecked), delayed (failure answered late).
   */
  auth?: Record<string, Record<string, number>>;
}

/** Every STAT_KEYS counter at zero. */
export function zeroStats(): Record<StatKey, number> {
  return Object.fromEntries(STAT_KEYS.map((k) => [k, 0])) as Record<StatKey, number>;
}

/**
 * An outbound stream's place in its registry's list: its 'close' listener is
 * one shared function, not a closure per tunnel.
 */
const kRegistry = Symbol('sockskit.registry');
type Tracked = Duplex & { [kRegistry]?: Link<Duplex> | undefined };
function untrackUpstream(this: Tracked): void {
  const link = this[kRegistry];
  this[kRegistry] = undefined;
  if (link) link.list?.remove(link);
}

export class ConnectionRegistry {
  /**
   * This server's client connections (drain and close() wait for and destroy
   * them), and the outbound streams of its tunnels (destroyed on close()):
   * lists, not Sets (link-list.ts).
   */
  readonly open = new LinkList<Duplex>();
  private readonly upstreams = new LinkList<Duplex>();
  /** Called after each reconfigure (open UDP associations re-check their identity). */
  private readonly reconfigureWatchers = new Set<() => void>();
  /** The counters; `open` is read from the set. */
  readonly counts: Record<StatKey, number> = zeroStats();
  private readonly errorCodes: Record<string, number> = {};
  private readonly errorClasses = Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<ErrorClass, number>;

  stats(): SocksServerStats {
    const out = { ...this.counts, errors: { ...this.errorCodes }, errorClasses: { ...this.errorClasses } };
    out.open = this.open.size;
    return out;
  }

  accepted(): void {
    this.counts.accepted++;
  }

  /** A connection refused at a limit. */
  refused(): void {
    this.counts.refused++;
    this.errorClasses.limit++;
  }

  /** A client connection: the caller keeps the Link and gives it back to untrack(). */
  track(s: Duplex): Link<Duplex> {
    return this.open.add(s);
  }
  untrack(link: Link<Duplex>): void {
    this.open.remove(link);
  }
  /** An outbound stream that close() must also destroy (out of the list at its 'close'). */
  trackUpstream(s: Duplex): void {
    (s as Tracked)[kRegistry] = this.upstreams.add(s);
    s.on('close', untrackUpstream);
  }
  /** Arms TCP keepalive on the outbound streams marked for it (keepalive-later.ts); false when none is open. */
  armKeepAlive(delayMs: number): boolean {
    armMarked(this.upstreams, delayMs);
    return this.upstreams.size > 0;
  }
  /** Destroys every client connection and outbound stream. */
  destroyAll(): void {
    for (const s of this.open) s.destroy();
    for (const s of this.upstreams) s.destroy();
  }

  /** Calls `f` after each reconfigure until the returned function is called. */
  watchReconfigure(f: () => void): () => void {
    this.reconfigureWatchers.add(f);
    return () => this.reconfigureWatchers.delete(f);
  }
  /** The server was reconfigured: every watcher is told. */
  reconfigured(): void {
    for (const f of [...this.reconfigureWatchers]) f();
  }

  tunnel(): void {
    this.counts.tunnels++;
    this.counts.tunnelsOpen++;
  }
  handoff(): void {
    this.counts.handoffs++;
  }
  errorCode(code: string): void {
    this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1;
  }
  /** A connection closed: its bytes, whether it was a tunnel the server relayed, its error class (none for a health check). */
  ended(bytes: { up: number; down: number } | undefined, tunnel: boolean, error: ErrorClass | undefined, healthCheck = false): void {
    if (healthCheck) {
      this.counts.healthChecks++;
      return;
    }
    if (bytes) {
      this.counts.bytesUp += bytes.up;
      this.counts.bytesDown += bytes.down;
    }
    if (tunnel) this.counts.tunnelsOpen--;
    if (error) this.errorClasses[error]++;
  }
}
