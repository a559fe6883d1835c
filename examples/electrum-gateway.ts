#!/usr/bin/env node
/**
 * sockskit-electrum-gateway: puts bwt-style token authentication (a SOCKS5
 * handshake that only proves the token) in front of a plain Electrum server.
 * Electrum, ncat, OpenBSD nc and the raw byte string all work as clients;
 * each authenticated connection is piped to --backend with the bytes that
 * came with the handshake first.
 */
import cluster from 'node:cluster';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { relay, resolveToken, basicAuthGuard, electrumTokenAuth, ElectrumAuthFailure, LocalProtocolError, raiseDescriptorLimit } from '../lib/index.js';
import { parseHostPort, parseNumber, packageVersion, fail, UsageError, isLoopback, permissionWarning } from './cli.js';
import { loadSettings, readSecretFile } from './settings.js';
import { serviceMain, type BuiltConfig } from './service.js';
import { parseServiceOptions, SERVICE_HELP, SERVICE_FLAGS } from './service-options.js';

const PROG = 'sockskit-electrum-gateway';
const debug = createDebug('sockskit:electrum-gateway');

const HELP = `Usage: ${PROG} --backend HOST:PORT (--auth-token TOKEN | --auth-cookie FILE) [options]

Token authentication for an Electrum server, compatible with bwt's
--electrum-socks-auth: clients set this address as their SOCKS5 proxy with any
username and the token as password (or, without SOCKS auth, the token as the
server hostname). Authenticated connections are piped to the backend.

  --listen HOST:PORT        where Electrum clients connect (default 127.0.0.1:50011;
                            not 50001, where an Electrum server on the same host listens)
  --backend HOST:PORT       the plain Electrum server to forward to (required)
  --backend-tls             the backend speaks TLS (Electrum "s" port)
  --backend-tls-insecure    with --backend-tls: accept any certificate (self-signed)
  --backend-ca FILE         with --backend-tls: trust only the CA certificate(s) in FILE
                            (PEM) instead of the system ones; the name is still checked
Token (exactly one)
  --auth-token TOKEN        use TOKEN (visible in the process list: prefer a cookie,
                            --auth-token-file or SOCKSKIT_AUTH_TOKEN)
  --auth-token-file FILE    read the token from FILE (first line; never created)
  --auth-cookie FILE        read the token from FILE; create FILE (mode 0600) with a
                            new random token if it does not exist
  --print-token             print the token on stdout
Other
  --http HOST:PORT          serve status JSON here, behind HTTP Basic (any user, token
                            as password): curl -u :TOKEN http://HOST:PORT/
  --handshake-timeout MS    deadline for the SOCKS handshake (default 10000)
  --backend-timeout MS      deadline to connect to the backend, TLS included (default 10000)
  --backend-log-interval MS log each kind of backend failure at most once per MS
                            (default 60000), with how many were left out
  --keepalive SECONDS|off   TCP keepalive toward clients and the backend (default 60)
${SERVICE_HELP}
The access log never shows the token (the hostname path's host is left out).
Every option is also SOCKSKIT_<NAME> in the environment (SOCKSKIT_AUTH_TOKEN) and
NAME: in the --config file; flags win over the environment, which wins over the file.
Debug logs go to stderr through DEBUG=sockskit:* ; the token is never logged.
`;

const OPTIONS = {
  ...SERVICE_FLAGS,
  listen: { type: 'string' },
  backend: { type: 'string' },
  'backend-tls': { type: 'boolean' },
  'backend-tls-insecure': { type: 'boolean' },
  'backend-ca': { type: 'string' },
  'auth-token': { type: 'string' },
  'auth-cookie': { type: 'string' },
  'auth-token-file': { type: 'string' },
  'backend-log-interval': { type: 'string' },
  'print-token': { type: 'boolean' },
  http: { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'backend-timeout': { type: 'string' },
} as const;

interface Stats {
  open: number;
  total: number;
  authFailures: number;
  failuresByReason: Record<ElectrumAuthFailure, number>;
  backendErrors: number;
}

function hostPort(h: { host: string; port: number }): string {
  return net.isIPv6(h.host) ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/** The PEM certificates in `file` for `ca`; one readable error when there are none or one is damaged. */
function loadCa(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
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

/** The default port: 50001 and 50002 belong to Electrum servers (electrs, Fulcrum, ElectrumX, bwt) on the same host. */
export const DEFAULT_LISTEN = '127.0.0.1:50011';

const stats: Stats = { open: 0, total: 0, authFailures: 0, failuresByReason: { password: 0, hostname: 0, 'no-method': 0, command: 0 }, backendErrors: 0 };

/**
 * Backend failures, one line per kind (refused, timeout, TLS, ...) per
 * interval, so a dead backend is visible without DEBUG and cannot flood the log.
 */
class BackendLog {
  private last = new Map<string, { at: number; skipped: number }>();
  constructor(private interval: number) {}
  setInterval(ms: number): void {
    this.interval = ms;
  }
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
    process.stderr.write(`${PROG}: backend ${where}: ${describeBackendError(err)}${more}\n`);
  }
}
const backendLog = new BackendLog(60000);

interface GatewayConfig extends BuiltConfig {
  printToken: boolean;
  token: string;
  httpAt: { host: string; port: number } | undefined;
  backendLabel: string;
  dialBackend: () => Duplex;
}

function buildConfig(argv: string[]): GatewayConfig {
  const settings = loadSettings(argv, OPTIONS);
  const v = settings.values as Record<string, any>;
  if (v.help || v.version) return { help: v.help, version: v.version } as GatewayConfig;
  if (settings.rules !== undefined) throw new UsageError(`${settings.configFile}: rules: not used by the gateway`);
  const svc = parseServiceOptions(v);
  if (!v.backend) throw new UsageError('--backend HOST:PORT is required');
  if (v['backend-tls-insecure'] && !v['backend-tls']) throw new UsageError('--backend-tls-insecure needs --backend-tls');
  if (v['backend-ca'] !== undefined && !v['backend-tls']) throw new UsageError('--backend-ca needs --backend-tls');
  if (v['backend-ca'] !== undefined && v['backend-tls-insecure']) throw new UsageError('--backend-ca and --backend-tls-insecure exclude each other');
  const listen = parseHostPort(v.listen ?? DEFAULT_LISTEN);
  const backend = parseHostPort(v.backend);
  const httpAt = v.http !== undefined ? parseHostPort(v.http) : undefined;
  const handshakeTimeout = parseNumber('handshake-timeout', v['handshake-timeout'], 10000);
  const notices: string[] = settings.unknownEnv.map((k) => `${k} is not an option of this program; ignored`);
  if (v['auth-token-file'] !== undefined && (v['auth-token'] !== undefined || v['auth-cookie'] !== undefined)) throw new UsageError('give exactly one of --auth-token, --auth-token-file or --auth-cookie');
  let authToken = v['auth-token'] as string | undefined;
  if (v['auth-token-file'] !== undefined) {
    authToken = readSecretFile('auth-token-file', v['auth-token-file']);
    const w = permissionWarning(v['auth-token-file'], 'token file');
    if (w) notices.push(w);
  }
  let tok;
  try {
    // --check creates nothing: a missing cookie file is what the real start would create.
    const wouldCreate = v.check && authToken === undefined && v['auth-cookie'] !== undefined && !existsSync(v['auth-cookie']);
    tok = wouldCreate ? { token: 'check', created: false } : resolveToken({ authToken, authCookie: v['auth-cookie'] });
    if (wouldCreate) notices.push(`the cookie file ${v['auth-cookie']} does not exist yet: it will be created at start`);
  } catch (err) {
    // Exactly-one and empty-token mistakes are usage errors; file errors are not.
    if (err instanceof LocalProtocolError) throw new UsageError(err.message.replace('--auth-token TOKEN or', '--auth-token TOKEN, --auth-token-file FILE or'));
    throw err;
  }
  const token = tok.token;
  const backendTimeout = parseNumber('backend-timeout', v['backend-timeout'], 10000);
  backendLog.setInterval(parseNumber('backend-log-interval', v['backend-log-interval'], 60000));
  const backendCa = v['backend-ca'] !== undefined ? loadCa(v['backend-ca']) : undefined;
  if (tok.created) process.stderr.write(`${PROG}: created cookie file ${v['auth-cookie']} with a new token\n`);
  const backendLabel = hostPort(backend);

  const dialBackend = (): Duplex => {
    const sock = v['backend-tls']
      ? tls.connect({
          host: backend.host,
          port: backend.port,
          // SNI carries host names only (RFC 6066; Node warns about an IP). The
          // certificate is still checked against the IP address then.
          servername: net.isIP(backend.host) ? undefined : backend.host,
          rejectUnauthorized: !v['backend-tls-insecure'],
          ca: backendCa,
        })
      : net.connect({ host: backend.host, port: backend.port });
    sock.setNoDelay(true);
    // Both legs, as the proxy: the client socket gets it from the server's keepAlive option.
    if (svc.keepAlive !== false) sock.setKeepAlive(true, svc.keepAlive);
    // A backend that accepts TCP but never finishes connecting (or its TLS
    // handshake) must not hold the client forever.
    const timer = setTimeout(() => sock.destroy(Object.assign(new Error(`no connection within ${backendTimeout} ms`), { code: 'ETIMEDOUT' })), backendTimeout);
    sock.once(v['backend-tls'] ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    sock.once('close', () => clearTimeout(timer));
    sock.once('error', (err) => {
      stats.backendErrors++;
      debug('backend %s: %s', backendLabel, describeBackendError(err));
      backendLog.report(backendLabel, err);
    });
    return sock;
  };

  const options = {
    ...electrumTokenAuth({
      token,
      onAuthFailure: (reason: ElectrumAuthFailure) => {
        stats.authFailures++;
        stats.failuresByReason[reason]++;
      },
      onConnection: ({ socket, head, identity }) => {
        stats.total++;
        stats.open++;
        debug('authenticated (%s path), %d open', identity.path, stats.open);
        socket.once('close', () => stats.open--);
        // Writes before the TLS/TCP connect completes are queued, so the
        // pipelined first request goes out first without waiting here.
        relay(socket, dialBackend(), head);
      },
    }),
    handshakeTimeout,
    keepAlive: svc.keepAlive,
  };
  return {
    ...svc,
    check: v.check,
    listen: [listen],
    options,
    describe: `backend ${backendLabel}${v['backend-tls'] ? ' (TLS)' : ''}`,
    notices,
    warnings: (_where, host) => (isLoopback(host) ? [] : ['listening beyond loopback; the token travels in clear text']),
    printToken: v['print-token'] === true,
    token,
    httpAt,
    backendLabel,
    dialBackend,
  };
}

/** One connection attempt at start: a dead backend is said at once (the gateway keeps running). */
function checkBackend(cfg: GatewayConfig): void {
  const sock = cfg.dialBackend();
  sock.once('error', () => process.stderr.write(`${PROG}: warning: the backend ${cfg.backendLabel} is not reachable now; clients will fail until it is\n`));
  sock.once('connect', () => sock.destroy());
  sock.once('secureConnect', () => sock.destroy());
}

function serveStatus(cfg: GatewayConfig): void {
  const httpAt = cfg.httpAt!;
  const web = http.createServer(
    basicAuthGuard(cfg.token, (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || (path !== '/' && path !== '/status')) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      const body = {
        program: PROG,
        version: packageVersion(),
        backend: cfg.backendLabel,
        connections: { open: stats.open, total: stats.total },
        authFailures: stats.authFailures,
        authFailuresByReason: stats.failuresByReason,
        backendErrors: stats.backendErrors,
      };
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body) + '\n');
    }, { onFailure: () => debug('HTTP request without a valid token') }),
  );
  web.on('error', (err) => fail(PROG, err));
  web.listen(httpAt.port, httpAt.host, () => {
    const a = web.address() as net.AddressInfo;
    process.stderr.write(`${PROG}: http status on ${hostPort({ host: a.address, port: a.port })}\n`);
  });
}

function main(argv: string[]): Promise<void> {
  // Two descriptors per client (client and backend): raise the soft limit once,
  // first; the server's default connection limit follows from what it allows.
  const fds = raiseDescriptorLimit();
  if (fds?.error) process.stderr.write(`${PROG}: warning: cannot raise the descriptor limit from ${fds.soft} to ${fds.hard}: ${fds.error}\n`);
  return serviceMain({
    prog: PROG,
    help: HELP,
    build: () => buildConfig(argv),
    before: (cfg) => {
      if (cfg.printToken && !cfg.check && cluster.isPrimary) process.stdout.write(`${cfg.token}\n`);
    },
    extraStats: () => ({ authFailures: stats.authFailures, backendErrors: stats.backendErrors }),
    onStarted: (cfg) => {
      checkBackend(cfg as GatewayConfig);
      if ((cfg as GatewayConfig).httpAt) serveStatus(cfg as GatewayConfig);
    },
  });
}

main(process.argv.slice(2)).catch((err) => fail(PROG, err));
