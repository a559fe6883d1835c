/**
 * The service flags both long-running programs share (access log, metrics,
 * drain, workers, keepalive), their help text, and the permission warning for
 * files that hold secrets.
 */
import os from 'node:os';
import { parseHostPort, parseNumber, UsageError } from './cli.js';

export const SERVICE_FLAGS = {
  'access-log': { type: 'string' },
  'access-log-format': { type: 'string' },
  metrics: { type: 'string' },
  'drain-timeout': { type: 'string' },
  workers: { type: 'string' },
  keepalive: { type: 'string' },
} as const;

export const SERVICE_HELP = `Service
  --config FILE             read options from a YAML file (keys are the long flag
                            names; examples/sockskit-proxy.yaml); SIGHUP rereads it
  --check                   validate flags, environment, config file and the files
                            they name, then exit (0 OK, 2 with the key or line at fault)
  --access-log FILE|-|off   one line per finished connection (default -: stderr);
                            FILE is reopened on SIGHUP (log rotation)
  --access-log-format text|json
                            key=value text (default) or one JSON object per line
  --metrics HOST:PORT       serve Prometheus metrics at http://HOST:PORT/metrics
  --drain-timeout MS        on SIGTERM/SIGINT, stop accepting and give open tunnels
                            this long to finish (default 30000)
  --workers N|auto          N worker processes (auto: one per CPU); the primary
                            restarts a worker that dies (default 1: one process)
  -h, --help                show this help
  -V, --version             show the version
Signals: HUP reloads the config file, users, keys and rules (open tunnels go on;
a broken config keeps the running one); USR1 prints one JSON line of counters;
TERM and INT drain.`;

export interface ServiceOptions {
  accessLog: string;
  accessLogFormat: 'text' | 'json';
  metrics: { host: string; port: number } | undefined;
  drainTimeout: number;
  workers: number;
  keepAlive: number | false;
}

export function parseServiceOptions(v: Record<string, unknown>): ServiceOptions {
  const format = (v['access-log-format'] as string | undefined) ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--access-log-format wants text or json, got ${JSON.stringify(format)}`);
  const w = (v.workers as string | undefined) ?? '1';
  let workers: number;
  if (w === 'auto') workers = os.availableParallelism();
  else {
    workers = Number(w);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers wants a number from 1 to 256 or auto, got ${JSON.stringify(w)}`);
  }
  const ka = v.keepalive as string | undefined;
  let keepAlive: number | false = 60000;
  if (ka === 'off' || ka === '0') keepAlive = false;
  else if (ka !== undefined) keepAlive = parseNumber('keepalive', ka, 60) * 1000;
  const metricsAt = v.metrics as string | undefined;
  let metrics;
  try {
    metrics = metricsAt === undefined ? undefined : parseHostPort(metricsAt);
  } catch (err) {
    throw new UsageError(`--metrics: ${(err as Error).message}`);
  }
  return {
    accessLog: (v['access-log'] as string | undefined) ?? '-',
    accessLogFormat: format,
    metrics,
    drainTimeout: parseNumber('drain-timeout', v['drain-timeout'] as string | undefined, 30000),
    workers,
    keepAlive,
  };
}

