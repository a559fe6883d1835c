/**
 * A bounded queue for expensive credential checks (scrypt, an auth helper).
 *
 * scrypt runs on libuv's threadpool, which DNS lookups (getaddrinfo) and fs
 * share: 4 threads unless UV_THREADPOOL_SIZE says otherwise. Left alone, a
 * flood of one-packet logins fills every thread and every lookup waits
 * behind it. The queue runs at most `concurrency` checks at once (by default
 * a quarter of the pool, at least one), holds a bounded number waiting, and
 * serves sources in turn (round robin by sourceKey(), so one address cannot
 * push another's login to the back), and drops a waiting check as soon as
 * its client has gone (its AbortSignal) or its deadline has passed. A check
 * starts one event-loop turn after it is asked for at the earliest, so that
 * a login sent with its FIN is dropped before it costs a scrypt.
 */
import { AuthError, SocksError } from '../lib/protocol/errors.js';

export interface VerifyQueueOptions {
  /** Checks running at once (default: a quarter of UV_THREADPOOL_SIZE, 4 when unset; at least 1). */
  concurrency?: number;
  /** Checks waiting, all sources together (default 1024); past it a check fails at once. */
  maxQueued?: number;
  /** Checks waiting per source (default 16). */
  maxQueuedPerSource?: number;
}

export interface VerifyJobOptions {
  /** Fairness key (sourceKey() of the client's address). */
  source?: string;
  /** Aborted when the client leaves: a waiting check is dropped. */
  signal?: AbortSignal;
  /** A Date.now() value: a check still waiting then is dropped. */
  deadline?: number;
}

export interface VerifyQueueStats {
  /** Checks started. */
  ran: number;
  /** Checks dropped while waiting: the client left or its deadline passed. */
  dropped: number;
  /** Checks refused because the queue (or the source's share) was full. */
  rejected: number;
  running: number;
  queued: number;
}

interface Job {
  work: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  source: string;
  deadline: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** libuv's threadpool size for this process (what UV_THREADPOOL_SIZE asked, 4 by default). */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 1024) : 4;
}

export class VerifyQueue {
  readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly maxPerSource: number;
  /** Waiting jobs per source; Map order is the round-robin order. */
  private readonly waiting = new Map<string, Job[]>();
  private queued = 0;
  private running = 0;
  private scheduled = false;
  private last: string | undefined;
  private readonly counts = { ran: 0, dropped: 0, rejected: 0 };

  constructor(options: VerifyQueueOptions = {}) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? threadpoolSize() / 4));
    this.maxQueued = options.maxQueued ?? 1024;
    this.maxPerSource = options.maxQueuedPerSource ?? 16;
  }

  stats(): VerifyQueueStats {
    return { ...this.counts, running: this.running, queued: this.queued };
  }

  /** Runs `work` when a slot is free and it is this source's turn; rejects when dropped or refused. */
  run<T>(work: () => T | Promise<T>, o: VerifyJobOptions = {}): Promise<Awaited<T>> {
    if (o.signal?.aborted) return this.drop(undefined);
    const source = o.source ?? '-';
    const list = this.waiting.get(source);
    if (this.queued >= this.maxQueued || (list?.length ?? 0) >= this.maxPerSource) {
      this.counts.rejected++;
      return Promise.reject(new AuthError('too many credential checks waiting'));
    }
    return new Promise((resolve, reject) => {
      const job: Job = { work, resolve: resolve as (v: unknown) => void, reject, source, deadline: o.deadline ?? Infinity, signal: o.signal, onAbort: undefined };
      if (o.signal) {
        job.onAbort = () => this.remove(job);
        o.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (list) list.push(job);
      else this.waiting.set(source, [job]);
      this.queued++;
      this.schedule();
    });
  }

  /**
   * Starts waiting checks on the next turn of the event loop, never at once:
   * a client that sent its login and closed in the same packet has its
   * close (and its signal's abort) handled first, and costs no check.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.next();
    });
  }

  private drop(job: Job | undefined): Promise<never> {
    this.counts.dropped++;
    const err = new SocksError('ERR_SOCKS_CLOSED', 'the client left before its credentials were checked');
    job?.reject(err);
    return Promise.reject(err);
  }

  /** A waiting job whose client left: out of the queue now, so it holds no slot and no memory. */
  private remove(job: Job): void {
    const list = this.waiting.get(job.source);
    const i = list ? list.indexOf(job) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.waiting.delete(job.source);
    this.queued--;
    this.drop(job).catch(noop);
  }

  private start(work: () => unknown, source: string): Promise<unknown> {
    this.last = source;
    this.running++;
    this.counts.ran++;
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(work());
    } catch (err) {
      p = Promise.reject(err);
    }
    return p.finally(() => {
      this.running--;
      this.next();
    });
  }

  /** Starts the next job: the first source in turn gives its oldest, then goes to the back. */
  private next(): void {
    while (this.running < this.concurrency && this.queued > 0) {
      let [source, list] = this.waiting.entries().next().value as [string, Job[]];
      // The source served last goes behind the others, even when it got in without waiting.
      if (source === this.last && this.waiting.size > 1) {
        this.waiting.delete(source);
        this.waiting.set(source, list);
        [source, list] = this.waiting.entries().next().value as [string, Job[]];
      }
      const job = list.shift()!;
      this.waiting.delete(source);
      if (list.length > 0) this.waiting.set(source, list);
      this.queued--;
      if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
      if (Date.now() >= job.deadline || job.signal?.aborted) {
        this.drop(job).catch(noop);
        continue;
      }
      this.start(job.work, source).then(job.resolve, job.reject);
    }
  }
}

function noop(): void {}
