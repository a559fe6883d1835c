/**
 * External authentication through Squid's basic-auth helpers: a pool of
 * helper processes (basic_ncsa_auth, basic_pam_auth, basic_ldap_auth, ... or
 * any program speaking the protocol, protocol.ts), as a `verify` plugin for
 * userpass():
 *
 *   const helper = squidHelper({ command: '/usr/lib/squid/basic_ncsa_auth', args: ['/etc/sockskit/htpasswd'] });
 *   new SocksServer({ methods: [userpass({ verify: helper })] });   ...   helper.close();
 *
 * - `children` processes, each one request at a time, or `concurrency`
 *   requests at once with channel IDs (Squid's concurrent form);
 * - a bounded queue (`queue` waiting requests; past it a login fails at
 *   once), and a `timeout` per request from the moment it is asked: a request
 *   still waiting or unanswered then fails (a one-at-a-time helper that owes
 *   the answer is restarted, since its next line would answer the wrong one);
 * - a helper that dies (or breaks the protocol) is restarted, after a delay
 *   that doubles while it keeps dying at once (100 ms up to 10 s); the
 *   requests it held fail;
 * - verdicts cached `ttl` ms (OK) and `negativeTtl` ms (ERR), keyed by an
 *   HMAC of user and password (cache.ts); BH and failures are not cached.
 *
 * OK answers as the user name, or the helper's `user=` when it gives one;
 * ERR is a wrong login; BH, a timeout or a dead helper fail the login too
 * (and are counted apart).
 */
import createDebug from 'debug';
import { HelperChild, type Pending } from './child.js';
import { VerdictCache } from './cache.js';
import { unescapeField, type HelperReply } from './protocol.js';

export * from './protocol.js';

export interface SquidHelperOptions {
  /** The helper program (absolute path, or looked up in PATH). */
  command: string;
  args?: readonly string[];
  /** Helper processes (default 2). */
  children?: number;
  /** Requests in flight per process with channel IDs; 0 (default): one at a time, no IDs. */
  concurrency?: number;
  /** ms from asking to answer before the login fails (default 5000). */
  timeout?: number;
  /** Requests waiting for a helper (default 64); past it a login fails at once. */
  queue?: number;
  /** ms an OK is cached (default 60000; 0: never). */
  ttl?: number;
  /** ms an ERR is cached (default 5000; 0: never). */
  negativeTtl?: number;
  /** Cached verdicts kept (default 10000). */
  cacheSize?: number;
  /** The helpers' environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Lines the helpers write to stderr, and restarts (default: the `sockskit:squid-helper` debug log). */
  onLog?: (line: string) => void;
}

export interface SquidHelperStats {
  requests: number;
  cacheHits: number;
  ok: number;
  err: number;
  /** BH answers, timeouts, dead helpers. */
  broken: number;
  timeouts: number;
  /** Logins failed at once: the queue was full. */
  queueFull: number;
  restarts: number;
  /** Helper processes running now, and requests waiting for one. */
  running: number;
  waiting: number;
}

/** A verify function for userpass(), with the pool's controls. */
export interface SquidHelper {
  (username: string, password: string, ctx?: { signal?: AbortSignal }): Promise<string | false>;
  /** Starts the helper processes now (otherwise at the first login). */
  start(): void;
  /** Ends the helpers; waiting logins fail. */
  close(): void;
  stats(): SquidHelperStats;
}

/** A request from asking to answer: the child settles it through resolve/reject, which go through finish(). */
interface Job extends Pending {
  timer: NodeJS.Timeout | undefined;
  /** Removes the client's abort listener (it holds the job, password included, while the connection lives). */
  unlisten?: () => void;
  child?: HelperChild;
  done: boolean;
  ok: (r: HelperReply) => void;
  fail: (e: Error) => void;
}

const debug = createDebug('sockskit:squid-helper');
const LEFT = 'the client left';

export function squidHelper(options: SquidHelperOptions): SquidHelper {
  return new HelperPool(options).verifier();
}

class HelperPool {
  private readonly o: Required<Omit<SquidHelperOptions, 'env' | 'onLog' | 'args'>> & Pick<SquidHelperOptions, 'env'> & { args: readonly string[] };
  private readonly log: (line: string) => void;
  private readonly cache: VerdictCache;
  private readonly slots: (HelperChild | undefined)[];
  private readonly backoff: number[];
  private readonly restartTimers: (NodeJS.Timeout | undefined)[];
  private readonly waiting: Job[] = [];
  private closed = false;
  private started = false;
  private readonly counts = { requests: 0, cacheHits: 0, ok: 0, err: 0, broken: 0, timeouts: 0, queueFull: 0, restarts: 0 };

  constructor(options: SquidHelperOptions) {
    this.o = {
      command: options.command,
      args: options.args ?? [],
      children: Math.max(1, options.children ?? 2),
      concurrency: Math.max(0, options.concurrency ?? 0),
      timeout: options.timeout ?? 5000,
      queue: options.queue ?? 64,
      ttl: options.ttl ?? 60_000,
      negativeTtl: options.negativeTtl ?? 5000,
      cacheSize: options.cacheSize ?? 10_000,
      env: options.env,
    };
    this.log = options.onLog ?? ((line) => debug('%s', line));
    this.cache = new VerdictCache(this.o.ttl, this.o.negativeTtl, this.o.cacheSize);
    this.slots = new Array(this.o.children).fill(undefined);
    this.backoff = new Array(this.o.children).fill(0);
    this.restartTimers = new Array(this.o.children).fill(undefined);
  }

  verifier(): SquidHelper {
    const f = ((user: string, password: string, ctx?: { signal?: AbortSignal }) => this.check(user, password, ctx?.signal)) as SquidHelper;
    f.start = () => this.start();
    f.close = () => this.close();
    f.stats = () => ({ ...this.counts, running: this.slots.filter((c) => c?.alive).length, waiting: this.waiting.length });
    return f;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (let i = 0; i < this.slots.length; i++) this.spawn(i);
  }

  private spawn(i: number): void {
    this.restartTimers[i] = undefined;
    if (this.closed) return;
    const child = new HelperChild(this.o.command, this.o.args, this.o.concurrency, {
      onExit: (c, why, pending) => this.onExit(i, c, why, pending),
      onLog: (line) => this.log(line),
      onIdle: () => this.pump(),
    }, this.o.env);
    this.slots[i] = child;
    this.pump();
  }

  private onExit(i: number, child: HelperChild, why: string, pending: Pending[]): void {
    for (const p of pending) this.finish(p as Job, undefined, `helper ${why}`);
    if (this.slots[i] !== child) return;
    this.slots[i] = undefined;
    if (this.closed) return;
    // A helper that lived a while is restarted at once; one that keeps dying waits longer each time.
    const lived = Date.now() - child.startedAt;
    this.backoff[i] = lived > 10_000 ? 0 : Math.min(10_000, Math.max(100, this.backoff[i]! * 2));
    this.counts.restarts++;
    this.log(`helper ${this.o.command} ${why}; restarting in ${this.backoff[i]} ms`);
    const t = setTimeout(() => this.spawn(i), this.backoff[i]);
    t.unref();
    this.restartTimers[i] = t;
  }

  private check(user: string, password: string, signal: AbortSignal | undefined): Promise<string | false> {
    this.counts.requests++;
    const hit = this.cache.get(user, password);
    if (hit) {
      this.counts.cacheHits++;
      return Promise.resolve(hit.ok ? (hit.identity ?? user) : false);
    }
    // A NUL cannot be passed: the helper's unescaping would cut the string there.
    if (this.closed || user.includes('\0') || password.includes('\0')) return Promise.resolve(false);
    if (this.waiting.length >= this.o.queue) {
      this.counts.queueFull++;
      return Promise.reject(new Error('auth helper queue full'));
    }
    this.start();
    return new Promise<HelperReply>((ok, fail) => {
      const job: Job = {
        user, password, ok, fail, done: false, timer: undefined,
        resolve: (r) => this.finish(job, r, ''),
        reject: (e) => this.finish(job, undefined, e.message),
      };
      if (signal?.aborted) return this.finish(job, undefined, LEFT);
      job.timer = setTimeout(() => this.timedOut(job), this.o.timeout);
      if (signal) {
        const onAbort = () => this.finish(job, undefined, LEFT);
        signal.addEventListener('abort', onAbort, { once: true });
        job.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.waiting.push(job);
      this.pump();
    }).then((reply) => this.verdict(user, password, reply));
  }

  private verdict(user: string, password: string, reply: HelperReply): string | false {
    if (reply.result === 'OK') {
      this.counts.ok++;
      const identity = reply.kv.user !== undefined ? unescapeField(reply.kv.user) : user;
      this.cache.set(user, password, { ok: true, identity });
      return identity;
    }
    if (reply.result === 'ERR') {
      this.counts.err++;
      this.cache.set(user, password, { ok: false });
      return false;
    }
    this.counts.broken++;
    throw new Error(`auth helper could not decide (BH${reply.message || reply.kv.message ? `: ${(reply.message ?? reply.kv.message)!.slice(0, 200)}` : ''})`);
  }

  /** Hands waiting requests to helpers with room, the least busy first. */
  private pump(): void {
    while (this.waiting.length > 0) {
      let best: HelperChild | undefined;
      for (const c of this.slots) if (c && c.room > 0 && (!best || c.busy < best.busy)) best = c;
      if (!best) return;
      const job = this.waiting.shift()!;
      job.child = best;
      best.send(job);
    }
  }

  private timedOut(job: Job): void {
    if (job.done) return;
    this.counts.timeouts++;
    this.finish(job, undefined, `no answer within ${this.o.timeout} ms`);
  }

  /** Settles a job once: with a reply, or failed with `why` (and taken back from its queue or helper). */
  private finish(job: Job, reply: HelperReply | undefined, why: string): void {
    if (job.done) return;
    job.done = true;
    clearTimeout(job.timer);
    job.unlisten?.();
    if (reply) {
      job.ok(reply);
      return;
    }
    const i = this.waiting.indexOf(job);
    if (i >= 0) this.waiting.splice(i, 1);
    // A client that left does not cost a helper: its answer, when it comes, is dropped.
    else if (why !== LEFT) job.child?.forget(job, `gave no answer (${why})`);
    if (why !== LEFT) this.counts.broken++;
    job.fail(new Error(`auth helper: ${why}`));
  }

  close(): void {
    this.closed = true;
    for (const t of this.restartTimers) if (t) clearTimeout(t);
    for (const job of [...this.waiting]) this.finish(job, undefined, 'closed');
    for (const c of this.slots) c?.kill('closing');
    this.cache.clear();
  }
}
