/**
 * The helpers' result cache: a verdict per (user, password), kept `ttl` ms
 * when the helper said OK and `negativeTtl` ms when it said ERR. Keyed by an
 * HMAC of the pair under a per-process random key, so the table never holds
 * a password, nor a hash that could be attacked offline. Bounded: past
 * `max` entries the oldest goes.
 */
import { createHmac, randomBytes } from 'node:crypto';

export interface CachedVerdict {
  ok: boolean;
  /** The identity the helper gave (user=), for OK. */
  identity?: string;
}

export class VerdictCache {
  private readonly key = randomBytes(32);
  private readonly map = new Map<string, { v: CachedVerdict; expires: number }>();
  constructor(private readonly ttl: number, private readonly negativeTtl: number, private readonly max = 10_000, private readonly now: () => number = Date.now) {}

  private id(user: string, password: string): string {
    // Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
    return createHmac('sha256', this.key).update(`${Buffer.byteLength(user)}:${user}`).update(password).digest('base64');
  }

  get(user: string, password: string): CachedVerdict | undefined {
    if (this.ttl <= 0 && this.negativeTtl <= 0) return undefined;
    const k = this.id(user, password);
    const e = this.map.get(k);
    if (!e) return undefined;
    if (this.now() >= e.expires) {
      this.map.delete(k);
      return undefined;
    }
    return e.v;
  }

  set(user: string, password: string, v: CachedVerdict): void {
    const ttl = v.ok ? this.ttl : this.negativeTtl;
    if (ttl <= 0) return;
    const k = this.id(user, password);
    this.map.delete(k);
    this.map.set(k, { v, expires: this.now() + ttl });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }

  /** Keys held (for tests: no entry may contain the password). */
  keys(): string[] {
    return [...this.map.keys()];
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}
