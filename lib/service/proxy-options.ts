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
      'log-health-checks': { type: 'boolean', help: "with --proxy-protocol: write the balancer's health checks\n(a PROXY v2 LOCAL header or nothing, then a close) to the\naccess log as end=healthcheck; by default they are only\ncounted (sockskit_health_checks_total)" },
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
      'gssapi-keytab': { type: 'string', arg: 'FILE', help: "GSS-API (RFC 1961, method 0x01) with Kerberos V5: the service's\nkeys in FILE (kadmin: ktadd -k FILE rcmd/<proxy host>); the\nidentity is the client principal; without --user it is the\nonly method offered (needs the Kerberos binding)" },
      'gssapi-service': { type: 'string', arg: 'NAME', help: "Kerberos service name (default rcmd): FILE's NAME/<any host>" },
      'gssapi-protection': { type: 'string', arg: 'LEVEL', help: 'integrity | confidentiality | selective (default confidentiality)' },
      'no-socks4': { type: 'boolean', help: 'refuse SOCKS4/4a requests' },
      ident: { type: 'string', arg: 'off|verify', help: "SOCKS4: verify USERID with the client's identd (RFC 1413):\nmismatch -> 93, identd unreachable/timeout -> 92 (default off)" },
      'ident-port': { type: 'string', arg: 'PORT', help: 'identd port on client hosts (default 113; for tests)' },
    },
  },
  {
    title: 'External authentication and login protection (docs/operations.md)',
    options: {
      'auth-helper': { type: 'string', arg: '"CMD ARGS"', help: 'check usernames/passwords with a Squid basic-auth helper\n(e.g. "/usr/lib/squid/basic_ncsa_auth /etc/sockskit/htpasswd";\nbasic_pam_auth, basic_ldap_auth, ...): a pool of processes,\none "user password" line in, OK/ERR out; not with --user(s)' },
      'auth-helper-children': { type: 'string', arg: 'N', help: 'helper processes (default 2)' },
      'auth-helper-concurrency': { type: 'string', arg: 'N', help: "requests in flight per helper with channel IDs (Squid's\nconcurrency=N; default 0: one at a time)" },
      'auth-helper-timeout': { type: 'string', arg: 'MS', help: 'a login the helper has not answered by then fails; a\none-at-a-time helper is restarted (default 5000)' },
      'auth-helper-ttl': { type: 'string', arg: 'MS', help: 'an OK is remembered this long (default 60000; 0: never)' },
      'auth-helper-negative-ttl': { type: 'string', arg: 'MS', help: 'an ERR is remembered this long (default 5000; 0: never)' },
      'login-throttle': { type: 'string', arg: 'on|off', help: 'slow down and then refuse password guessers, by client\naddress and by user name (default on)' },
      'login-delay': { type: 'string', arg: 'MS', help: 'after 3 failures, a failed login is answered this much later,\ndoubling with each further failure up to 4 s (default 250)' },
      'login-max-failures': { type: 'string', arg: 'N', help: 'failures from one address before its logins are refused\nunchecked for --login-lockout (default 10; 0: never)' },
      'login-lockout': { type: 'string', arg: 'MS', help: 'how long such an address is refused (default 300000)' },
      'scrypt-concurrency': { type: 'string', arg: 'N', help: "scrypt password checks at once (default: a quarter of\nlibuv's threadpool, UV_THREADPOOL_SIZE, 4 by default: 1);\nthe rest wait their turn, by client address" },
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
      splice: { type: 'string', arg: 'MODE', help: "move busy tunnels' bytes with splice(2) in the kernel: auto\n(default: when the native addon is built; Linux), on (refuse\nto start without it: npm run build:splice), off (JavaScript)" },
    },
  },
  {
    title: 'Limits',
    options: {
      'handshake-timeout': { type: 'string', arg: 'MS', help: 'deadline for the whole handshake (default 10000)' },
      'connect-timeout': { type: 'string', arg: 'MS', help: 'deadline to reach a destination (default 10000)' },
      'idle-timeout': { type: 'string', arg: 'MS', help: 'close tunnels idle this long (default 0: never)' },
      'max-connections': { type: 'string', arg: 'N', help: 'open connections at most, all listeners together (default:\nwhat the descriptor limit allows, 2 per connection and 4\nper UDP association, at most 10000); when reached, the\nconnection longest in its handshake is closed to make room;\nwith --workers, split among them (printed at start)' },
      'max-connections-per-user': { type: 'string', arg: 'N', help: 'requests open at most per verified user (a --user name,\na binauth key, a GSS-API principal; not SOCKS4 USERIDs);\npast it: REP 02 (SOCKS4 5B); default 0: no limit;\na pass rule\'s maxConnections: overrides it' },
      'rate-per-user': { type: 'string', arg: 'RATE', help: 'bytes per second per verified user and direction\n(500K, 10M: K/M/G are powers of 1024), shared by that\nuser\'s CONNECT and BIND tunnels; UDP is not limited;\na pass rule\'s rate: overrides it' },
      'max-connections-per-source': { type: 'string', arg: 'N', help: "open connections at most from one client address, all\nlisteners together (default 0: no limit; behind\n--proxy-protocol, the balancer's); split like --max-connections" },
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
