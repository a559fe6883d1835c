/**
 * Server metrics in the Prometheus text exposition format (version 0.0.4),
 * written by hand: a dozen counters, a few gauges and one histogram do not
 * need a client library, and a plain snapshot object is what worker
 * processes send to their primary to be summed (docs/operations.md). Every
 * series is declared once here (STAT_SERIES, LABELLED_SERIES,
 * PROCESS_SERIES) or by the program (ExtraSeries), and written through one
 * Exposition, which refuses a family twice and a counter not named _total.
 *
 *   const m = new ServerMetrics();
 *   m.observe(server);                 // any number of SocksServers
 *   http.createServer((q, r) => r.end(renderMetrics(m.snapshot())));
 */
import type { SocksServer } from './server.js';
import type { AuthMethod } from '../protocol/method.js';
import { ERROR_CLASSES, type ConnectionRecord } from './access-log.js';
import { STAT_KEYS, zeroStats, type SocksServerStats, type StatKey } from './registry.js';
import { descriptorLimit, descriptorsInUse } from './limits.js';
import { Exposition, type ExtraSeries, type SeriesDef } from './exposition.js';

/** The outcomes of sockskit_logins_total (userpass's stats() keys). */
const LOGIN_OUTCOMES = ['successes', 'failures', 'dropped', 'busy', 'throttled'] as const;

/** Upper bounds (seconds) of the handshake-duration histogram buckets. */
const HANDSHAKE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] as const;

/** Plain counters summed across processes: the process_* figures of one process (or of a primary and its workers). */
export interface ProcessFigures {
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
  residentBytes: number;
  openFds: number;
  maxFds: number;
  /** Unix time the (oldest) process started, seconds. */
  startTime: number;
}

/** This process's figures, now (open and max descriptors from /proc; 0 where there is none). */
export function processFigures(): ProcessFigures {
  const cpu = process.cpuUsage();
  return {
    cpuUserSeconds: cpu.user / 1e6,
    cpuSystemSeconds: cpu.system / 1e6,
    residentBytes: process.memoryUsage.rss(),
    openFds: descriptorsInUse() ?? 0,
    maxFds: descriptorLimit()?.soft ?? 0,
    startTime: Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000,
  };
}

/** Everything /metrics shows, as plain data (JSON-safe, summable across processes). */
export interface MetricsSnapshot extends Omit<SocksServerStats, 'errors' | 'errorClasses' | 'auth'> {
  handshakes: Record<string, number>;
  authFailures: Record<string, number>;
  /** username/password logins by outcome (userpass's stats(): successes, failures, dropped, busy, throttled, delayed). */
  logins: Record<string, number>;
  replies: Record<string, number>;
  /** Errors by class (ErrorClass). */
  errors: Record<string, number>;
  /** Errors by SocksError code (stats().errors). */
  errorCodes: Record<string, number>;
  /** Finished connections by how they ended (the access log's `end`). */
  ends: Record<string, number>;
  /** Finished connections by method (`socks4`, a SOCKS5 method's name, `unknown` before one was chosen). */
  methods: Record<string, number>;
  /** Non-cumulative counts per HANDSHAKE_BUCKETS bound, plus one for +Inf. */
  handshakeBuckets: number[];
  handshakeSum: number;
  handshakeCount: number;
  process: ProcessFigures;
}

/** The labelled counters of a snapshot (summed key by key). */
const LABELLED = ['handshakes', 'authFailures', 'logins', 'replies', 'errors', 'errorCodes', 'ends', 'methods'] as const;

/** How a handshake ended, for sockskit_handshakes_total{outcome}. */
function handshakeOutcome(r: ConnectionRecord): string {
  if (r.end === 'healthcheck') return 'health_check';
  if (r.reply === 0 || r.end === 'handoff') return 'success';
  if (r.error === 'auth') return 'auth_failed';
  if (r.reply !== undefined) return 'denied';
  if (r.end === 'timeout') return 'timeout';
  if (r.error === 'protocol') return 'protocol_error';
  if (r.error === 'limit' || r.end === 'refused') return 'refused';
  return 'client_left';
}
const OUTCOMES = ['success', 'auth_failed', 'denied', 'timeout', 'protocol_error', 'refused', 'client_left', 'health_check'];

function add(into: Record<string, number>, key: string, n = 1): void {
  into[key] = (into[key] ?? 0) + n;
}

function emptySnapshot(): MetricsSnapshot {
  return {
    ...zeroStats(),
    handshakes: {}, authFailures: {}, logins: {}, replies: {}, errors: {}, errorCodes: {}, ends: {}, methods: {},
    handshakeBuckets: new Array<number>(HANDSHAKE_BUCKETS.length + 1).fill(0), handshakeSum: 0, handshakeCount: 0,
    process: { cpuUserSeconds: 0, cpuSystemSeconds: 0, residentBytes: 0, openFds: 0, maxFds: 0, startTime: 0 },
  };
}

export class ServerMetrics {
  private readonly servers = new Set<SocksServer>();
  private readonly counted = emptySnapshot();

  /** Counts `server`'s connections from now on, and reads its stats() in snapshot(). */
  observe(server: SocksServer): this {
    this.servers.add(server);
    server.on('connectionEnd', (r: ConnectionRecord) => this.record(r));
    return this;
  }

  /** Stops reading `server` (its counts so far stay). */
  forget(server: SocksServer): void {
    this.servers.delete(server);
  }

  private record(r: ConnectionRecord): void {
    const c = this.counted;
    add(c.handshakes, handshakeOutcome(r));
    add(c.ends, r.end);
    add(c.methods, r.method ?? 'unknown');
    if (r.error === 'auth') add(c.authFailures, r.method ?? 'no_acceptable_method');
    if (r.reply !== undefined) add(c.replies, String(r.reply));
    if (r.handshakeMs !== undefined) {
      const s = r.handshakeMs / 1000;
      let i = HANDSHAKE_BUCKETS.findIndex((b) => s <= b);
      if (i < 0) i = HANDSHAKE_BUCKETS.length;
      c.handshakeBuckets[i]!++;
      c.handshakeSum += s;
      c.handshakeCount++;
    }
  }

  snapshot(): MetricsSnapshot {
    const c = this.counted;
    const out: MetricsSnapshot = { ...emptySnapshot(), handshakeBuckets: [...c.handshakeBuckets], handshakeSum: c.handshakeSum, handshakeCount: c.handshakeCount, process: processFigures() };
    for (const k of LABELLED) out[k] = { ...c[k] };
    // One method object may serve several listeners: each is counted once.
    const methods = new Set<AuthMethod<unknown>>();
    for (const s of this.servers) for (const m of s.methodsWithStats()) methods.add(m);
    for (const m of methods) {
      if (m.name !== 'userpass') continue;
      for (const [k, n] of Object.entries(m.stats!() as Record<string, unknown>)) if (typeof n === 'number' && k !== 'attempts') add(out.logins, k, n);
    }
    for (const s of this.servers) {
      const st = s.stats();
      for (const k of STAT_KEYS) out[k] += st[k];
      for (const [k, n] of Object.entries(st.errorClasses)) add(out.errors, k, n);
      for (const [k, n] of Object.entries(st.errors)) add(out.errorCodes, k, n);
    }
    return out;
  }
}

/** The sum of snapshots (worker processes, and the primary's own process figures); the oldest start time. */
export function mergeSnapshots(list: readonly MetricsSnapshot[]): MetricsSnapshot {
  const out = emptySnapshot();
  for (const s of list) {
    for (const k of STAT_KEYS) out[k] += s[k] ?? 0;
    out.handshakeSum += s.handshakeSum ?? 0;
    out.handshakeCount += s.handshakeCount ?? 0;
    for (const k of LABELLED) for (const [key, n] of Object.entries(s[k] ?? {})) add(out[k], key, n);
    s.handshakeBuckets.forEach((n, i) => (out.handshakeBuckets[i]! += n));
    const p = s.process;
    if (!p) continue;
    const o = out.process;
    for (const k of ['cpuUserSeconds', 'cpuSystemSeconds', 'residentBytes', 'openFds', 'maxFds'] as const) o[k] += p[k];
    if (p.startTime > 0 && (o.startTime === 0 || p.startTime < o.startTime)) o.startTime = p.startTime;
  }
  return out;
}

/** The one declaration of each STAT_KEYS counter's series: a new counter does not compile without one. */
export const STAT_SERIES: Record<StatKey, SeriesDef> = {
  accepted: { name: 'sockskit_connections_accepted_total', type: 'counter', help: 'Client connections accepted.' },
  refused: { name: 'sockskit_connections_refused_total', type: 'counter', help: 'Client connections refused at the connection limit.' },
  open: { name: 'sockskit_connections_open', type: 'gauge', help: 'Client connections open (handshakes and tunnels).' },
  tunnels: { name: 'sockskit_tunnels_total', type: 'counter', help: 'Tunnels relayed.' },
  tunnelsOpen: { name: 'sockskit_tunnels_open', type: 'gauge', help: 'Tunnels open.' },
  handoffs: { name: 'sockskit_handoffs_total', type: 'counter', help: 'Connections handed to the application.' },
  bytesUp: { name: 'sockskit_bytes_up_total', type: 'counter', help: 'Bytes from clients to destinations (ended tunnels).' },
  bytesDown: { name: 'sockskit_bytes_down_total', type: 'counter', help: 'Bytes from destinations to clients (ended tunnels).' },
  healthChecks: { name: 'sockskit_health_checks_total', type: 'counter', help: 'Balancer health checks behind a PROXY listener (a PROXY v2 LOCAL header or nothing, then a close).' },
  noDescriptor: { name: 'sockskit_descriptor_failures_total', type: 'counter', help: 'Accepts, outbound sockets and UDP associations that failed for want of a file descriptor (EMFILE/ENFILE, or the descriptor budget spent).' },
};

/** The labelled series of a snapshot, declared once each. */
const LOGINS_SERIES: SeriesDef = { name: 'sockskit_logins_total', type: 'counter', help: 'Username/password logins by outcome (dropped: the client left before the check; busy: too many checks waiting; throttled: refused unchecked).', label: 'outcome' };
const LOGIN_DELAYS_SERIES: SeriesDef = { name: 'sockskit_login_delays_total', type: 'counter', help: 'Failed logins whose answer the login throttle delayed.' };

const LABELLED_SERIES: { key: Exclude<(typeof LABELLED)[number], 'logins'>; def: SeriesDef; fixed?: readonly string[] }[] = [
  { key: 'handshakes', def: { name: 'sockskit_handshakes_total', type: 'counter', help: 'Finished connections by handshake outcome.', label: 'outcome' }, fixed: OUTCOMES },
  { key: 'authFailures', def: { name: 'sockskit_auth_failures_total', type: 'counter', help: 'Authentication failures by method.', label: 'method' } },
  { key: 'replies', def: { name: 'sockskit_replies_total', type: 'counter', help: 'SOCKS5 reply codes sent (0 is success).', label: 'code' } },
  { key: 'errors', def: { name: 'sockskit_errors_total', type: 'counter', help: 'Connections that ended in an error, by class.', label: 'class' }, fixed: ERROR_CLASSES },
  { key: 'ends', def: { name: 'sockskit_connections_ended_total', type: 'counter', help: 'Finished connections by how they ended (the access log end field).', label: 'end' } },
  { key: 'methods', def: { name: 'sockskit_connections_method_total', type: 'counter', help: 'Finished connections by authentication method (socks4 for SOCKS4; unknown before one was chosen).', label: 'method' } },
];

const PROCESS_SERIES: [keyof ProcessFigures | 'cpu', SeriesDef][] = [
  ['cpu', { name: 'process_cpu_seconds_total', type: 'counter', help: 'User and system CPU time, seconds (all processes of the service).' }],
  ['cpuUserSeconds', { name: 'process_cpu_user_seconds_total', type: 'counter', help: 'User CPU time, seconds.' }],
  ['cpuSystemSeconds', { name: 'process_cpu_system_seconds_total', type: 'counter', help: 'System CPU time, seconds.' }],
  ['residentBytes', { name: 'process_resident_memory_bytes', type: 'gauge', help: 'Resident memory, bytes (all processes of the service).' }],
  ['openFds', { name: 'process_open_fds', type: 'gauge', help: 'Open file descriptors (all processes of the service).' }],
  ['maxFds', { name: 'process_max_fds', type: 'gauge', help: 'The soft descriptor limit (summed over the processes of the service).' }],
  ['startTime', { name: 'process_start_time_seconds', type: 'gauge', help: 'Start time since the Unix epoch, seconds (the oldest process).' }],
];

/** The Prometheus text format of a snapshot (Content-Type: text/plain; version=0.0.4), with a program's own series. */
export function renderMetrics(s: MetricsSnapshot, extra?: ExtraSeries): string {
  const out = new Exposition();
  for (const k of STAT_KEYS) out.family(STAT_SERIES[k], s[k]);
  for (const { key, def, fixed } of LABELLED_SERIES) {
    const got = s[key] ?? {};
    out.family(def, fixed ? Object.fromEntries([...fixed, ...Object.keys(got)].map((k) => [k, got[k] ?? 0])) : got);
  }
  const logins = s.logins ?? {};
  out.family(LOGINS_SERIES, Object.fromEntries(LOGIN_OUTCOMES.map((k) => [k, logins[k] ?? 0])));
  out.family(LOGIN_DELAYS_SERIES, logins.delayed ?? 0);
  out.histogram('sockskit_handshake_duration_seconds', 'Time from accept to the end of the handshake.', HANDSHAKE_BUCKETS, s.handshakeBuckets, s.handshakeSum, s.handshakeCount);
  if (s.process) for (const [k, def] of PROCESS_SERIES) out.family(def, k === 'cpu' ? s.process.cpuUserSeconds + s.process.cpuSystemSeconds : s.process[k]);
  if (extra) for (const [key, def] of Object.entries(extra.defs)) out.family(def, extra.values[key] ?? 0);
  return out.text();
}
