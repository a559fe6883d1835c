/**
 * What a server holds of its connections: the open ones (what maxConnections
 * counts), those still in their handshake (the eviction order), the count per
 * source address, the tunnels' outbound streams, and the counters behind
 * stats() and the metrics. STAT_KEYS is the one list of the plain counters.
 */
import type { Duplex } from 'node:stream';
import { ERROR_CLASSES, type ErrorClass } from './access-log.js';

/** The plain counters of SocksServerStats, in order: what stats(), the metrics and their sums go through. */
export const STAT_KEYS = ['accepted', 'refused', 'open', 'tunnels', 'tunnelsOpen', 'handoffs', 'bytesUp', 'bytesDown', 'noDescriptor'] as const;
export type StatKey = (typeof STAT_KEYS)[number];

export interface SocksServerStats extends Record<StatKey, number> {
  /** Accepts and outbound sockets that failed for want of a descriptor (EMFILE/ENFILE). */
  noDescriptor: number;
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

export class ConnectionRegistry {
  /** Client connections (what maxConnections counts). */
  readonly open = new Set<Duplex>();
  /** Connections that have not sent their request yet, oldest first (the eviction order). */
  private readonly handshaking = new Set<Duplex>();
  /** Open connections by TCP peer address, when maxConnectionsPerSource is set. */
  private readonly perSource = new Map<string, number>();
  /** Outbound streams of tunnels, destroyed on close(). */
  private readonly upstreams = new Set<Duplex>();
  /** The counters; `open` is read from the set. */
  readonly counts: Record<StatKey, number> = zeroStats();
  private readonly errorCodes: Record<string, number> = {};
  private readonly errorClasses = Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<ErrorClass, number>;

  stats(): SocksServerStats {
    const out = { ...this.counts, errors: { ...this.errorCodes }, errorClasses: { ...this.errorClasses } };
    out.open = this.open.size;
    return out;
  }

  /** Open connections from `host` (with a per-source limit set). */
  fromSource(host: string): number {
    return this.perSource.get(host) ?? 0;
  }

  /** An accepted connection; with `perSource`, counted for its host until it closes. */
  accepted(socket: Duplex, host: string, perSource: boolean): void {
    this.counts.accepted++;
    if (!perSource) return;
    this.perSource.set(host, this.fromSource(host) + 1);
    socket.once('close', () => {
      const n = (this.perSource.get(host) ?? 1) - 1;
      if (n > 0) this.perSource.set(host, n);
      else this.perSource.delete(host);
    });
  }

  /** A connection refused at a limit. */
  refused(): void {
    this.counts.refused++;
    this.errorClasses.limit++;
  }

  /** Takes the connection longest in its handshake out of the sets (the caller closes it); undefined when none is. */
  evictOldest(): Duplex | undefined {
    const oldest = this.handshaking.values().next().value as Duplex | undefined;
    if (!oldest) return undefined;
    this.handshaking.delete(oldest);
    this.open.delete(oldest);
    return oldest;
  }

  track(s: Duplex): void {
    this.open.add(s);
    this.handshaking.add(s);
  }
  untrack(s: Duplex): void {
    this.open.delete(s);
    this.handshaking.delete(s);
  }
  /** The connection has sent its request (or ended): no longer evictable. */
  handshakeOver(s: Duplex): void {
    this.handshaking.delete(s);
  }
  /** An outbound stream that close() must also destroy. */
  trackUpstream(s: Duplex): void {
    this.upstreams.add(s);
    s.on('close', () => this.upstreams.delete(s));
  }
  /** Destroys every client connection and outbound stream. */
  destroyAll(): void {
    for (const s of this.open) s.destroy();
    for (const s of this.upstreams) s.destroy();
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
  /** A connection closed: its bytes, whether it was a tunnel the server relayed, its error class. */
  ended(bytes: { up: number; down: number } | undefined, tunnel: boolean, error: ErrorClass | undefined): void {
    if (bytes) {
      this.counts.bytesUp += bytes.up;
      this.counts.bytesDown += bytes.down;
    }
    if (tunnel) this.counts.tunnelsOpen--;
    if (error) this.errorClasses[error]++;
  }
}
