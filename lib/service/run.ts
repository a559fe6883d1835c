/**
 * runService(): --help, --version, --check, then one process or a primary
 * with workers. It never exits the process: it resolves with the exit code
 * once the service has stopped (drained), and rejects with a readable error
 * (UsageError: the operator's to fix) when it cannot start.
 *
 *   single process:  servers + access log + metrics + signals
 *   --workers N:     cluster.ts (the primary supervises, the workers serve)
 */
import cluster from 'node:cluster';
import type http from 'node:http';
import { checkDescriptorLimit, renderMetrics } from '../server/index.js';
import { checkAccessLogWritable } from './access-log-file.js';
import { runPrimary, runWorker } from './cluster.js';
import { metricsWarning, serveMetrics, statsLine } from './metrics-endpoint.js';
import { startNode, type ServiceNode } from './node.js';
import { defaultIo, type ServiceConfig, type ServiceIo, type ServiceProgram } from './types.js';
import { packageVersion } from './values.js';
import { recordInputs } from './inputs.js';

/** Runs a service program to its end; the promise gives the exit code. */
export async function runService<C extends ServiceConfig>(p: ServiceProgram<C>, ioIn: Partial<ServiceIo> = {}): Promise<number> {
  const io = defaultIo(ioIn);
  if (cluster.isWorker) return runWorker(p, io);
  // Recorded: with --workers, the workers build from the files this build read (inputs.ts).
  const { value: first, inputs } = recordInputs(() => p.build());
  if (first.help || first.version) {
    io.stdout.write(first.help ? p.help : `${p.prog} ${packageVersion()}\n`);
    return 0;
  }
  if (first.check) return check(p, first, io);
  checkLimit(p.prog, io);
  const m = metricsWarning(first.metrics);
  if (m) io.stderr.write(`${p.prog}: warning: ${m}\n`);
  p.before?.(first);
  // The first build serves the first start; each SIGHUP builds again.
  return first.workers > 1 ? runPrimary(p, { value: first, inputs }, io) : runSingle(p, first, io);
}

function check<C extends ServiceConfig>(p: ServiceProgram<C>, cfg: C, io: ServiceIo): number {
  checkAccessLogWritable(cfg.accessLog);
  const m = metricsWarning(cfg.metrics);
  if (m) io.stderr.write(`${p.prog}: warning: ${m}\n`);
  for (const n of cfg.notices) io.stderr.write(`${p.prog}: warning: ${n}\n`);
  io.stdout.write(`${p.prog}: configuration OK\n`);
  return 0;
}

/** Once, before any listener: each tunnel needs two descriptors (Node raised the soft limit at start). */
function checkLimit(prog: string, io: ServiceIo): void {
  const fds = checkDescriptorLimit();
  if (fds?.error) io.stderr.write(`${prog}: warning: descriptor limit ${fds.soft} (hard ${fds.hard}): ${fds.error}\n`);
}

/**
 * One process. Signals are handled from the start: a HUP or USR1 sent as
 * soon as the listening line appears must not find Node's defaults (exit;
 * the inspector).
 */
function runSingle<C extends ServiceConfig>(p: ServiceProgram<C>, cfg: C, io: ServiceIo): Promise<number> {
  const say = (line: string) => io.stderr.write(`${p.prog}: ${line}\n`);
  return new Promise<number>((resolve, reject) => {
    let node: ServiceNode<C> | undefined;
    let metrics: http.Server | undefined;
    let pendingReload = false;
    const handlers: Record<string, () => void> = {
      SIGUSR1: () => node && say(`stats ${statsLine(node.metrics.snapshot(), p.extraStats?.() ?? {})}`),
      SIGHUP: () => (node ? node.reload(false) : (pendingReload = true)),
      SIGINT: () => stop('SIGINT'),
      SIGTERM: () => stop('SIGTERM'),
    };
    const end = (finish: () => void) => {
      for (const [sig, h] of Object.entries(handlers)) io.signals.removeListener(sig, h);
      metrics?.close();
      finish();
    };
    let code = 0;
    let draining = false;
    const stop = (sig: string) => {
      if (!node) return end(() => resolve(0));
      if (draining) return cut(node);
      draining = true;
      say(`${sig}: draining (up to ${node.cfg.drainTimeout} ms)`);
      node.drain(() => end(() => resolve(code)));
    };
    // A second INT or TERM: the open tunnels are cut now (and logged), the drain ends, exit 130; a third meets Node's default.
    const cut = (n: ServiceNode<C>) => {
      say('second signal: closing the open connections now');
      code = 130;
      io.signals.removeListener('SIGINT', handlers.SIGINT!);
      io.signals.removeListener('SIGTERM', handlers.SIGTERM!);
      n.cut();
    };
    for (const [sig, h] of Object.entries(handlers)) io.signals.on(sig, h);
    startNode(p, cfg, undefined, io).then((started) => {
      node = started;
      const snapshot = async () => renderMetrics(started.metrics.snapshot(), { defs: p.extraSeries ?? {}, values: p.extraStats?.() ?? {} });
      metrics = cfg.metrics && serveMetrics(cfg.metrics, snapshot, {
        listening: (where) => say(`metrics on http://${where}/metrics`),
        error: (err) => started.drain(() => end(() => reject(err))),
      });
      p.onServing?.(cfg, async () => ({ snapshot: started.metrics.snapshot(), extra: p.extraStats?.() ?? {} }));
      if (pendingReload) started.reload(false);
    }, (err) => end(() => reject(err)));
  });
}
