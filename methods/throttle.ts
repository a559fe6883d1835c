/**
 * Login throttling, by source address (sourceKey(): the IPv4 address or the
 * IPv6 /64) and by user name.
 *
 * - A failed login is answered late: after `freeFailures` failures, the
 *   answer waits `delay` ms, doubling with each further failure up to
 *   `maxDelay` — the larger of the source's and the name's delay.
 * - Past `limit` failures a source is refused for `lockout` ms: its logins
 *   fail at once, unchecked (no scrypt, no helper call), right password or not.
 * - A success answers at once and clears that name's failures. It does not
 *   clear the source's: a guesser holding one valid account must not be able
 *   to launder his address with it. Failures are forgotten after `window` ms
 *   without one.
 * - By name, refusal is off unless `userLimit` is set: a name that anyone
 *   can lock out is a denial of service on its owner (docs/operations.md).
 *
 * Tables are bounded (`maxEntries` each, the least recently failed go
 * first), so a spray of addresses costs memory only up to that bound.
 */
export interface LoginThrottleOptions {
  /** Failures (per source, per name) answered without delay (default 3). */
  freeFailures?: number;
  /** The first delay in ms (default 250), doubled per further failure. */
  delay?: number;
  /** The longest delay in ms (default 4000). */
  maxDelay?: number;
  /** Failures from one source before it is refused (default 10; 0: never refused). */
  limit?: number;
  /** How long a source stays refused, ms (default 300000). */
  lockout?: number;
  /** Failures on one name before that name is refused from every source (default 0: never). */
  userLimit?: number;
  /** Failures are forgotten after this long without one, ms (default 900000). */
  window?: number;
  /** Entries kept per table (default 10000). */
  maxEntries?: number;
  /** The clock (tests). */
  now?: () => number;
}

export interface LoginThrottleStats {
  /** Failed logins recorded. */
  failures: number;
  /** Failed answers that were delayed. */
  delayed: number;
  /** Logins refused unchecked (source or name locked out). */
  refused: number;
  /** Sources locked out right now. */
  lockedSources: number;
  /** Sources and names with failures on record. */
  sources: number;
  users: number;
}

interface Entry {
  failures: number;
  last: number;
  lockedUntil: number;
}

/** One table of failures (by source or by name), bounded, least recently failed first out. */
class FailureTable {
  private readonly map = new Map<string, Entry>();
  constructor(private readonly max: number, private readonly window: number) {}

  get size(): number {
    return this.map.size;
  }
  /** The live entry for `key` (expired ones are forgotten). */
  get(key: string, now: number): Entry | undefined {
    const e = this.map.get(key);
    if (e && now - e.last > this.window && now >= e.lockedUntil) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }
  fail(key: string, now: number): Entry {
    const e = this.get(key, now) ?? { failures: 0, last: now, lockedUntil: 0 };
    e.failures++;
    e.last = now;
    // Re-inserted at the end: Map order is then least recently failed first.
    this.map.delete(key);
    this.map.set(key, e);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return e;
  }
  clear(key: string): void {
    this.map.delete(key);
  }
  locked(now: number): number {
    let n = 0;
    for (const e of this.map.values()) if (e.lockedUntil > now) n++;
    return n;
  }
}

export class LoginThrottle {
  private readonly o: Required<Omit<LoginThrottleOptions, 'now'>>;
  private readonly now: () => number;
  private readonly sources: FailureTable;
  private readonly users: FailureTable;
  private readonly counts = { failures: 0, delayed: 0, refused: 0 };

  constructor(options: LoginThrottleOptions = {}) {
    this.o = {
      freeFailures: options.freeFailures ?? 3,
      delay: options.delay ?? 250,
      maxDelay: options.maxDelay ?? 4000,
      limit: options.limit ?? 10,
      lockout: options.lockout ?? 300_000,
      userLimit: options.userLimit ?? 0,
      window: options.window ?? 900_000,
      maxEntries: options.maxEntries ?? 10_000,
    };
    this.now = options.now ?? Date.now;
    this.sources = new FailureTable(this.o.maxEntries, this.o.window);
    this.users = new FailureTable(this.o.maxEntries, this.o.window);
  }

  /** Whether a login from `source` as `user` may be checked at all; counts a refusal. */
  admit(source: string, user: string): boolean {
    const now = this.now();
    const locked = (this.sources.get(source, now)?.lockedUntil ?? 0) > now || (this.users.get(user, now)?.lockedUntil ?? 0) > now;
    if (locked) this.counts.refused++;
    return !locked;
  }

  /** Records a failed login; returns how long its answer should wait (ms). */
  failed(source: string, user: string): number {
    const now = this.now();
    this.counts.failures++;
    const s = this.sources.fail(source, now);
    const u = this.users.fail(user, now);
    if (this.o.limit > 0 && s.failures >= this.o.limit) s.lockedUntil = now + this.o.lockout;
    if (this.o.userLimit > 0 && u.failures >= this.o.userLimit) u.lockedUntil = now + this.o.lockout;
    const ms = Math.max(this.delayFor(s.failures), this.delayFor(u.failures));
    if (ms > 0) this.counts.delayed++;
    return ms;
  }

  /** Records a successful login: the name's failures are cleared (the source's are not). */
  succeeded(_source: string, user: string): void {
    this.users.clear(user);
  }

  private delayFor(failures: number): number {
    const over = failures - this.o.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.o.maxDelay, this.o.delay * 2 ** Math.min(over - 1, 30));
  }

  stats(): LoginThrottleStats {
    return { ...this.counts, lockedSources: this.sources.locked(this.now()), sources: this.sources.size, users: this.users.size };
  }
}

/**
 * Waits `ms`, but never past `deadline - margin` (so the failure can still be
 * answered before the handshake deadline closes the connection) and no
 * longer than the client stays (`signal`).
 */
export function waitBefore(ms: number, signal: AbortSignal | undefined, deadline: number | undefined, margin = 100): Promise<void> {
  const until = deadline ? Math.min(Date.now() + ms, deadline - margin) : Date.now() + ms;
  const wait = until - Date.now();
  if (wait <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, wait);
    signal?.addEventListener('abort', done, { once: true });
  });
}
