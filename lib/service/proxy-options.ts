/** sockskit-proxy's options table: flags, file keys, SOCKSKIT_* names and --help from one place. */
import type { OptionTable } from './options.js';
import { KEEPALIVE_OPTION, SERVICE_OPTIONS } from './service-options.js';

export const PROXY_OPTIONS: OptionTable = [
  {
    title: 'Listening',
    options: {
      listen: { type: 'string', multiple: true, arg: 'HOST:PORT', help: 'address to listen on (repeatable; default 127.0.0.1:1080;\nIPv6 as [::1]:1080)' },
      'proxy-protocol': { type: 'string', arg: 'v1|v2|any', help: 'behind a load balancer (HAProxy send-proxy, AWS NLB): each\nconnection starts with a PROXY protocol header, and the\nclient address comes from it; without one it is closed' },
      'proxy-protocol-from': { type: 'string', multiple: true, arg: 'CIDR', help: 'accept PROXY headers only from these senders (repeatable)' },
    },
  },
  {
    title: 'Authentication (SOCKS5)',
    options: {
      user: { type: 'string', multiple: true, newlineList: true, arg: 'NAME:PASSWORD', help: 'accept this username/password (RFC 1929; repeatable)' },
      users: { type: 'string', arg: 'FILE', help: 'read NAME:PASSWORD lines from FILE (# comments)\nWith users configured, no-auth and SOCKS4 are refused.' },
      'binauth-key': { type: 'string', arg: 'FILE', help: "binauth (Ed25519, method 0x80): the server's private key\n(make one with sockskit-keys generate FILE)" },
      'authorized-keys': { type: 'string', arg: 'FILE', help: 'binauth: client public keys allowed in, one hex key per line\nWith binauth configured, no-auth and SOCKS4 are refused.' },
      'binauth-server-id': { type: 'string', arg: 'ID', help: "binauth: this server's id; clients that prefix another id\nwhen signing are refused (sockskit-connect --binauth-server-id)" },
      'gssapi-psk': { type: 'string', arg: 'FILE', help: 'GSS-API (RFC 1961, method 0x01) with the shared-key TEST\nmechanism (not Kerberos) and the key in FILE (hex or raw,\n>= 32 bytes: sockskit-keys psk FILE); without --user it is the\nonly method offered' },
      'gssapi-protection': { type: 'string', arg: 'LEVEL', help: 'integrity | confidentiality | selective (default confidentiality)' },
      'no-socks4': { type: 'boolean', help: 'refuse SOCKS4/4a requests' },
      ident: { type: 'string', arg: 'off|verify', help: "SOCKS4: verify USERID with the client's identd (RFC 1413):\nmismatch -> 93, identd unreachable/timeout -> 92 (default off)" },
      'ident-port': { type: 'string', arg: 'PORT', help: 'identd port on client hosts (default 113; for tests)' },
    },
  },
  {
    title: 'Commands (CONNECT, BIND and UDP ASSOCIATE are served by default)',
    options: {
      'no-bind': { type: 'boolean', help: 'refuse BIND' },
      'no-udp': { type: 'boolean', help: 'refuse UDP ASSOCIATE' },
      external: { type: 'string', arg: 'ADDR', help: 'IP address BIND listens on and UDP relays bind to, and that\nreplies advertise (default: the address the client reached)' },
    },
  },
  {
    title: "Rules (docs/operations.md; a full first-match list goes in the config file's rules:)",
    options: {
      allow: { type: 'string', multiple: true, arg: 'CIDR', help: 'only allow destinations in CIDR (repeatable)' },
      deny: { type: 'string', multiple: true, arg: 'CIDR', help: 'deny destinations in CIDR (repeatable; wins over --allow)' },
      'client-allow': { type: 'string', multiple: true, arg: 'CIDR', help: 'only serve clients from CIDR (repeatable)' },
      'client-deny': { type: 'string', multiple: true, arg: 'CIDR', help: 'refuse clients from CIDR (repeatable; wins over --client-allow)' },
    },
  },
  {
    title: 'Network',
    options: {
      keepalive: KEEPALIVE_OPTION,
      'outbound-address': { type: 'string', arg: 'IP', help: "source address for CONNECT's outbound connections" },
      upstream: { type: 'string', multiple: true, arg: 'URL', help: "send CONNECT through this SOCKS proxy (socks5://, socks5h://,\nsocks4://, socks4a://, user:pass@); repeat for a chain, first\none dialled first; a rule's via: overrides it (via: direct);\nBIND and UDP ASSOCIATE routed upstream are refused (07)" },
    },
  },
  {
    title: 'Limits',
    options: {
      'handshake-timeout': { type: 'string', arg: 'MS', help: 'deadline for the whole handshake (default 10000)' },
      'connect-timeout': { type: 'string', arg: 'MS', help: 'deadline to reach a destination (default 10000)' },
      'idle-timeout': { type: 'string', arg: 'MS', help: 'close tunnels idle this long (default 0: never)' },
      'max-connections': { type: 'string', arg: 'N', help: 'open connections at most (default: what the descriptor\nlimit allows, 2 per tunnel, at most 10000; the soft limit\nis raised to the hard one at start); when reached, the\nconnection longest in its handshake is closed to make room' },
      'max-connections-per-source': { type: 'string', arg: 'N', help: "open connections at most from one client address\n(default 0: no limit; behind --proxy-protocol, the balancer's)" },
    },
  },
  SERVICE_OPTIONS,
];

export const PROXY_INTRO = `Usage: sockskit-proxy [options]

A SOCKS5 and SOCKS4/4a proxy. Without options it listens on 127.0.0.1:1080
with no authentication.
`;

export const PROXY_OUTRO = `Users files hold NAME:PASSWORD or NAME:$scrypt$... lines (sockskit-keys hash).
Every option is also SOCKSKIT_<NAME> in the environment (SOCKSKIT_MAX_CONNECTIONS,
SOCKSKIT_USER with one NAME:PASSWORD per line) and NAME: in the --config file;
flags win over the environment, which wins over the file.
Debug logs go to stderr through DEBUG=sockskit:* ; secrets are never logged.
`;
