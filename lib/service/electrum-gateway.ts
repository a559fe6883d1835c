/**
 * sockskit-electrum-gateway as a library: bwt-style token authentication (a
 * SOCKS5 handshake that only proves the token) in front of a plain Electrum
 * server. Each authenticated connection is piped to the backend with the
 * bytes that came with the handshake first.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readInput } from './inputs.js';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import createDebug from 'debug';
import { electrumTokenAuth, type ElectrumAuthFailure } from '../electrum/gate.js';
import { readTokenFile, resolveToken } from '../electrum/index.js';
import { LocalProtocolError } from '../protocol/errors.js';
import { relay } from '../transport/relay.js';
import type { SeriesDef, SeriesValue } from '../server/index.js';
import { UsageError } from './errors.js';
import { GATEWAY_DEFAULT_LISTEN, GATEWAY_INTRO, GATEWAY_OPTIONS, GATEWAY_OUTRO } from './electrum-gateway-options.js';
import { parseServiceOptions, serviceHelp } from './service-options.js';
import { loadSettings, type Values } from './settings.js';
import type { ServiceConfig, ServiceProgram } from './types.js';
import { isLoopback, parseHostPort, parseNumber, describeFsError, type HostPort } from './values.js';

const PROG = 'sockskit-electrum-gateway';
const debug = createDebug('sockskit:electrum-gateway');

export interface GatewayStats {
  open: number;
  total: number;
  authFailures: number;
  failuresByReason: Record<ElectrumAuthFailure, number>;
  backendErrors: number;
}

export interface GatewayConfig extends ServiceConfig {
  printToken: boolean;
  token: string;
  httpAt: HostPort | undefined;
  backendLabel: string;
  /** A new connection to the backend (TLS when configured), with its deadline. */
  dialBackend: () => Duplex;
}

export function hostPortText(h: HostPort): string {
  return net.isIPv6(h.host) ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/** The PEM certificates in `file` for `ca`; one readable error when there are none or one is damaged. */
function loadCa(file: string): string[] {
  let text: string;
  try {
    text = readInput(file).toString('utf8');
  } catch (err) {
    throw new Error(`cannot read --backend-ca file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Node silently ignores what is not a certificate, so check here.
  const certs = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0) throw new Error(`--backend-ca file ${file}: no PEM certificate in it`);
  for (const pem of certs) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new Error(`--backend-ca file ${file}: a certificate does not parse (${(err as Error).message})`);
    }
  }
  return certs;
}

/** One readable line for a backend failure: the message, with the code when it adds something. */
function describeBackendError(err: NodeJS.ErrnoException): string {
  if (err.code && !err.message.includes(err.code)) return `${err.message} (${err.code})`;
  return err.message;
}

/**
 * Backend failures, one line per kind (refused, timeout, TLS, ...) per
 * interval, so a dead backend is visible without DEBUG and cannot flood the log.
 */
class BackendLog {
  private last = new Map<string, { at: number; skipped: number }>();
  constructor(public interval: number, private readonly say: (line: string) => void) {}
  report(where: string, err: NodeJS.ErrnoException): void {
    const kind = err.code ?? err.message;
    const now = Date.now();
    const prev = this.last.get(kind);
    if (prev && now - prev.at < this.interval) {
      prev.skipped++;
      return;
    }
    const more = prev && prev.skipped > 0 ? ` (${prev.skipped} more since the last report)` : '';
    this.last.set(kind, { at: now, skipped: 0 });
    this.say(`backend ${where}: ${describeBackendError(err)}${more}`);
  }
}

function checkBackendFlags(v: Values): void {
  if (!v.backend) throw new UsageError('--backend HOST:PORT is required');
  if (v['backend-tls-insecure'] && !v['backend-tls']) throw new UsageError('--backend-tls-insecure needs --backend-tls');
  if (v['backend-ca'] !== undefined && !v['backend-tls']) throw new UsageError('--backend-ca needs --backend-tls');
  if (v['backend-ca'] !== undefined && v['backend-tls-insecure']) throw new UsageError('--backend-ca and --backend-tls-insecure exclude each other');
}

/** The dialler: TCP or TLS, keepalive, a connect deadline, and failures counted and reported. */
function backendDialer(v: Values, keepAlive: number | false, stats: GatewayStats, log: BackendLog): { label: string; dial: () => Duplex } {
  const backend = parseHostPort(v.backend as string);
  const label = hostPortText(backend);
  const timeout = parseNumber('backend-timeout', v['backend-timeout'] as string | undefined, 10000);
  const useTls = v['backend-tls'] === true;
  const ca = v['backend-ca'] !== undefined ? loadCa(v['backend-ca'] as string) : undefined;
  const dial = (): Duplex => {
    const sock = useTls
      // SNI carries host names only (RFC 6066; Node warns about an IP). The certificate is still checked against the IP then.
      ? tls.connect({ host: backend.host, port: backend.port, servername: net.isIP(backend.host) ? undefined : backend.host, rejectUnauthorized: !v['backend-tls-insecure'], ca })
      : net.connect({ host: backend.host, port: backend.port });
    sock.setNoDelay(true);
    // Both legs, as the proxy: the client socket gets it from the server's keepAlive option.
    if (keepAlive !== false) sock.setKeepAlive(true, keepAlive);
    // A backend that accepts TCP but never finishes connecting (or its TLS handshake) must not hold the client forever.
    const timer = setTimeout(() => sock.destroy(Object.assign(new Error(`no connection within ${timeout} ms`), { code: 'ETIMEDOUT' })), timeout);
    sock.once(useTls ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    sock.once('close', () => clearTimeout(timer));
    sock.once('error', (err) => {
      stats.backendErrors++;
      debug('backend %s: %s', label, describeBackendError(err));
      log.report(label, err);
    });
    return sock;
  };
  return { label, dial };
}

/** --auth-token-file, refused as a cookie file is: a symbolic link, another owner, group/other access, a weak token. */
function tokenFile(file: string): string {
  try {
    return readTokenFile(file);
  } catch (err) {
    if (err instanceof LocalProtocolError) throw new UsageError(`--auth-token-file: ${err.message}`);
    throw new UsageError(`cannot read --auth-token-file file ${file}: ${describeFsError(err)}`);
  }
}

/** The token from exactly one of --auth-token, --auth-token-file, --auth-cookie; --check creates no cookie. */
function tokenFromSettings(v: Values, notices: string[], say: (line: string) => void): string {
  if (v['auth-token-file'] !== undefined && (v['auth-token'] !== undefined || v['auth-cookie'] !== undefined)) throw new UsageError('give exactly one of --auth-token, --auth-token-file or --auth-cookie');
  let authToken = v['auth-token'] as string | undefined;
  const cookie = v['auth-cookie'] as string | undefined;
  if (v['auth-token-file'] !== undefined) {
    authToken = tokenFile(v['auth-token-file'] as string);
  }
  try {
    // --check creates nothing: a missing cookie file is what the real start would create.
    if (v.check && authToken === undefined && cookie !== undefined && !existsSync(cookie)) {
      notices.push(`the cookie file ${cookie} does not exist yet: it will be created at start`);
      return 'check';
    }
    const tok = resolveToken({ authToken, authCookie: cookie });
    if (tok.created) say(`created cookie file ${cookie} with a new token`);
    return tok.token;
  } catch (err) {
    // Exactly-one and empty-token mistakes are usage errors; file errors are not.
    if (err instanceof LocalProtocolError) throw new UsageError(err.message.replace('--auth-token TOKEN or', '--auth-token TOKEN, --auth-token-file FILE or'));
    throw err;
  }
}

/** The server options: the token gate, and each authenticated connection relayed to a new backend connection. */
function gatewayServerOptions(token: string, dial: () => Duplex, stats: GatewayStats) {
  return electrumTokenAuth({
    token,
    onAuthFailure: (reason: ElectrumAuthFailure) => {
      stats.authFailures++;
      stats.failuresByReason[reason]++;
    },
    onConnection: ({ socket, head, identity, failed }) => {
      stats.total++;
      stats.open++;
      debug('authenticated (%s path), %d open', identity.path, stats.open);
      socket.once('close', () => stats.open--);
      const backend = dial();
      // A backend that refuses, times out or resets: the access log line says so (end=handoff error=refused...).
      backend.once('error', failed);
      // Writes before the TLS/TCP connect completes are queued, so the pipelined first request goes out first.
      relay(socket, backend, head);
    },
  });
}

interface GatewayContext {
  stats: GatewayStats;
  backendLog: BackendLog;
  say: (line: string) => void;
}

/** Flags, environment and config file into a configuration; throws UsageError naming the place at fault. */
export function buildGatewayConfig(argv: readonly string[], ctx: GatewayContext, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const settings = loadSettings(argv, GATEWAY_OPTIONS, env);
  const v = settings.values;
  if (v.help || v.version) return { help: v.help, version: v.version } as GatewayConfig;
  if (settings.rules !== undefined) throw new UsageError(`${settings.configFile}: rules: not used by the gateway`);
  const svc = parseServiceOptions(v);
  checkBackendFlags(v);
  const listen = parseHostPort((v.listen as string | undefined) ?? GATEWAY_DEFAULT_LISTEN);
  const httpAt = v.http !== undefined ? parseHostPort(v.http as string) : undefined;
  const handshakeTimeout = parseNumber('handshake-timeout', v['handshake-timeout'] as string | undefined, 10000);
  const notices = settings.unknownEnv.map((k) => `${k} is not an option of this program; ignored`);
  const token = tokenFromSettings(v, notices, ctx.say);
  ctx.backendLog.interval = parseNumber('backend-log-interval', v['backend-log-interval'] as string | undefined, 60000);
  const backend = backendDialer(v, svc.keepAlive, ctx.stats, ctx.backendLog);
  return {
    ...svc,
    check: v.check === true,
    listen: [listen],
    options: { ...gatewayServerOptions(token, backend.dial, ctx.stats), handshakeTimeout, keepAlive: svc.keepAlive },
    describe: `backend ${backend.label}${v['backend-tls'] ? ' (TLS)' : ''}`,
    notices,
    warnings: (_where, host) => (isLoopback(host) ? [] : ['listening beyond loopback; the token travels in clear text']),
    printToken: v['print-token'] === true,
    token,
    httpAt,
    backendLabel: backend.label,
    dialBackend: backend.dial,
  };
}

/** The gateway's own /metrics series (keys of its extraStats). */
export const GATEWAY_SERIES: Record<string, SeriesDef> = {
  authFailuresByReason: { name: 'sockskit_gateway_auth_failures_total', type: 'counter', help: 'Token checks that failed, by reason.', label: 'reason' },
  backendErrors: { name: 'sockskit_gateway_backend_errors_total', type: 'counter', help: 'Connections to the backend that failed.' },
  gatewayOpen: { name: 'sockskit_gateway_backend_connections_open', type: 'gauge', help: 'Authenticated connections relayed to the backend, open.' },
  gatewayTotal: { name: 'sockskit_gateway_backend_connections_total', type: 'counter', help: 'Authenticated connections relayed to the backend.' },
};

/** The status page's body from the (summed) counters. */
export function gatewayStatus(cfg: GatewayConfig, extra: Record<string, SeriesValue>): Record<string, unknown> {
  const n = (k: string) => (typeof extra[k] === 'number' ? (extra[k] as number) : 0);
  return {
    backend: cfg.backendLabel,
    connections: { open: n('gatewayOpen'), total: n('gatewayTotal') },
    authFailures: n('authFailures'),
    authFailuresByReason: extra.authFailuresByReason ?? {},
    backendErrors: n('backendErrors'),
    ...(typeof extra.workers === 'number' ? { workers: extra.workers } : {}),
  };
}

/** sockskit-electrum-gateway as a ServiceProgram; `stats` are its counters (for a status page). */
export function gatewayProgram(argv: readonly string[] = process.argv.slice(2)): ServiceProgram<GatewayConfig> & { stats: GatewayStats } {
  const say = (l: string) => process.stderr.write(`${PROG}: ${l}\n`);
  const stats: GatewayStats = { open: 0, total: 0, authFailures: 0, failuresByReason: { password: 0, hostname: 0, 'no-method': 0, command: 0 }, backendErrors: 0 };
  const ctx: GatewayContext = { stats, backendLog: new BackendLog(60000, say), say };
  return {
    prog: PROG,
    help: serviceHelp(GATEWAY_INTRO, GATEWAY_OPTIONS, GATEWAY_OUTRO),
    stats,
    build: () => buildGatewayConfig(argv, ctx),
    extraStats: () => ({ authFailures: stats.authFailures, authFailuresByReason: { ...stats.failuresByReason }, backendErrors: stats.backendErrors, gatewayOpen: stats.open, gatewayTotal: stats.total }),
    extraSeries: GATEWAY_SERIES,
  };
}
