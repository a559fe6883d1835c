/**
 * The connection limits of one process: every SocksServer given the same
 * ConnectionLimits (every listener of sockskit-proxy) counts against the same
 * maxConnections and maxConnectionsPerSource, and the same descriptor budget.
 *
 * Descriptors: each connection is budgeted DESCRIPTORS_PER_CONNECTION (the
 * client and its destination: CONNECT's outbound socket, BIND's listener then
 * peer, UDP's relay socket); a command that holds more says so with charge()
 * (a UDP association: two outbound sockets, one per family). Without an
 * explicit maxConnections the budget is the limit: a connection that would
 * not fit is refused at accept, and a UDP association that would not fit
 * answers REP 01 instead of failing later for want of a descriptor.
 */
import type { Duplex } from 'node:stream';
import { DESCRIPTORS_PER_CONNECTION, MAX_CONNECTIONS_CAP, descriptorBudget } from './limits.js';
import { TokenBucket } from './token-bucket.js';
import { LinkList, type Link } from './link-list.js';

/** A user's buckets at one rate, one per direction. */
interface Buckets {
  up: TokenBucket;
  down: TokenBucket;
}

/**
 * What one user holds: requests open, and the rate buckets their tunnels
 * share, by rate (tunnels decided by rules with different rates each share
 * their own rate's buckets; docs/operations.md, Limits).
 */
interface UserState {
  open: number;
  buckets?: Map<number, Buckets>;
}

export interface ConnectionLimitsOptions {
  /** Descriptors kept back for what else the process opens (the metrics endpoint's connections). */
  reserve?: number;
  /** The descriptor budget itself (default: from RLIMIT_NOFILE and the descriptors open at the first accept). */
  descriptors?: number;
}

interface Held {
  /** The limits that admitted the socket (a socket carries one Held, from one ConnectionLimits). */
  owner: ConnectionLimits;
  host: string | undefined;
  descriptors: number;
  /** The verified user admitUser() counted for this connection (released with it). */
  user: string | undefined;
  /** Its place among the connections still in their handshake (evictOldest's order), until handshakeOver(). */
  handshake: Link<Duplex> | undefined;
}

/**
 * Each admitted socket carries its Held: no Map or Set keyed by sockets
 * (link-list.ts says why they cost every scavenge).
 */
const kHeld = Symbol('sockskit.limits');
type Holder = Duplex & { [kHeld]?: Held | undefined };

export class ConnectionLimits {
  /** Admitted connections not yet released. */
  private count = 0;
  /** Connections that have not sent their request yet, oldest first (the eviction order). */
  private readonly handshaking = new LinkList<Duplex>();
  private readonly perSource = new Map<string, number>();
  private charged = 0;
  private readonly users = new Map<string, UserState>();
  /** null: not read yet (read at the first accept, once the listeners and log files are open). */
  private budget: number | undefined | null = null;

  constructor(private readonly o: ConnectionLimitsOptions = {}) {}

  /** Connections admitted and not closed. */
  get open(): number {
    return this.count;
  }
  /** What `s` holds here, if these limits admitted it. */
  private held(s: Duplex): Held | undefined {
    const h = (s as Holder)[kHeld];
    return h !== undefined && h.owner === this ? h : undefined;
  }
  /** Descriptors budgeted to open connections. */
  get descriptorsHeld(): number {
    return this.charged;
  }
  /** The descriptor budget (undefined where there is no /proc). */
  get descriptors(): number | undefined {
    if (this.budget === null) this.budget = this.o.descriptors ?? descriptorBudget(undefined, undefined, this.o.reserve ?? 0);
    return this.budget;
  }

  /** Open connections from `host` (counted only for servers with a per-source limit). */
  fromSource(host: string): number {
    return this.perSource.get(host) ?? 0;
  }

  /** Whether one more connection would pass `max` (or, without one, the descriptor budget). */
  full(max: number | undefined): boolean {
    if (max !== undefined) return this.open >= max;
    const b = this.descriptors;
    return this.open >= MAX_CONNECTIONS_CAP || (b !== undefined && this.charged + DESCRIPTORS_PER_CONNECTION > b);
  }

  /**
   * Counts an accepted connection until it closes (or is evicted); per source
   * when `perSource`. The caller calls release() at its 'close' (one listener
   * per connection, not a closure and a once wrapper each).
   */
  admit(socket: Duplex, host: string, perSource: boolean): void {
    // The same socket admitted again (an embedder's handle() twice) counts once.
    this.release(socket);
    const h: Held = { owner: this, host: perSource ? host : undefined, descriptors: DESCRIPTORS_PER_CONNECTION, user: undefined, handshake: this.handshaking.add(socket) };
    (socket as Holder)[kHeld] = h;
    this.count++;
    this.charged += h.descriptors;
    if (h.host !== undefined) this.perSource.set(host, this.fromSource(host) + 1);
  }

  /**
   * `n` more descriptors for `socket`'s command. With `enforce` (no explicit
   * maxConnections), false when the budget has no room: nothing is charged then.
   */
  charge(socket: Duplex, n: number, enforce: boolean): boolean {
    const h = this.held(socket);
    if (!h) return true;
    const b = this.descriptors;
    if (enforce && b !== undefined && this.charged + n > b) return false;
    h.descriptors += n;
    this.charged += n;
    return true;
  }

  /**
   * A request by `user` (a verified identity): false when `max` of theirs are
   * open already; otherwise counted until `socket` closes (release(), for an
   * admitted connection: no listener of its own).
   */
  admitUser(socket: Duplex, user: string, max: number | undefined): boolean {
    const u = this.users.get(user) ?? { open: 0 };
    if (max !== undefined && max > 0 && u.open >= max) return false;
    u.open++;
    this.users.set(user, u);
    const h = this.held(socket);
    // An admitted connection gives its user back in release(), which runs at its close anyway.
    if (h && h.user === undefined) h.user = user;
    else socket.once('close', () => this.userLeft(user));
    return true;
  }

  private userLeft(user: string): void {
    const u = this.users.get(user);
    if (u && --u.open === 0) this.users.delete(user);
  }

  /** The throttle for a tunnel of `user` at `rate` bytes/s each way, the buckets shared by their open tunnels at that rate. */
  userThrottle(user: string, rate: number): (way: 'up' | 'down', n: number) => number {
    const u = this.users.get(user);
    if (!u) return () => 0;
    const all = (u.buckets ??= new Map());
    let b = all.get(rate);
    if (!b) all.set(rate, (b = { up: new TokenBucket(rate), down: new TokenBucket(rate) }));
    return (way, n) => b[way].take(n);
  }

  /** The connection has sent its request (or ended): no longer evictable. */
  handshakeOver(s: Duplex): void {
    const h = this.held(s);
    if (h?.handshake) this.handshaking.remove(h.handshake);
    if (h) h.handshake = undefined;
  }

  /** Takes the connection longest in its handshake out of the counts (the caller closes it); undefined when none is. */
  evictOldest(): Duplex | undefined {
    const oldest = this.handshaking.first();
    if (oldest) this.release(oldest);
    return oldest;
  }

  /** The admitted connection closed (or was evicted): out of the counts. Twice is harmless. */
  release(s: Duplex): void {
    const h = this.held(s);
    if (!h) return;
    if (h.handshake) this.handshaking.remove(h.handshake);
    h.handshake = undefined;
    (s as Holder)[kHeld] = undefined;
    this.count--;
    this.charged -= h.descriptors;
    if (h.user !== undefined) this.userLeft(h.user);
    if (h.host === undefined) return;
    const n = this.fromSource(h.host) - 1;
    if (n > 0) this.perSource.set(h.host, n);
    else this.perSource.delete(h.host);
  }
}
