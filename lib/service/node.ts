/**
 * One serving process: the listeners, the access log, the counters, reload
 * and drain. Run alone (one process) or by each worker.
 */
import { ConnectionLimits, ServerMetrics, SocksServer, type ConnectionRecord } from '../server/index.js';
import { AccessLogFile } from './access-log-file.js';
import { METRICS_MAX_CONNECTIONS, addressText } from './metrics-endpoint.js';
import type { ServiceConfig, ServiceIo, ServiceProgram } from './types.js';

export interface ServiceNode<C extends ServiceConfig> {
  metrics: ServerMetrics;
  readonly cfg: C;
  /** Builds the configuration again and applies it; a failure keeps the running one (and says so). */
  reload(quiet: boolean): void;
  /** During a drain: destroys every open connection now (their access-log lines are still written); the drain then ends. */
  cut(): void;
  drain(done: () => void): void;
}

function listenError(err: NodeJS.ErrnoException): Error {
  return new Error(`cannot listen: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
}

function listenOne<C extends ServiceConfig>(p: ServiceProgram<C>, cfg: C, at: { host: string; port: number }, tag: string, io: ServiceIo, setup: (s: SocksServer) => SocksServer['options']): Promise<SocksServer> {
  const say = (line: string) => io.stderr.write(`${p.prog}: ${line}\n`);
  return new Promise<SocksServer>((resolve, reject) => {
    const s = new SocksServer(cfg.options);
    s.reconfigure(setup(s));
    p.onServer?.(s);
    s.once('error', reject);
    s.listen(at.port, at.host, () => {
      s.removeListener('error', reject);
      s.on('error', (err) => say((err as Error).message));
      s.on('warning', (msg) => say(`warning: ${msg}`));
      const a = s.address();
      const where = a && typeof a === 'object' ? addressText(a) : `${at.host}:${at.port}`;
      say(`listening on ${where} (${cfg.describe})${tag}`);
      for (const w of cfg.warnings(where, at.host)) say(`WARNING: ${w}`);
      resolve(s);
    });
  });
}

function sameListen(a: ServiceConfig['listen'], b: ServiceConfig['listen']): boolean {
  return a.length === b.length && a.every((x, i) => x.host === b[i]!.host && x.port === b[i]!.port);
}

/** Listens on every address of `first`; rejects (with every server closed) when one cannot. */
export async function startNode<C extends ServiceConfig>(p: ServiceProgram<C>, first: C, worker: number | undefined, io: ServiceIo): Promise<ServiceNode<C>> {
  const say = (line: string) => io.stderr.write(`${p.prog}: ${line}\n`);
  let cfg = first;
  const log = new AccessLogFile(cfg.accessLog, cfg.accessLogFormat, worker, io.stderr);
  const metrics = new ServerMetrics();
  const tag = worker === undefined ? '' : ` (worker ${worker}, pid ${process.pid})`;
  for (const n of cfg.notices) say(`warning: ${n}`);
  cfg.activate?.();
  // One set of limits for every listener: --max-connections counts the process, not each address.
  // The metrics endpoint of a single process shares its descriptors (with workers it is the primary's).
  const limits = new ConnectionLimits({ reserve: worker === undefined && cfg.metrics ? METRICS_MAX_CONNECTIONS : 0 });
  const setup = (s: SocksServer) => {
    // Health checks are counted, and logged only when asked (cfg is the running configuration).
    s.on('connectionEnd', (r: ConnectionRecord) => (r.end !== 'healthcheck' || cfg.logHealthChecks) && log.write(r));
    metrics.observe(s);
    return { ...cfg.options, limits };
  };
  const settled = await Promise.allSettled(cfg.listen.map((at) => listenOne(p, cfg, at, tag, io, setup)));
  const servers = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const s of servers) s.close();
    log.close();
    throw listenError(failed.reason as NodeJS.ErrnoException);
  }
  p.onStarted?.(cfg);
  const reload = (quiet: boolean): void => {
    let next: C;
    try {
      next = p.build();
      log.reopen(next.accessLog, next.accessLogFormat);
    } catch (err) {
      say(`reload failed, keeping the running configuration: ${(err as Error).message}`);
      return;
    }
    if (!sameListen(next.listen, cfg.listen)) say('warning: listen addresses change only on restart');
    // Built: its helpers start now, the old ones end once their checks are over (login-flags.ts).
    next.activate?.();
    for (const s of servers) s.reconfigure({ ...next.options, limits });
    if (!quiet) for (const n of next.notices) say(`warning: ${n}`);
    cfg = next;
    p.onReloaded?.(cfg);
    say(`configuration reloaded (${cfg.describe})${tag}`);
  };
  const drain = (done: () => void): void => {
    let left = servers.length;
    const one = () => {
      if (--left > 0) return;
      log.close();
      done();
    };
    if (left === 0) return one();
    for (const s of servers) s.drain(cfg.drainTimeout, one);
  };
  const cut = (): void => {
    for (const s of servers) s.close();
  };
  return { metrics, get cfg() { return cfg; }, reload, drain, cut };
}
