/**
 * Server metrics in the Prometheus text exposition format (version 0.0.4),
 * written by hand: a dozen counters, a few gauges and one histogram do not
 * need a client library, and a plain snapshot object is what worker
 * processes send to their primary to be summed (docs/operations.md).
 *
 *   const m = new ServerMetrics();
 *   m.observe(server);                 // any number of SocksServers
 *   http.createServer((q, r) => r.end(renderMetrics(m.snapshot())));
 */
import type { SocksServer } from './server.js';
import type { AuthMethod } from '../protocol/method.js';
import { ERROR_CLASSES, type ConnectionRecord } from './access-log.js';
import { STAT_KEYS, zeroStats, type SocksServerStats } from './registry.js';

/** The outcomes of sockskit_logins_total (userpass's stats() keys). */
const LOGIN_OUTCOMES = ['successes', 'failures', 'dropped', 'busy', 'throttled'] as const;

/** Upper bounds (seconds) of the handshake-duration histogram buckets. */
const HANDSHAKE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] as const;

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
  /** Non-cumulative counts per HANDSHAKE_BUCKETS bound, plus one for +Inf. */
  handshakeBuckets: number[];
  handshakeSum: number;
  handshakeCount: number;
}

/** How a handshake ended, for sockskit_handshakes_total{outcome}. */
function handshakeOutcome(r: ConnectionRecord): string {
  if (r.reply === 0 || r.end === 'handoff') return 'success';
  if (r.error === 'auth') return 'auth_failed';
  if (r.reply !== undefined) return 'denied';
  if (r.end === 'timeout') return 'timeout';
  if (r.error === 'protocol') return 'protocol_error';
  if (r.error === 'limit' || r.end === 'refused') return 'refused';
  return 'client_left';
}

function add(into: Record<string, number>, key: string, n = 1): void {
  into[key] = (into[key] ?? 0) + n;
}

export class ServerMetrics {
  private readonly servers = new Set<SocksServer>();
  private readonly handshakes: Record<string, number> = {};
  private readonly authFailures: Record<string, number> = {};
  private readonly replies: Record<string, number> = {};
  private readonly buckets = new Array<number>(HANDSHAKE_BUCKETS.length + 1).fill(0);
  private sum = 0;
  private count = 0;

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
    add(this.handshakes, handshakeOutcome(r));
    if (r.error === 'auth') add(this.authFailures, r.method ?? 'no_acceptable_method');
    if (r.reply !== undefined) add(this.replies, String(r.reply));
    if (r.handshakeMs !== undefined) {
      const s = r.handshakeMs / 1000;
      let i = HANDSHAKE_BUCKETS.findIndex((b) => s <= b);
      if (i < 0) i = HANDSHAKE_BUCKETS.length;
      this.buckets[i]!++;
      this.sum += s;
      this.count++;
    }
  }

  snapshot(): MetricsSnapshot {
    const out: MetricsSnapshot = {
      ...zeroStats(),
      handshakes: { ...this.handshakes }, authFailures: { ...this.authFailures }, logins: {}, replies: { ...this.replies }, errors: {}, errorCodes: {},
      handshakeBuckets: [...this.buckets], handshakeSum: this.sum, handshakeCount: this.count,
    };
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

/** The sum of snapshots (worker processes). */
export function mergeSnapshots(list: readonly MetricsSnapshot[]): MetricsSnapshot {
  const out: MetricsSnapshot = {
    ...zeroStats(),
    handshakes: {}, authFailures: {}, logins: {}, replies: {}, errors: {}, errorCodes: {},
    handshakeBuckets: new Array<number>(HANDSHAKE_BUCKETS.length + 1).fill(0), handshakeSum: 0, handshakeCount: 0,
  };
  for (const s of list) {
    for (const k of STAT_KEYS) out[k] += s[k] ?? 0;
    out.handshakeSum += s.handshakeSum ?? 0;
    out.handshakeCount += s.handshakeCount ?? 0;
    for (const k of ['handshakes', 'authFailures', 'logins', 'replies', 'errors', 'errorCodes'] as const) for (const [key, n] of Object.entries(s[k] ?? {})) add(out[k], key, n);
    s.handshakeBuckets.forEach((n, i) => (out.handshakeBuckets[i]! += n));
  }
  return out;
}

/** A label value as the exposition format wants it (backslash, quote, newline escaped). */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function family(out: string[], name: string, type: 'counter' | 'gauge', help: string, values: [string, number][] | number, labelName?: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  if (typeof values === 'number') out.push(`${name} ${values}`);
  else for (const [k, n] of values) out.push(`${name}{${labelName}="${label(k)}"} ${n}`);
}

/** The Prometheus text format of a snapshot (Content-Type: text/plain; version=0.0.4). */
export function renderMetrics(s: MetricsSnapshot, extra: Record<string, number> = {}): string {
  const out: string[] = [];
  family(out, 'sockskit_connections_accepted_total', 'counter', 'Client connections accepted.', s.accepted);
  family(out, 'sockskit_connections_refused_total', 'counter', 'Client connections refused at the connection limit.', s.refused);
  family(out, 'sockskit_descriptor_failures_total', 'counter', 'Accepts and outbound sockets that failed for want of a file descriptor (EMFILE/ENFILE).', s.noDescriptor);
  family(out, 'sockskit_connections_open', 'gauge', 'Client connections open (handshakes and tunnels).', s.open);
  family(out, 'sockskit_handshakes_total', 'counter', 'Finished connections by handshake outcome.', ['success', 'auth_failed', 'denied', 'timeout', 'protocol_error', 'refused', 'client_left'].map((k) => [k, s.handshakes[k] ?? 0]), 'outcome');
  family(out, 'sockskit_auth_failures_total', 'counter', 'Authentication failures by method.', Object.entries(s.authFailures), 'method');
  family(out, 'sockskit_logins_total', 'counter', 'Username/password logins by outcome (dropped: the client left before the check; busy: too many checks waiting; throttled: refused unchecked).', LOGIN_OUTCOMES.map((k) => [k, s.logins?.[k] ?? 0]), 'outcome');
  family(out, 'sockskit_login_delays_total', 'counter', 'Failed logins whose answer the login throttle delayed.', s.logins?.delayed ?? 0);
  family(out, 'sockskit_replies_total', 'counter', 'SOCKS5 reply codes sent (0 is success).', Object.entries(s.replies), 'code');
  family(out, 'sockskit_tunnels_total', 'counter', 'Tunnels relayed.', s.tunnels);
  family(out, 'sockskit_tunnels_open', 'gauge', 'Tunnels open.', s.tunnelsOpen);
  family(out, 'sockskit_handoffs_total', 'counter', 'Connections handed to the application.', s.handoffs);
  family(out, 'sockskit_bytes_up_total', 'counter', 'Bytes from clients to destinations (ended tunnels).', s.bytesUp);
  family(out, 'sockskit_bytes_down_total', 'counter', 'Bytes from destinations to clients (ended tunnels).', s.bytesDown);
  family(out, 'sockskit_errors_total', 'counter', 'Connections that ended in an error, by class.', ERROR_CLASSES.map((k) => [k, s.errors[k] ?? 0]), 'class');
  out.push('# HELP sockskit_handshake_duration_seconds Time from accept to the end of the handshake.', '# TYPE sockskit_handshake_duration_seconds histogram');
  let cum = 0;
  HANDSHAKE_BUCKETS.forEach((b, i) => {
    cum += s.handshakeBuckets[i] ?? 0;
    out.push(`sockskit_handshake_duration_seconds_bucket{le="${b}"} ${cum}`);
  });
  out.push(`sockskit_handshake_duration_seconds_bucket{le="+Inf"} ${s.handshakeCount}`);
  out.push(`sockskit_handshake_duration_seconds_sum ${s.handshakeSum}`, `sockskit_handshake_duration_seconds_count ${s.handshakeCount}`);
  for (const [name, v] of Object.entries(extra)) out.push(`# TYPE ${name} gauge`, `${name} ${v}`);
  return out.join('\n') + '\n';
}
