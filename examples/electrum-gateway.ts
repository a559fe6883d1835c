#!/usr/bin/env node
/**
 * sockskit-electrum-gateway: puts bwt-style token authentication (a SOCKS5
 * handshake that only proves the token) in front of a plain Electrum server.
 * Electrum, ncat, OpenBSD nc and the raw byte string all work as clients;
 * each authenticated connection is piped to --backend with the bytes that
 * came with the handshake first.
 */
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { SocksServer, relay, resolveToken, basicAuthGuard, electrumTokenAuth, ElectrumAuthFailure, LocalProtocolError, raiseDescriptorLimit } from '../lib/index.js';
import { parseHostPort, parseNumber, packageVersion, fail, UsageError, isLoopback } from './cli.js';

const PROG = 'sockskit-electrum-gateway';
const debug = createDebug('sockskit:electrum-gateway');

const HELP = `Usage: ${PROG} --backend HOST:PORT (--auth-token TOKEN | --auth-cookie FILE) [options]

Token authentication for an Electrum server, compatible with bwt's
--electrum-socks-auth: clients set this address as their SOCKS5 proxy with any
username and the token as password (or, without SOCKS auth, the token as the
server hostname). Authenticated connections are piped to the backend.

  --listen HOST:PORT        where Electrum clients connect (default 127.0.0.1:50001)
  --backend HOST:PORT       the plain Electrum server to forward to (required)
  --backend-tls             the backend speaks TLS (Electrum "s" port)
  --backend-tls-insecure    with --backend-tls: accept any certificate (self-signed)
  --backend-ca FILE         with --backend-tls: trust only the CA certificate(s) in FILE
                            (PEM) instead of the system ones; the name is still checked
Token (exactly one)
  --auth-token TOKEN        use TOKEN (visible in the process list: prefer a cookie)
  --auth-cookie FILE        read the token from FILE; create FILE (mode 0600) with a
                            new random token if it does not exist
  --print-token             print the token on stdout
Other
  --http HOST:PORT          serve status JSON here, behind HTTP Basic (any user, token
                            as password): curl -u :TOKEN http://HOST:PORT/
  --handshake-timeout MS    deadline for the SOCKS handshake (default 10000)
  --backend-timeout MS      deadline to connect to the backend, TLS included (default 10000)
  -h, --help                show this help
  -V, --version             show the version

Logs go to stderr through DEBUG=sockskit:* ; the token is never logged.
`;

const OPTIONS = {
  listen: { type: 'string' },
  backend: { type: 'string' },
  'backend-tls': { type: 'boolean' },
  'backend-tls-insecure': { type: 'boolean' },
  'backend-ca': { type: 'string' },
  'auth-token': { type: 'string' },
  'auth-cookie': { type: 'string' },
  'print-token': { type: 'boolean' },
  http: { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'backend-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
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

function main(argv: string[]): void {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  if (v.version) {
    process.stdout.write(`${PROG} ${packageVersion()}\n`);
    return;
  }
  if (!v.backend) throw new UsageError('--backend HOST:PORT is required');
  if (v['backend-tls-insecure'] && !v['backend-tls']) throw new UsageError('--backend-tls-insecure needs --backend-tls');
  if (v['backend-ca'] !== undefined && !v['backend-tls']) throw new UsageError('--backend-ca needs --backend-tls');
  if (v['backend-ca'] !== undefined && v['backend-tls-insecure']) throw new UsageError('--backend-ca and --backend-tls-insecure exclude each other');
  // Two descriptors per client (client and backend): raise the soft limit first;
  // the server's default connection limit follows from what it allows.
  const fds = raiseDescriptorLimit();
  if (fds?.error) process.stderr.write(`${PROG}: warning: cannot raise the descriptor limit from ${fds.soft} to ${fds.hard}: ${fds.error}\n`);
  const listen = parseHostPort(v.listen ?? '127.0.0.1:50001');
  const backend = parseHostPort(v.backend);
  const httpAt = v.http !== undefined ? parseHostPort(v.http) : undefined;
  const handshakeTimeout = parseNumber('handshake-timeout', v['handshake-timeout'], 10000);
  let tok;
  try {
    tok = resolveToken({ authToken: v['auth-token'], authCookie: v['auth-cookie'] });
  } catch (err) {
    // Exactly-one and empty-token mistakes are usage errors; file errors are not.
    if (err instanceof LocalProtocolError) throw new UsageError(err.message);
    throw err;
  }
  const token = tok.token;
  const backendTimeout = parseNumber('backend-timeout', v['backend-timeout'], 10000);
  const backendCa = v['backend-ca'] !== undefined ? loadCa(v['backend-ca']) : undefined;
  if (tok.created) process.stderr.write(`${PROG}: created cookie file ${v['auth-cookie']} with a new token\n`);
  if (v['print-token']) process.stdout.write(`${token}\n`);

  const stats: Stats = { open: 0, total: 0, authFailures: 0, failuresByReason: { password: 0, hostname: 0, 'no-method': 0, command: 0 }, backendErrors: 0 };

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
    // A backend that accepts TCP but never finishes connecting (or its TLS
    // handshake) must not hold the client forever.
    const timer = setTimeout(() => sock.destroy(Object.assign(new Error(`no connection within ${backendTimeout} ms`), { code: 'ETIMEDOUT' })), backendTimeout);
    sock.once(v['backend-tls'] ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    sock.once('close', () => clearTimeout(timer));
    sock.once('error', (err) => {
      stats.backendErrors++;
      debug('backend %s: %s', hostPort(backend), describeBackendError(err));
    });
    return sock;
  };

  const server = new SocksServer({
    ...electrumTokenAuth({
      token,
      onAuthFailure: (reason) => {
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
  });
  server.on('clientError', (err: Error & { code?: string }) => debug('handshake failed: %s', err.code ?? err.message));
  server.on('error', (err) => fail(PROG, err));
  server.on('warning', (msg: string) => process.stderr.write(`${PROG}: warning: ${msg}\n`));
  server.listen(listen.port, listen.host, () => {
    const a = server.address() as net.AddressInfo;
    process.stderr.write(`${PROG}: listening on ${hostPort({ host: a.address, port: a.port })}, backend ${hostPort(backend)}${v['backend-tls'] ? ' (TLS)' : ''}\n`);
  });
  if (!isLoopback(listen.host)) process.stderr.write(`${PROG}: warning: listening beyond loopback; the token travels in clear text\n`);

  if (httpAt) {
    const web = http.createServer(
      basicAuthGuard(token, (req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method !== 'GET' || (path !== '/' && path !== '/status')) {
          res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
          return;
        }
        const body = {
          program: PROG,
          version: packageVersion(),
          backend: hostPort(backend),
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

  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  fail(PROG, err, err instanceof UsageError ? 2 : 1);
}
