/** sockskit-electrum-gateway's options table: flags, file keys, SOCKSKIT_* names and --help from one place. */
import type { OptionTable } from './options.js';
import { KEEPALIVE_OPTION, SERVICE_OPTIONS } from './service-options.js';

/** The default port: 50001 and 50002 belong to Electrum servers (electrs, Fulcrum, ElectrumX, bwt) on the same host. */
export const GATEWAY_DEFAULT_LISTEN = '127.0.0.1:50011';

export const GATEWAY_OPTIONS: OptionTable = [
  {
    options: {
      listen: { type: 'string', arg: 'HOST:PORT', help: 'where Electrum clients connect (default 127.0.0.1:50011;\nnot 50001, where an Electrum server on the same host listens)' },
      backend: { type: 'string', arg: 'HOST:PORT', help: 'the plain Electrum server to forward to (required)' },
      'backend-tls': { type: 'boolean', help: 'the backend speaks TLS (Electrum "s" port)' },
      'backend-tls-insecure': { type: 'boolean', help: 'with --backend-tls: accept any certificate (self-signed)' },
      'backend-ca': { type: 'string', arg: 'FILE', help: 'with --backend-tls: trust only the CA certificate(s) in FILE\n(PEM) instead of the system ones; the name is still checked' },
    },
  },
  {
    title: 'Token (exactly one)',
    options: {
      'auth-token': { type: 'string', arg: 'TOKEN', help: 'use TOKEN (visible in the process list: prefer a cookie,\n--auth-token-file or SOCKSKIT_AUTH_TOKEN)' },
      'auth-token-file': { type: 'string', arg: 'FILE', help: 'read the token from FILE (first line; never created)' },
      'auth-cookie': { type: 'string', arg: 'FILE', help: 'read the token from FILE; create FILE (mode 0600) with a\nnew random token if it does not exist' },
      'print-token': { type: 'boolean', help: 'print the token on stdout' },
    },
  },
  {
    title: 'Other',
    options: {
      http: { type: 'string', arg: 'HOST:PORT', help: 'serve status JSON here, behind HTTP Basic (any user, token\nas password): curl -u :TOKEN http://HOST:PORT/' },
      'handshake-timeout': { type: 'string', arg: 'MS', help: 'deadline for the SOCKS handshake (default 10000)' },
      'backend-timeout': { type: 'string', arg: 'MS', help: 'deadline to connect to the backend, TLS included (default 10000)' },
      'backend-log-interval': { type: 'string', arg: 'MS', help: 'log each kind of backend failure at most once per MS\n(default 60000), with how many were left out' },
      keepalive: { ...KEEPALIVE_OPTION, help: 'TCP keepalive toward clients and the backend (default 60)' },
    },
  },
  SERVICE_OPTIONS,
];

export const GATEWAY_INTRO = `Usage: sockskit-electrum-gateway --backend HOST:PORT (--auth-token TOKEN | --auth-cookie FILE) [options]

Token authentication for an Electrum server, compatible with bwt's
--electrum-socks-auth: clients set this address as their SOCKS5 proxy with any
username and the token as password (or, without SOCKS auth, the token as the
server hostname). Authenticated connections are piped to the backend.
`;

export const GATEWAY_OUTRO = `The access log never shows the token (the hostname path's host is left out).
Every option is also SOCKSKIT_<NAME> in the environment (SOCKSKIT_AUTH_TOKEN) and
NAME: in the --config file; flags win over the environment, which wins over the file.
Debug logs go to stderr through DEBUG=sockskit:* ; the token is never logged.
`;
