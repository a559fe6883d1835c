/**
 * --workers N: the primary forks N workers, restarts one that dies, serves
 * /metrics and answers USR1 with the sum of the workers' counters (IPC), and
 * passes HUP and TERM on; each worker runs the servers and writes its own
 * access-log lines (O_APPEND, whole lines per write(2): they never interleave
 * within a line).
 */
import cluster, { type Worker } from 'node:cluster';
import { mergeSnapshots, processFigures, renderMetrics, type MetricsSnapshot, type SeriesValue } from '../server/index.js';
import { WORKERS_SERIES, serveMetrics, statsLine, sumExtras } from './metrics-endpoint.js';
import { startNode, type ServiceNode } from './node.js';
import type { ServiceConfig, ServiceIo, ServiceProgram } from './types.js';
import { WORKER_SLOT_ENV, workerLimitsLine, workerOptions } from './worker-limits.js';
import { pinInputs, recordInputs, type Inputs } from './inputs.js';

type Ipc =
  | { type: 'snapshot'; id: number }
  | { type: 'snapshot-reply'; id: number; snapshot: MetricsSnapshot; extra: Record<string, SeriesValue> }
  // The files of the configuration in force, as the primary read them (inputs.ts): a new worker starts on them, a reload moves to them.
  | { type: 'inputs' }
  | { type: 'start'; inputs: Inputs }
  | { type: 'reload'; inputs: Inputs }
  | { type: 'drain' }
  | { type: 'cut' };

/**
 * A worker: waits for the files of the configuration in force, builds from
 * them (not from the disk) with its share of the limits, serves, answers the primary.
 */
export function runWorker<C extends ServiceConfig>(prog: ServiceProgram<C>, io: ServiceIo): Promise<number> {
  const id = cluster.worker!.id;
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? 0);
  // Every build (the first and each reload) gets this worker's share of the limits.
  const p: ServiceProgram<C> = { ...prog, build: () => {
    const c = prog.build();
    return c.help || c.version ? c : { ...c, options: workerOptions(c.options, c.workers, slot) };
  } };
  return new Promise<number>((resolve, reject) => {
    let node: ServiceNode<C> | undefined;
    const done = () => resolve(0);
    // The primary passes signals on; these keep a signal sent to the whole
    // process group from killing the worker (HUP) or opening the inspector (USR1).
    for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGINT']) io.signals.on(sig, () => {});
    io.signals.on('SIGTERM', () => (node ? node.drain(done) : done()));
    process.on('message', (m: Ipc) => {
      if (m.type === 'start' && !node) return start(m.inputs);
      if (m.type === 'drain' && !node) return done();
      if (!node) return;
      if (m.type === 'snapshot') process.send!({ type: 'snapshot-reply', id: m.id, snapshot: node.metrics.snapshot(), extra: p.extraStats?.() ?? {} } satisfies Ipc);
      else if (m.type === 'reload') {
        pinInputs(m.inputs);
        node.reload(true);
      }
      else if (m.type === 'drain') node.drain(done);
      else if (m.type === 'cut') node.cut();
    });
    let starting = false;
    const start = (inputs: Inputs) => {
      if (starting) return;
      starting = true;
      pinInputs(inputs);
      let cfg: C;
      try {
        cfg = p.build();
      } catch (err) {
        return reject(err);
      }
      startNode(p, cfg, id, io).then((n) => (node = n), reject);
    };
    // Asked once the listener is in place: a message sent before it would be lost.
    process.send!({ type: 'inputs' } satisfies Ipc);
  });
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
}

/** The primary's own share of the sums: its process figures. */
function primarySnapshot(): MetricsSnapshot {
  return { ...mergeSnapshots([]), process: processFigures() };
}

/** Asks every worker for its counters (at most 1 s) and sums them, with the primary's process figures. */
function gather(id: number): Promise<{ snap: MetricsSnapshot; extra: Record<string, SeriesValue> }> {
  const workers = liveWorkers();
  return new Promise((resolve) => {
    const got: MetricsSnapshot[] = [primarySnapshot()];
    const extra: Record<string, SeriesValue> = {};
    const finish = () => {
      clearTimeout(t);
      for (const w of workers) w.removeListener('message', onMsg);
      resolve({ snap: mergeSnapshots(got), extra: { ...extra, workers: got.length - 1 } });
    };
    const onMsg = (m: Ipc) => {
      if (m.type !== 'snapshot-reply' || m.id !== id) return;
      got.push(m.snapshot);
      sumExtras(extra, m.extra);
      if (got.length === workers.length + 1) finish();
    };
    const t = setTimeout(finish, 1000);
    for (const w of workers) {
      w.on('message', onMsg);
      w.send({ type: 'snapshot', id } satisfies Ipc, ignoreSendError);
    }
    if (workers.length === 0) finish();
  });
}

/** Forks a new worker for one that died; one that dies at once (a config it cannot load) must not spin: at most 5 per 10 s. */
function supervise(prog: string, io: ServiceIo, stopping: () => boolean, allGone: () => void, fork: (slot: number) => void, slots: Map<number, number>): void {
  const restarts: number[] = [];
  cluster.on('exit', (w, code, signal) => {
    if (stopping()) {
      if (Object.keys(cluster.workers ?? {}).length === 0) allGone();
      return;
    }
    io.stderr.write(`${prog}: worker ${w.id} (pid ${w.process.pid}) exited (${signal ?? `code ${code}`}); starting a new one\n`);
    const now = Date.now();
    while (restarts.length && now - restarts[0]! > 10000) restarts.shift();
    restarts.push(now);
    const slot = slots.get(w.id) ?? 0;
    slots.delete(w.id);
    setTimeout(() => fork(slot), restarts.length > 5 ? 2000 : 0);
  });
}

/** Every worker, connected or not. */
function allWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
}

/** A message to every worker still connected; one that is exiting cannot take it, and that is no error (an unheard send error would end the primary). */
function broadcast(m: Ipc): void {
  for (const w of allWorkers()) if (w.isConnected()) w.send(m, ignoreSendError);
}

function ignoreSendError(): void {}

/** The primary: forks, supervises, sums the workers' counters, passes signals on. */
export function runPrimary<C extends ServiceConfig>(p: ServiceProgram<C>, first: { value: C; inputs: Inputs }, io: ServiceIo): Promise<number> {
  return new Promise<number>((resolve, reject) => new Primary(p, first, io, resolve, reject).start());
}

class Primary<C extends ServiceConfig> {
  private cfg: C;
  private inputs: Inputs;
  /** Each worker keeps a slot: its share of the limits (worker-limits.ts), kept by its replacement. */
  private readonly slots = new Map<number, number>();
  private stopping = false;
  private seq = 0;
  private code = 0;
  private metrics: ReturnType<typeof serveMetrics> | undefined;

  constructor(
    private readonly p: ServiceProgram<C>,
    first: { value: C; inputs: Inputs },
    private readonly io: ServiceIo,
    private readonly resolve: (code: number) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.cfg = first.value;
    this.inputs = first.inputs;
  }

  private say(line: string): void {
    this.io.stderr.write(`${this.p.prog}: ${line}\n`);
  }

  start(): void {
    const { p, io, cfg } = this;
    supervise(p.prog, io, () => this.stopping, () => this.resolve(this.code), this.fork, this.slots);
    // Workers accept from the shared listening socket themselves (SCHED_NONE):
    // with Node's round-robin default the primary accepts every connection and
    // passes it over IPC, which doubled the CPU per connection (docs/performance.md).
    // NODE_CLUSTER_SCHED_POLICY=rr brings round-robin back.
    if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
    this.say(`starting ${cfg.workers} workers (primary pid ${process.pid})`);
    const limits = workerLimitsLine(cfg.options, cfg.workers);
    if (limits) this.say(limits);
    for (let i = 0; i < cfg.workers; i++) this.fork(i);
    p.onServing?.(cfg, async () => {
      const { snap, extra } = await gather(++this.seq);
      return { snapshot: snap, extra };
    });
    this.metrics = cfg.metrics ? serveMetrics(cfg.metrics, async () => {
      const { snap, extra } = await gather(++this.seq);
      return renderMetrics(snap, { defs: { ...p.extraSeries, ...WORKERS_SERIES }, values: extra });
    }, { listening: (where) => this.say(`metrics on http://${where}/metrics`), error: (err) => { this.stop(); this.reject(err); } }) : undefined;
    io.signals.on('SIGUSR1', () => void gather(++this.seq).then(({ snap, extra }) => this.say(`stats ${statsLine(snap, extra)}`)));
    io.signals.on('SIGHUP', () => this.reload());
    io.signals.on('SIGINT', this.onInt);
    io.signals.on('SIGTERM', this.onTerm);
  }

  private readonly fork = (slot: number): void => {
    const w = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    this.slots.set(w.id, slot);
    // A worker's IPC errors (a channel closing as it exits) are the supervisor's business, not a crash of the primary.
    w.on('error', ignoreSendError);
    w.on('message', (m: Ipc) => {
      if (m.type === 'inputs') w.send({ type: 'start', inputs: this.inputs } satisfies Ipc, ignoreSendError);
    });
  };

  private reload(): void {
    const { p } = this;
    // Check the new configuration here first: a broken one is reported once and never reaches the workers.
    try {
      ({ value: this.cfg, inputs: this.inputs } = recordInputs(() => p.build()));
    } catch (err) {
      this.say(`reload failed, keeping the running configuration: ${(err as Error).message}`);
      return;
    }
    for (const n of this.cfg.notices) this.say(`warning: ${n}`);
    p.onReloaded?.(this.cfg);
    broadcast({ type: 'reload', inputs: this.inputs });
  }

  private stop(sig?: string): void {
    if (this.stopping) return void (sig && this.cut());
    this.stopping = true;
    const { cfg } = this;
    if (sig) this.say(`${sig}: draining ${allWorkers().length} workers (up to ${cfg.drainTimeout} ms)`);
    if (this.metrics) this.metrics.close();
    broadcast({ type: 'drain' });
    // A worker that does not finish in time is killed.
    setTimeout(() => {
      for (const w of allWorkers()) w.process.kill('SIGKILL');
      this.resolve(this.code);
    }, cfg.drainTimeout + 2000).unref();
    if (allWorkers().length === 0) this.resolve(this.code);
  }

  /** A second INT or TERM cuts the workers' open connections (logged); exit 130. A third meets Node's default. */
  private cut(): void {
    this.say('second signal: closing the open connections now');
    this.code = 130;
    this.io.signals.removeListener('SIGINT', this.onInt);
    this.io.signals.removeListener('SIGTERM', this.onTerm);
    broadcast({ type: 'cut' });
  }

  private readonly onInt = (): void => this.stop('SIGINT');
  private readonly onTerm = (): void => this.stop('SIGTERM');
}
