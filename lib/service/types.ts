/** What a service program gives runService, and what runService gives back. */
import type { EventEmitter } from 'node:events';
import type { MetricsSnapshot, SeriesDef, SeriesValue, SocksServer, SocksServerOptions } from '../server/index.js';
import type { HostPort } from './values.js';

export interface ServiceConfig {
  listen: HostPort[];
  options: SocksServerOptions;
  /** '-' (stderr), 'off', or a file. */
  accessLog: string;
  accessLogFormat: 'text' | 'json';
  metrics: HostPort | undefined;
  /** Milliseconds open tunnels get to finish on SIGTERM. */
  drainTimeout: number;
  /** 1: one process; more: a primary and this many workers. */
  workers: number;
  /** What the listening line says about authentication. */
  describe: string;
  /** Lines printed once per listener (open proxy and similar warnings). */
  warnings: (where: string, host: string) => string[];
  /** Lines printed once at start and on each reload (e.g. file permission warnings). */
  notices: string[];
  /** Write health checks (end=healthcheck) to the access log; by default they are only counted. */
  logHealthChecks?: boolean;
  /**
   * Puts what serving needs in force (sockskit-proxy: the --auth-helper
   * processes), ending what only the previous configuration needed. Called
   * where connections are served, with the first configuration before it
   * listens and with each one a reload put in force; never under --check,
   * in the --workers primary, or for a configuration that failed to build.
   * An embedder serving a built configuration itself calls it once.
   */
  activate?(): void;
  /** --help, --version, --check asked for. */
  help?: boolean;
  version?: boolean;
  check?: boolean;
}

export interface ServiceProgram<C extends ServiceConfig = ServiceConfig> {
  /** The name every line starts with. */
  prog: string;
  help: string;
  /** Reads flags, environment and config file; throws UsageError. Called again on each SIGHUP. */
  build(): C;
  /** Runs once with the first configuration, in the primary, before anything listens (not on --check). */
  before?(cfg: C): void;
  /** Called with each server (once), e.g. to hook events. */
  onServer?(server: SocksServer): void;
  /** The program's own counters, for SIGUSR1, /metrics (those named in extraSeries) and onServing; summed across workers. */
  extraStats?(): Record<string, SeriesValue>;
  /** The /metrics series of extraStats keys (a key without one is not exported). */
  extraSeries?: Record<string, SeriesDef>;
  /**
   * Called once where the service's counters are whole: in the single
   * process once it listens, or in the primary with --workers. `counters()`
   * gives the snapshot and extraStats, summed over the workers (a status page).
   */
  onServing?(cfg: C, counters: () => Promise<ServiceCounters>): void;
  /** Called once the listeners are up (single process or each worker). */
  onStarted?(cfg: C): void;
  /** Called with each configuration a reload put in force (where it was put in force: the process or each worker). */
  onReloaded?(cfg: C): void;
}

/** The counters of the whole service (every worker). */
export interface ServiceCounters {
  snapshot: MetricsSnapshot;
  extra: Record<string, SeriesValue>;
}

/** Where a service writes and which signals it hears; process's by default, injectable for tests. */
export interface ServiceIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  signals: EventEmitter;
}

export function defaultIo(io: Partial<ServiceIo> = {}): ServiceIo {
  return { stdout: io.stdout ?? process.stdout, stderr: io.stderr ?? process.stderr, signals: io.signals ?? process };
}
