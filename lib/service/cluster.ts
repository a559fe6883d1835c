/**
 * --workers N: the primary forks N workers, restarts one that dies, serves
 * /metrics and answers USR1 with the sum of the workers' counters (IPC), and
 * passes HUP and TERM on; each worker runs the servers and writes its own
 * access-log lines (one write(2) each, O_APPEND).
 */
import cluster, { type Worker } from 'node:cluster';
import { mergeSnapshots, renderMetrics, type MetricsSnapshot } from '../server/index.js';
import { metricNames, serveMetrics, statsLine } from './metrics-endpoint.js';
import { startNode, type ServiceNode } from './node.js';
import type { ServiceConfig, ServiceIo, ServiceProgram } from './types.js';

type Ipc = { type: 'snapshot'; id: number } | { type: 'snapshot-reply'; id: number; snapshot: MetricsSnapshot; extra: Record<string, number> } | { type: 'reload' } | { type: 'drain' };

/** A worker: builds its own configuration, serves, answers the primary. */
export function runWorker<C extends ServiceConfig>(p: ServiceProgram<C>, io: ServiceIo): Promise<number> {
  const id = cluster.worker!.id;
  const cfg = p.build();
  return new Promise<number>((resolve, reject) => {
    let node: ServiceNode<C> | undefined;
    const done = () => resolve(0);
    // The primary passes signals on; these keep a signal sent to the whole
    // process group from killing the worker (HUP) or opening the inspector (USR1).
    for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGINT']) io.signals.on(sig, () => {});
    io.signals.on('SIGTERM', () => (node ? node.drain(done) : done()));
    process.on('message', (m: Ipc) => {
      if (m.type === 'drain' && !node) return done();
      if (!node) return;
      if (m.type === 'snapshot') process.send!({ type: 'snapshot-reply', id: m.id, snapshot: node.metrics.snapshot(), extra: p.extraStats?.() ?? {} } satisfies Ipc);
      else if (m.type === 'reload') node.reload(true);
      else if (m.type === 'drain') node.drain(done);
    });
    startNode(p, cfg, id, io).then((n) => (node = n), reject);
  });
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
}

/** Asks every worker for its counters (at most 1 s) and sums them. */
function gather(id: number): Promise<{ snap: MetricsSnapshot; extra: Record<string, number> }> {
  const workers = liveWorkers();
  return new Promise((resolve) => {
    const got: MetricsSnapshot[] = [];
    const extra: Record<string, number> = {};
    const finish = () => {
      clearTimeout(t);
      for (const w of workers) w.removeListener('message', onMsg);
      resolve({ snap: mergeSnapshots(got), extra: { ...extra, workers: workers.length } });
    };
    const onMsg = (m: Ipc) => {
      if (m.type !== 'snapshot-reply' || m.id !== id) return;
      got.push(m.snapshot);
      for (const [k, n] of Object.entries(m.extra)) extra[k] = (extra[k] ?? 0) + n;
      if (got.length === workers.length) finish();
    };
    const t = setTimeout(finish, 1000);
    for (const w of workers) {
      w.on('message', onMsg);
      w.send({ type: 'snapshot', id } satisfies Ipc);
    }
    if (workers.length === 0) finish();
  });
}

/** Forks a new worker for one that died; one that dies at once (a config it cannot load) must not spin: at most 5 per 10 s. */
function supervise(prog: string, io: ServiceIo, stopping: () => boolean, allGone: () => void): void {
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
    setTimeout(() => cluster.fork(), restarts.length > 5 ? 2000 : 0);
  });
}

/** The primary: forks, supervises, sums the workers' counters, passes signals on. */
export function runPrimary<C extends ServiceConfig>(p: ServiceProgram<C>, first: C, io: ServiceIo): Promise<number> {
  const say = (line: string) => io.stderr.write(`${p.prog}: ${line}\n`);
  let cfg = first;
  let stopping = false;
  let seq = 0;
  return new Promise<number>((resolve, reject) => {
    supervise(p.prog, io, () => stopping, () => resolve(0));
    say(`starting ${cfg.workers} workers (primary pid ${process.pid})`);
    for (let i = 0; i < cfg.workers; i++) cluster.fork();
    const metrics = cfg.metrics && serveMetrics(cfg.metrics, async () => {
      const { snap, extra } = await gather(++seq);
      return renderMetrics(snap, metricNames(extra));
    }, { listening: (where) => say(`metrics on http://${where}/metrics`), error: (err) => { stop(); reject(err); } });
    io.signals.on('SIGUSR1', () => void gather(++seq).then(({ snap, extra }) => say(`stats ${statsLine(snap, extra)}`)));
    io.signals.on('SIGHUP', () => {
      // Check the new configuration here first: a broken one is reported once and never reaches the workers.
      try {
        cfg = p.build();
      } catch (err) {
        say(`reload failed, keeping the running configuration: ${(err as Error).message}`);
        return;
      }
      for (const n of cfg.notices) say(`warning: ${n}`);
      for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'reload' } satisfies Ipc);
    });
    const stop = (sig?: string) => {
      if (stopping) return;
      stopping = true;
      if (sig) say(`${sig}: draining ${Object.keys(cluster.workers ?? {}).length} workers (up to ${cfg.drainTimeout} ms)`);
      if (metrics) metrics.close();
      for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'drain' } satisfies Ipc);
      // A worker that does not finish in time is killed.
      setTimeout(() => {
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        resolve(0);
      }, cfg.drainTimeout + 2000).unref();
      if (Object.keys(cluster.workers ?? {}).length === 0) resolve(0);
    };
    io.signals.once('SIGINT', () => stop('SIGINT'));
    io.signals.once('SIGTERM', () => stop('SIGTERM'));
  });
}
