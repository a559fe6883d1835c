/** What a service program gives runService, and what runService gives back. */
import type { EventEmitter } from 'node:events';
import type { SocksServer, SocksServerOptions } from '../server/index.js';
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
  /** Extra counters for SIGUSR1 and /metrics (gauges). */
  extraStats?(): Record<string, number>;
  /** Called once the listeners are up (single process or each worker). */
  onStarted?(cfg: C): void;
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
