/**
 * A token bucket for a byte rate: take(n) debits n bytes and says how long
 * the reader should pause for the bucket to be back in credit. The burst is
 * small (a tenth of a second's worth, at least 16 KiB) so a measured rate
 * stays close to the configured one from the first second.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  readonly burst: number;

  constructor(readonly rate: number, private readonly now: () => number = () => performance.now()) {
    this.burst = Math.max(16 * 1024, rate / 10);
    this.tokens = this.burst;
    this.last = now();
  }

  /** Debits `n` bytes; the milliseconds until the bucket is in credit again (0: go on). */
  take(n: number): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }
}

/** A byte rate as written in options: a number with an optional K, M or G (powers of 1024), per second. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?B)?(?:\/s)?\s*$/.exec(text);
  if (!m) throw new Error(`expected a rate in bytes per second such as 500K or 10M, got ${JSON.stringify(text)}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const n = Math.floor(Number(m[1]) * mult);
  if (n < 1) throw new Error(`a rate must be at least 1 byte per second, got ${JSON.stringify(text)}`);
  return n;
}
