/**
 * The options every service program has (config file, access log, metrics,
 * drain, workers, keepalive) and their parsed form.
 */
import os from 'node:os';
import { UsageError } from './errors.js';
import type { OptionGroup, OptionTable } from './options.js';
import { renderOptions } from './options.js';
import type { Values } from './settings.js';
import { parseChoice, parseHostPort, parseNumber, type HostPort } from './values.js';

/** The "Service" group of --help; `help` and `version` close it. */
export const SERVICE_OPTIONS: OptionGroup = {
  title: 'Service',
  options: {
    config: { type: 'string', arg: 'FILE', flagOnly: true, help: 'read options from a YAML file (keys are the long flag\nnames; examples/sockskit-proxy.yaml); SIGHUP rereads it' },
    check: { type: 'boolean', flagOnly: true, help: 'validate flags, environment, config file and the files\nthey name, then exit (0 OK, 2 with the key or line at fault)' },
    'access-log': { type: 'string', arg: 'FILE|-|off', help: 'one line per finished connection (default -: stderr);\nFILE is reopened on SIGHUP (log rotation)' },
    'access-log-format': { type: 'string', arg: 'text|json', help: 'key=value text (default) or one JSON object per line' },
    metrics: { type: 'string', arg: 'HOST:PORT', help: 'serve Prometheus metrics at http://HOST:PORT/metrics' },
    'drain-timeout': { type: 'string', arg: 'MS', help: 'on SIGTERM/SIGINT, stop accepting and give open tunnels\nthis long to finish (default 30000)' },
    workers: { type: 'string', arg: 'N|auto', help: 'N worker processes (auto: one per CPU); the primary\nrestarts a worker that dies (default 1: one process)' },
    help: { type: 'boolean', short: 'h', flagOnly: true, help: 'show this help' },
    version: { type: 'boolean', short: 'V', flagOnly: true, help: 'show the version' },
  },
};

/** `--keepalive`, listed by each program where it reads best. */
export const KEEPALIVE_OPTION = { type: 'string', arg: 'SECONDS|off', help: 'TCP keepalive on both legs of a tunnel (default 60)' } as const;

const SIGNALS = `Signals: HUP reloads the config file, users, keys and rules (open tunnels go on;
a broken config keeps the running one); USR1 prints one JSON line of counters;
TERM and INT drain; a second one cuts the open connections (their access-log
lines are written) and exits 130.`;

/** A service program's --help: usage and intro, its table (the service group last), the signals, `outro`. */
export function serviceHelp(intro: string, table: OptionTable, outro: string): string {
  return `${intro}\n${renderOptions(table)}\n${SIGNALS}\n${outro}`;
}

export interface ServiceOptions {
  accessLog: string;
  accessLogFormat: 'text' | 'json';
  metrics: HostPort | undefined;
  drainTimeout: number;
  workers: number;
  keepAlive: number | false;
}

function parseWorkers(w: string): number {
  if (w === 'auto') return os.availableParallelism();
  const workers = Number(w);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers wants a number from 1 to 256 or auto, got ${JSON.stringify(w)}`);
  return workers;
}

function parseMetricsAt(text: string | undefined): HostPort | undefined {
  try {
    return text === undefined ? undefined : parseHostPort(text);
  } catch (err) {
    throw new UsageError(`--metrics: ${(err as Error).message}`);
  }
}

/** The service options out of merged settings values. */
export function parseServiceOptions(v: Values): ServiceOptions {
  const ka = v.keepalive as string | undefined;
  return {
    accessLog: (v['access-log'] as string | undefined) ?? '-',
    accessLogFormat: parseChoice('access-log-format', v['access-log-format'] as string | undefined, ['text', 'json'], 'text'),
    metrics: parseMetricsAt(v.metrics as string | undefined),
    drainTimeout: parseNumber('drain-timeout', v['drain-timeout'] as string | undefined, 30000),
    workers: parseWorkers((v.workers as string | undefined) ?? '1'),
    keepAlive: ka === 'off' || ka === '0' ? false : ka === undefined ? 60000 : parseNumber('keepalive', ka, 60) * 1000,
  };
}
