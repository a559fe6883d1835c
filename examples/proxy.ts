#!/usr/bin/env node
/**
 * sockskit-proxy: a SOCKS5/4/4a proxy built only on sockskit's public API.
 * Safe defaults: listens on 127.0.0.1:1080; warns when it would be an open
 * proxy beyond loopback.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import createDebug from 'debug';
import { SocksServer, SocksServerOptions, parseCidr, none, userpass, binauth, gssapiPsk, loadPskKey, identSocks4, loadKeyFile, loadAuthorizedKeys, formatAddress, hostType, stripBrackets, bindHandler, udpHandler, raiseDescriptorLimit, connectionLimit } from '../lib/index.js';
import type { GssProtection, AuthMethod } from '../lib/index.js';
import { parseHostPort, parseNumber, packageVersion, fail, UsageError, isLoopback, describeFsError } from './cli.js';

const PROG = 'sockskit-proxy';
const debug = createDebug('sockskit:proxy');

const HELP = `Usage: ${PROG} [options]

A SOCKS5 and SOCKS4/4a proxy. Without options it listens on 127.0.0.1:1080
with no authentication.

Listening
  --listen HOST:PORT        address to listen on (repeatable; default 127.0.0.1:1080;
                            IPv6 as [::1]:1080)
  --proxy-protocol v1|v2|any
                            behind a load balancer (HAProxy send-proxy, AWS NLB): each
                            connection starts with a PROXY protocol header, and the
                            client address comes from it; without one it is closed
  --proxy-protocol-from CIDR
                            accept PROXY headers only from these senders (repeatable)
Authentication (SOCKS5)
  --user NAME:PASSWORD      accept this username/password (RFC 1929; repeatable)
  --users FILE              read NAME:PASSWORD lines from FILE (# comments)
                            With users configured, no-auth and SOCKS4 are refused.
  --binauth-key FILE        binauth (Ed25519, method 0x80): the server's private key
                            (make one with sockskit-keys generate FILE)
  --authorized-keys FILE    binauth: client public keys allowed in, one hex key per line
                            With binauth configured, no-auth and SOCKS4 are refused.
  --binauth-server-id ID    binauth: this server's id; clients that prefix another id
                            when signing are refused (sockskit-connect --binauth-server-id)
  --gssapi-psk FILE         GSS-API (RFC 1961, method 0x01) with the shared-key TEST
                            mechanism (not Kerberos) and the key in FILE (hex or raw,
                            >= 16 bytes); without --user it is the only method offered
  --gssapi-protection LEVEL integrity | confidentiality | selective (default confidentiality)
  --no-socks4               refuse SOCKS4/4a requests
  --ident off|verify        SOCKS4: verify USERID with the client's identd (RFC 1413):
                            mismatch -> 93, identd unreachable/timeout -> 92 (default off)
  --ident-port PORT         identd port on client hosts (default 113; for tests)
Commands (CONNECT, BIND and UDP ASSOCIATE are served by default)
  --no-bind                 refuse BIND
  --no-udp                  refuse UDP ASSOCIATE
  --external ADDR           IP address BIND listens on and UDP relays bind to, and that
                            replies advertise (default: the address the client reached)
Destinations
  --allow CIDR              only allow destinations in CIDR (repeatable)
  --deny CIDR               deny destinations in CIDR (repeatable; wins over --allow)
Limits
  --handshake-timeout MS    deadline for the whole handshake (default 10000)
  --connect-timeout MS      deadline to reach a destination (default 10000)
  --idle-timeout MS         close tunnels idle this long (default 0: never)
  --max-connections N       open connections at most (default: what the descriptor
                            limit allows, 2 per tunnel, at most 10000; the soft limit
                            is raised to the hard one at start)
Other
  -h, --help                show this help
  -V, --version             show the version

Logs go to stderr through DEBUG=sockskit:* ; secrets are never logged.
kill -USR1 PID prints one JSON line of counters (connections, tunnels, errors).
`;

/** The program's flags (node:util parseArgs). */
export const baseOptions = {
  listen: { type: 'string', multiple: true },
  user: { type: 'string', multiple: true },
  users: { type: 'string' },
  'binauth-key': { type: 'string' },
  'authorized-keys': { type: 'string' },
  'binauth-server-id': { type: 'string' },
  'no-socks4': { type: 'boolean' },
  'gssapi-psk': { type: 'string' },
  'gssapi-protection': { type: 'string' },
  ident: { type: 'string' },
  'ident-port': { type: 'string' },
  'no-bind': { type: 'boolean' },
  'no-udp': { type: 'boolean' },
  external: { type: 'string' },
  allow: { type: 'string', multiple: true },
  deny: { type: 'string', multiple: true },
  'handshake-timeout': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'proxy-protocol': { type: 'string' },
  'proxy-protocol-from': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export function parseUsers(lines: string[], where: string): Map<string, string> {
  const users = new Map<string, string>();
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon < 0) throw new UsageError(`${where}${where.endsWith(':') ? '' : ` line ${i + 1}:`} expected NAME:PASSWORD`);
    users.set(line.slice(0, colon), line.slice(colon + 1));
  });
  return users;
}

export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: baseOptions, allowPositionals: false, strict: true });
  } catch (err) {
    fail(PROG, new UsageError((err as Error).message));
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
  const fds = raiseDescriptorLimit();
  if (fds?.error) process.stderr.write(`${PROG}: warning: cannot raise the descriptor limit from ${fds.soft} to ${fds.hard}: ${fds.error}\n`);
  const maxConnections = parseNumber('max-connections', v['max-connections'], connectionLimit());
  if (fds && maxConnections > connectionLimit(fds)) {
    process.stderr.write(`${PROG}: warning: --max-connections ${maxConnections} needs about ${2 * maxConnections + 64} descriptors, the limit is ${fds.soft}: connections past it will be refused\n`);
  }
  const listen = (v.listen ?? ['127.0.0.1:1080']).map((l) => parseHostPort(l));
  const users = new Map<string, string>();
  for (const u of v.user ?? []) for (const [k, p] of parseUsers([u], `--user ${JSON.stringify(u.split(':')[0])}:`)) users.set(k, p);
  if (v.users) {
    let text: string;
    try {
      text = readFileSync(v.users, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --users file ${v.users}: ${describeFsError(err)}`);
    }
    for (const [k, p] of parseUsers(text.split('\n'), `${v.users}`)) users.set(k, p);
  }
  const methods: AuthMethod<unknown>[] = [];
  const gssProtection = v['gssapi-protection'] ?? 'confidentiality';
  if (!['integrity', 'confidentiality', 'selective'].includes(gssProtection)) throw new UsageError(`--gssapi-protection wants integrity, confidentiality or selective, got ${JSON.stringify(gssProtection)}`);
  if (v['gssapi-protection'] !== undefined && v['gssapi-psk'] === undefined) throw new UsageError('--gssapi-protection needs --gssapi-psk');
  const useGssapi = v['gssapi-psk'] !== undefined;
  if (useGssapi) {
    let key: Buffer;
    try {
      key = loadPskKey(v['gssapi-psk']!);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(`--gssapi-psk: ${e.syscall ? `cannot read the key file (${e.code})` : e.message}`);
    }
    methods.push(gssapiPsk({ key, protection: gssProtection as GssProtection }));
  }
  const identMode = v.ident ?? 'off';
  if (identMode !== 'off' && identMode !== 'verify') throw new UsageError(`--ident wants off or verify, got ${JSON.stringify(identMode)}`);
  const useBinauth = v['binauth-key'] !== undefined || v['authorized-keys'] !== undefined;
  if (v['binauth-server-id'] !== undefined && (!v['binauth-key'] || !v['authorized-keys'])) throw new UsageError('--binauth-server-id needs --binauth-key and --authorized-keys');
  if (useBinauth) {
    if (!v['binauth-key'] || !v['authorized-keys']) throw new UsageError('--binauth-key and --authorized-keys go together');
    const serverPrivateKey = loadKeyFile(v['binauth-key'], (w) => process.stderr.write(`${PROG}: warning: ${w}\n`));
    methods.push(binauth({ binauth: { serverPrivateKey, serverId: v['binauth-server-id'] }, authorizedKeys: loadAuthorizedKeys(v['authorized-keys']) }));
  }
  if (users.size > 0) methods.push(userpass({ users }));
  else if (!useBinauth && !useGssapi) methods.push(none());
  const external = v.external === undefined ? undefined : stripBrackets(v.external);
  if (external !== undefined && hostType(external) === 'domain') throw new UsageError(`--external needs an IP address, got ${JSON.stringify(v.external)}`);
  const rules = v.allow || v.deny ? { allow: (v.allow ?? []).map(parseCidr), deny: (v.deny ?? []).map(parseCidr) } : undefined;
  const proxyProtocol = v['proxy-protocol'];
  if (proxyProtocol !== undefined && !['v1', 'v2', 'any'].includes(proxyProtocol)) throw new UsageError(`--proxy-protocol wants v1, v2 or any, got ${JSON.stringify(proxyProtocol)}`);
  if (v['proxy-protocol-from'] && proxyProtocol === undefined) throw new UsageError('--proxy-protocol-from needs --proxy-protocol');
  const options: SocksServerOptions = {
    methods,
    socks4: v['no-socks4'] ? false : undefined,
    socks4Identify: identSocks4({ mode: identMode, port: parseNumber('ident-port', v['ident-port'], 113) }),
    rules,
    handshakeTimeout: parseNumber('handshake-timeout', v['handshake-timeout'], 10000),
    connectTimeout: parseNumber('connect-timeout', v['connect-timeout'], 10000),
    idleTimeout: parseNumber('idle-timeout', v['idle-timeout'], 0),
    maxConnections,
    bind: v['no-bind'] ? false : bindHandler({ external }),
    udp: v['no-udp'] ? false : udpHandler({ external }),
    proxyProtocol: proxyProtocol as 'v1' | 'v2' | 'any' | undefined,
    proxyProtocolFrom: v['proxy-protocol-from']?.map(parseCidr),
  };
  const open = users.size === 0 && !useBinauth && !useGssapi;
  const servers = await Promise.all(
    listen.map(
      ({ host, port }) =>
        new Promise<SocksServer>((resolve, reject) => {
          const s = new SocksServer(options);
          s.once('error', reject);
          s.listen(port, host, () => {
            s.removeListener('error', reject);
            s.on('error', (err) => process.stderr.write(`${PROG}: ${(err as Error).message}\n`));
            s.on('warning', (msg: string) => process.stderr.write(`${PROG}: warning: ${msg}\n`));
            const a = s.address();
            const where = a && typeof a === 'object' ? formatAddress({ type: a.family === 'IPv6' ? 'ipv6' : 'ipv4', host: a.address, port: a.port }) : `${host}:${port}`;
            process.stderr.write(`${PROG}: listening on ${where} (${[useGssapi ? `GSS-API psk-test, ${gssProtection}` : '', useBinauth ? 'binauth' : '', users.size ? `username/password, ${users.size} user${users.size > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ') || 'no authentication'})\n`);
            if (open && !isLoopback(host)) {
              process.stderr.write(`${PROG}: WARNING: ${where} is not loopback and needs no authentication: this is an open proxy\n`);
            }
            resolve(s);
          });
        }),
    ),
  ).catch((err: NodeJS.ErrnoException) => {
    fail(PROG, new Error(`cannot listen: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message}`));
  });
  const stop = (sig: string) => {
    debug('%s: closing', sig);
    for (const s of servers) s.close();
    setTimeout(() => process.exit(0), 100).unref();
  };
  // SIGUSR1: one JSON line of counters on stderr (all listeners together).
  process.on('SIGUSR1', () => {
    const total = { accepted: 0, refused: 0, open: 0, tunnels: 0, handoffs: 0, noDescriptor: 0, errors: {} as Record<string, number> };
    for (const s of servers) {
      const st = s.stats();
      total.accepted += st.accepted;
      total.refused += st.refused;
      total.open += st.open;
      total.tunnels += st.tunnels;
      total.handoffs += st.handoffs;
      total.noDescriptor += st.noDescriptor;
      for (const [k, n] of Object.entries(st.errors)) total.errors[k] = (total.errors[k] ?? 0) + n;
    }
    process.stderr.write(`${PROG}: stats ${JSON.stringify(total)}\n`);
  });
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main(process.argv.slice(2)).catch((err) => fail(PROG, err));
