/**
 * What makes a SOCKS program a service, shared by sockskit-proxy and
 * sockskit-electrum-gateway: the access log, /metrics, signals (HUP reload,
 * USR1 counters, TERM/INT drain) and worker processes (node:cluster).
 *
 *   single process:  servers + access log + metrics + signals
 *   --workers N:     the primary supervises N workers (restarts one that
 *                    dies), serves /metrics and answers USR1 with the sum of
 *                    the workers' counters (IPC), and passes HUP and TERM on;
 *                    each worker runs the servers and writes its own access
 *                    log lines (one write(2) each, O_APPEND).
 */
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { SocksServer, ServerMetrics, mergeSnapshots, renderMetrics, formatText, formatJson, formatAddress } from '../lib/index.js';
import type { SocksServerOptions, ConnectionRecord, MetricsSnapshot } from '../lib/index.js';
import { UsageError, describeFsError, fail, packageVersion } from './cli.js';

export interface ServiceConfig {
  listen: { host: string; port: number }[];
  options: SocksServerOptions;
  /** '-' (stderr), 'off', or a file. */
  accessLog: string;
  accessLogFormat: 'text' | 'json';
  metrics: { host: string; port: number } | undefined;
  /** Milliseconds open tunnels get to finish on SIGTERM. */
  drainTimeout: number;
  /** 0: one process. */
  workers: number;
  /** What the listening line says about authentication. */
  describe: string;
  /** Lines printed once per listener (open proxy and similar warnings). */
  warnings: (where: string, host: string) => string[];
  /** Lines printed once at start and on each reload (e.g. file permission warnings). */
  notices: string[];
}

export interface ServiceProgram {
  prog: string;
  /** Reads flags, environment and config file into a configuration; throws UsageError. */
  build(): ServiceConfig;
  /** Called with each server (once), e.g. to hook events. */
  onServer?(server: SocksServer): void;
  /** Extra counters for SIGUSR1 and /metrics (gauges). */
  extraStats?(): Record<string, number>;
  /** Called once the listeners are up (single process or each worker). */
  onStarted?(cfg: ServiceConfig): void;
}

/** The access log: stderr, a file (reopened on SIGHUP, for logrotate), or off. */
export class AccessLog {
  private fd: number | undefined;
  constructor(private target: string, private format: 'text' | 'json', private readonly worker?: number) {
    this.open();
  }
  private open(): void {
    if (this.target !== '-' && this.target !== 'off') {
      try {
        this.fd = openSync(this.target, 'a', 0o640);
      } catch (err) {
        throw new UsageError(`cannot open --access-log file ${this.target}: ${describeFsError(err)}`);
      }
    }
  }
  /** Reopens (same or new target): the new file is opened before the old one is closed, so a failure keeps the old. */
  reopen(target: string, format: 'text' | 'json'): void {
    const old = this.fd;
    const prev = this.target;
    this.target = target;
    this.fd = undefined;
    try {
      this.open();
    } catch (err) {
      this.target = prev;
      this.fd = old;
      throw err;
    }
    this.format = format;
    if (old !== undefined) closeSync(old);
  }
  write(r: ConnectionRecord): void {
    if (this.target === 'off') return;
    const rec = this.worker === undefined ? r : { ...r, worker: this.worker };
    const line = this.format === 'json' ? formatJson(rec) : formatText(rec);
    if (this.fd === undefined) process.stderr.write(line);
    else {
      try {
        writeSync(this.fd, line);
      } catch {
        // A full disk must not take the proxy down; the line is lost.
      }
    }
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** --check: the access-log file could be opened for appending (without creating it). */
function checkWritable(target: string): void {
  if (target === '-' || target === 'off') return;
  try {
    accessSync(existsSync(target) ? target : path.dirname(path.resolve(target)), fsConstants.W_OK);
  } catch (err) {
    throw new UsageError(`cannot open --access-log file ${target}: ${describeFsError(err)}`);
  }
}

/** Serves GET /metrics (Prometheus text) from `snapshot`. */
function serveMetrics(prog: string, at: { host: string; port: number }, snapshot: () => Promise<string>): http.Server {
  const web = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    snapshot().then(
      (body) => res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  web.on('error', (err) => fail(prog, new Error(`cannot serve --metrics on ${at.host}:${at.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
  web.listen(at.port, at.host, () => {
    const a = web.address() as net.AddressInfo;
    process.stderr.write(`${prog}: metrics on http://${formatAddress({ type: a.family === 'IPv6' ? 'ipv6' : 'ipv4', host: a.address, port: a.port })}/metrics\n`);
  });
  return web;
}

/** Program counters as metric names: authFailures -> sockskit_auth_failures. */
function metricNames(extra: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(extra).map(([k, n]) => [`sockskit_${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, n]));
}

function statsLine(s: MetricsSnapshot, extra: Record<string, number>): string {
  const { accepted, refused, open, tunnels, tunnelsOpen, handoffs, bytesUp, bytesDown, noDescriptor, errors, errorCodes, handshakes, authFailures } = s;
  const errorClasses = Object.fromEntries(Object.entries(errors).filter(([, n]) => n > 0));
  return JSON.stringify({ accepted, refused, open, tunnels, tunnelsOpen, handoffs, bytesUp, bytesDown, noDescriptor, handshakes, authFailures, errors: errorCodes, errorClasses, ...extra });
}

function sameListen(a: ServiceConfig['listen'], b: ServiceConfig['listen']): boolean {
  return a.length === b.length && a.every((x, i) => x.host === b[i]!.host && x.port === b[i]!.port);
}

type Ipc = { type: 'snapshot'; id: number } | { type: 'snapshot-reply'; id: number; snapshot: MetricsSnapshot; extra: Record<string, number> } | { type: 'reload' } | { type: 'drain' };

/** Runs the program: --check, one process, or a primary with workers. */
export async function runService(p: ServiceProgram, check: boolean): Promise<void> {
  const { prog } = p;
  if (cluster.isWorker) return runWorker(p);
  const cfg = p.build();
  if (check) {
    checkWritable(cfg.accessLog);
    for (const n of cfg.notices) process.stderr.write(`${prog}: warning: ${n}\n`);
    process.stdout.write(`${prog}: configuration OK\n`);
    return;
  }
  if (cfg.workers > 1) return runPrimary(p, cfg);
  // Signals are handled from the start: a HUP or USR1 sent as soon as the
  // listening line appears must not find Node's defaults (exit; inspector).
  let node: Node | undefined;
  let pendingReload = false;
  process.on('SIGUSR1', () => {
    if (node) process.stderr.write(`${prog}: stats ${statsLine(node.metrics.snapshot(), p.extraStats?.() ?? {})}\n`);
  });
  process.on('SIGHUP', () => {
    if (node) node.reload(false);
    else pendingReload = true;
  });
  let metrics: http.Server | undefined;
  const stop = (sig: string) => {
    if (!node) process.exit(0);
    process.stderr.write(`${prog}: ${sig}: draining (up to ${node.cfg.drainTimeout} ms)\n`);
    metrics?.close();
    node.drain(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  const started = await startServers(p, cfg, undefined);
  node = started;
  metrics = cfg.metrics ? serveMetrics(prog, cfg.metrics, async () => renderMetrics(started.metrics.snapshot(), metricNames(p.extraStats?.() ?? {}))) : undefined;
  if (pendingReload) started.reload(false);
}

interface Node {
  metrics: ServerMetrics;
  cfg: ServiceConfig;
  reload(quiet: boolean): void;
  drain(done: () => void): void;
}

/** Listens, logs and reloads: the part every process that serves runs. */
async function startServers(p: ServiceProgram, first: ServiceConfig, worker: number | undefined): Promise<Node> {
  const { prog } = p;
  let cfg = first;
  const log = new AccessLog(cfg.accessLog, cfg.accessLogFormat, worker);
  const metrics = new ServerMetrics();
  const tag = worker === undefined ? '' : ` (worker ${worker}, pid ${process.pid})`;
  for (const n of cfg.notices) process.stderr.write(`${prog}: warning: ${n}\n`);
  const servers = await Promise.all(
    cfg.listen.map(
      ({ host, port }) =>
        new Promise<SocksServer>((resolve, reject) => {
          const s = new SocksServer(cfg.options);
          s.on('connectionEnd', (r: ConnectionRecord) => log.write(r));
          metrics.observe(s);
          p.onServer?.(s);
          s.once('error', reject);
          s.listen(port, host, () => {
            s.removeListener('error', reject);
            s.on('error', (err) => process.stderr.write(`${prog}: ${(err as Error).message}\n`));
            s.on('warning', (msg) => process.stderr.write(`${prog}: warning: ${msg}\n`));
            const a = s.address();
            const where = a && typeof a === 'object' ? formatAddress({ type: a.family === 'IPv6' ? 'ipv6' : 'ipv4', host: a.address, port: a.port }) : `${host}:${port}`;
            process.stderr.write(`${prog}: listening on ${where} (${cfg.describe})${tag}\n`);
            for (const w of cfg.warnings(where, host)) process.stderr.write(`${prog}: WARNING: ${w}\n`);
            resolve(s);
          });
        }),
    ),
  ).catch((err: NodeJS.ErrnoException) => {
    fail(prog, new Error(`cannot listen: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message}`));
  });
  p.onStarted?.(cfg);
  return {
    metrics,
    get cfg() {
      return cfg;
    },
    reload(quiet: boolean): void {
      let next: ServiceConfig;
      try {
        next = p.build();
        log.reopen(next.accessLog, next.accessLogFormat);
      } catch (err) {
        process.stderr.write(`${prog}: reload failed, keeping the running configuration: ${(err as Error).message}\n`);
        return;
      }
      if (!sameListen(next.listen, cfg.listen)) process.stderr.write(`${prog}: warning: listen addresses change only on restart\n`);
      for (const s of servers) s.reconfigure(next.options);
      if (!quiet) for (const n of next.notices) process.stderr.write(`${prog}: warning: ${n}\n`);
      cfg = next;
      process.stderr.write(`${prog}: configuration reloaded (${cfg.describe})${tag}\n`);
    },
    drain(done: () => void): void {
      let left = servers.length;
      const one = () => {
        if (--left > 0) return;
        log.close();
        done();
      };
      if (left === 0) return one();
      for (const s of servers) s.drain(cfg.drainTimeout, one);
    },
  };
}

async function runWorker(p: ServiceProgram): Promise<void> {
  const id = cluster.worker!.id;
  let cfg: ServiceConfig;
  try {
    cfg = p.build();
  } catch (err) {
    fail(p.prog, err);
  }
  // The primary passes signals on; these keep a signal sent to the whole
  // process group from killing the worker (HUP) or opening the inspector (USR1).
  let node: Node | undefined;
  process.on('SIGHUP', () => {});
  process.on('SIGUSR1', () => {});
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => (node ? node.drain(() => process.exit(0)) : process.exit(0)));
  process.on('message', (m: Ipc) => {
    if (m.type === 'drain' && !node) process.exit(0);
    if (!node) return;
    if (m.type === 'snapshot') process.send!({ type: 'snapshot-reply', id: m.id, snapshot: node.metrics.snapshot(), extra: p.extraStats?.() ?? {} } satisfies Ipc);
    else if (m.type === 'reload') node.reload(true);
    else if (m.type === 'drain') node.drain(() => process.exit(0));
  });
  node = await startServers(p, cfg, id);
}

/** The primary: forks, supervises, sums the workers' counters, passes signals on. */
function runPrimary(p: ServiceProgram, first: ServiceConfig): void {
  const { prog } = p;
  let cfg = first;
  let stopping = false;
  const restarts: number[] = [];
  const fork = (): Worker => cluster.fork();
  cluster.on('exit', (w, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    process.stderr.write(`${prog}: worker ${w.id} (pid ${w.process.pid}) exited (${signal ?? `code ${code}`}); starting a new one\n`);
    // A worker that dies at once (a config it cannot load) must not spin: at most 5 restarts per 10 s.
    const now = Date.now();
    while (restarts.length && now - restarts[0]! > 10000) restarts.shift();
    restarts.push(now);
    setTimeout(fork, restarts.length > 5 ? 2000 : 0);
  });
  process.stderr.write(`${prog}: starting ${cfg.workers} workers (primary pid ${process.pid})\n`);
  for (let i = 0; i < cfg.workers; i++) fork();

  let seq = 0;
  const gather = (): Promise<{ snap: MetricsSnapshot; extra: Record<string, number> }> => {
    const id = ++seq;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
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
  };
  const metrics = cfg.metrics ? serveMetrics(prog, cfg.metrics, async () => {
    const { snap, extra } = await gather();
    return renderMetrics(snap, metricNames(extra));
  }) : undefined;
  process.on('SIGUSR1', () => {
    void gather().then(({ snap, extra }) => process.stderr.write(`${prog}: stats ${statsLine(snap, extra)}\n`));
  });
  process.on('SIGHUP', () => {
    // Check the new configuration here first: a broken one is reported once and never reaches the workers.
    try {
      cfg = p.build();
    } catch (err) {
      process.stderr.write(`${prog}: reload failed, keeping the running configuration: ${(err as Error).message}\n`);
      return;
    }
    for (const n of cfg.notices) process.stderr.write(`${prog}: warning: ${n}\n`);
    for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'reload' } satisfies Ipc);
  });
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${prog}: ${sig}: draining ${Object.keys(cluster.workers ?? {}).length} workers (up to ${cfg.drainTimeout} ms)\n`);
    metrics?.close();
    for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'drain' } satisfies Ipc);
    // A worker that does not finish in time is killed.
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(0);
    }, cfg.drainTimeout + 2000).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** What a service program's build returns before it is a configuration: --help and --version. */
export interface BuiltConfig extends ServiceConfig {
  help?: boolean;
  version?: boolean;
  check?: boolean;
}

/**
 * A service program's main: --help, --version, then runService with `build`
 * (the first build is reused; SIGHUP builds again from the same argv).
 * `before` runs once with the first configuration (e.g. print a token).
 */
export async function serviceMain<C extends BuiltConfig>(p: Omit<ServiceProgram, 'build'> & { help: string; build: () => C; before?: (cfg: C) => void }): Promise<void> {
  const cfg = p.build();
  if (cfg.help) {
    process.stdout.write(p.help);
    return;
  }
  if (cfg.version) {
    process.stdout.write(`${p.prog} ${packageVersion()}\n`);
    return;
  }
  p.before?.(cfg);
  let first: C | undefined = cfg;
  const build = (): C => {
    const c = first ?? p.build();
    first = undefined;
    return c;
  };
  await runService({ ...p, build }, cfg.check === true);
}
