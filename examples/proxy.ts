#!/usr/bin/env node
/**
 * sockskit-proxy: a SOCKS5/4/4a proxy built only on sockskit's public API.
 * Safe defaults: listens on 127.0.0.1:1080; warns when it would be an open
 * proxy beyond loopback.
 */
import { readFileSync } from 'node:fs';
import { SocksServerOptions, parseCidr, parseRules, none, userpass, binauth, gssapiPsk, loadPskKey, identSocks4, loadKeyFile, loadAuthorizedKeys, hostType, stripBrackets, bindHandler, udpHandler, LocalProtocolError, parsePasswordHash, isPasswordHash, raiseDescriptorLimit, descriptorLimit, connectionLimit } from '../lib/index.js';
import type { GssProtection, AuthMethod, Rule, Ruleset } from '../lib/index.js';
import { parseHostPort, parseNumber, fail, UsageError, isLoopback, describeFsError, permissionWarning } from './cli.js';
import { loadSettings, type Settings } from './settings.js';
import { serviceMain, type BuiltConfig } from './service.js';
import { kerberosServer } from './kerberos-flags.js';
import { parseServiceOptions, SERVICE_HELP, SERVICE_FLAGS } from './service-options.js';

const PROG = 'sockskit-proxy';

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
                            >= 32 bytes: sockskit-keys psk FILE); without --user it is the
                            only method offered
  --gssapi-keytab FILE      GSS-API (RFC 1961, method 0x01) with Kerberos V5: the service's
                            keys in FILE (kadmin: ktadd -k FILE rcmd/<proxy host>); the
                            identity is the client principal; without --user it is the
                            only method offered (needs the Kerberos binding)
  --gssapi-service NAME     Kerberos service name (default rcmd): FILE's NAME/<any host>
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
Rules (docs/operations.md; a full first-match list goes in the config file's rules:)
  --allow CIDR              only allow destinations in CIDR (repeatable)
  --deny CIDR               deny destinations in CIDR (repeatable; wins over --allow)
  --client-allow CIDR       only serve clients from CIDR (repeatable)
  --client-deny CIDR        refuse clients from CIDR (repeatable; wins over --client-allow)
Network
  --keepalive SECONDS|off   TCP keepalive on both legs of a tunnel (default 60)
  --outbound-address IP     source address for CONNECT's outbound connections
Limits
  --handshake-timeout MS    deadline for the whole handshake (default 10000)
  --connect-timeout MS      deadline to reach a destination (default 10000)
  --idle-timeout MS         close tunnels idle this long (default 0: never)
  --max-connections N       open connections at most (default: what the descriptor
                            limit allows, 2 per tunnel, at most 10000; the soft limit
                            is raised to the hard one at start); when reached, the
                            connection longest in its handshake is closed to make room
  --max-connections-per-source N
                            open connections at most from one client address
                            (default 0: no limit; behind --proxy-protocol, the balancer's)
${SERVICE_HELP}
Users files hold NAME:PASSWORD or NAME:$scrypt$... lines (sockskit-keys hash).
Every option is also SOCKSKIT_<NAME> in the environment (SOCKSKIT_MAX_CONNECTIONS,
SOCKSKIT_USER with one NAME:PASSWORD per line) and NAME: in the --config file;
flags win over the environment, which wins over the file.
Debug logs go to stderr through DEBUG=sockskit:* ; secrets are never logged.
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
  'gssapi-keytab': { type: 'string' },
  'gssapi-service': { type: 'string' },
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
  'max-connections-per-source': { type: 'string' },
  'proxy-protocol': { type: 'string' },
  'proxy-protocol-from': { type: 'string', multiple: true },
  'client-allow': { type: 'string', multiple: true },
  'client-deny': { type: 'string', multiple: true },
  ...SERVICE_FLAGS,
  'outbound-address': { type: 'string' },
} as const;

export function parseUsers(lines: string[], where: string): Map<string, string> {
  const users = new Map<string, string>();
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    const at = `${where}${where.endsWith(':') ? '' : ` line ${i + 1}:`}`;
    if (colon < 0) throw new UsageError(`${at} expected NAME:PASSWORD`);
    // RFC 1929 allows neither (ULEN and PLEN are 1 to 255).
    if (colon === 0) throw new UsageError(`${at} empty user name`);
    if (colon === line.length - 1) throw new UsageError(`${at} empty password`);
    const pw = line.slice(colon + 1);
    if (isPasswordHash(pw)) {
      try {
        parsePasswordHash(pw);
      } catch (err) {
        throw new UsageError(`${at} ${(err as Error).message}`);
      }
    }
    users.set(line.slice(0, colon), pw);
  });
  return users;
}

/** Destination and client rules from the flags and the config file's list (see HELP and docs/operations.md). */
function buildRules(v: Settings['values'], fileRules: unknown, configFile: string | undefined): Ruleset | readonly Rule[] | undefined {
  const cidrs = (key: string) => ((v[key] as string[] | undefined) ?? []).map((c) => {
    try {
      return parseCidr(c);
    } catch (err) {
      throw new UsageError(`--${key}: ${(err as Error).message}`);
    }
  });
  const [allow, deny, clientAllow, clientDeny] = [cidrs('allow'), cidrs('deny'), cidrs('client-allow'), cidrs('client-deny')];
  let list: Rule[] | undefined;
  if (fileRules !== undefined && fileRules !== null) {
    try {
      list = parseRules(fileRules);
    } catch (err) {
      if (err instanceof LocalProtocolError) throw new UsageError(`${configFile}: ${err.message}`);
      throw err;
    }
  }
  // Destination-only flags keep their historical meaning (a Ruleset).
  if (!list && clientAllow.length === 0 && clientDeny.length === 0) return allow.length || deny.length ? { allow, deny } : undefined;
  const out: Rule[] = [];
  if (deny.length) out.push({ action: 'block', to: deny.map((cidr) => ({ cidr })) });
  if (clientDeny.length) out.push({ action: 'block', client: clientDeny });
  if (allow.length || clientAllow.length) {
    // The flags narrow what the list may pass: anything outside them is blocked first.
    if (clientAllow.length) out.push({ action: 'block', client: [{ text: 'not ' + clientAllow.map((c) => c.text).join(','), contains: (ip) => !clientAllow.some((c) => c.contains(ip)) }] });
    if (allow.length) out.push({ action: 'block', to: [{ cidr: { text: 'not allowed', contains: (ip) => !allow.some((c) => c.contains(ip)) } }] });
  }
  out.push(...(list ?? [{ action: 'pass' }]));
  return out;
}

/** Everything from flags, environment and config file, checked; throws UsageError naming the place at fault. */
export function buildConfig(argv: string[]): BuiltConfig {
  const settings = loadSettings(argv, baseOptions);
  const v = settings.values as Record<string, any>;
  if (v.help || v.version) return { help: v.help, version: v.version } as BuiltConfig;
  const svc = parseServiceOptions(v);
  const notices: string[] = settings.unknownEnv.map((k) => `${k} is not an option of this program; ignored`);
  const listen = ((v.listen as string[] | undefined) ?? ['127.0.0.1:1080']).map((l) => parseHostPort(l));
  const fds = descriptorLimit();
  const allowed = connectionLimit(fds);
  const maxConnections = parseNumber('max-connections', v['max-connections'], allowed);
  if (fds && maxConnections > allowed) {
    notices.push(`--max-connections ${maxConnections} needs about ${2 * maxConnections + 64} descriptors, the limit is ${fds.soft}: connections past it will be refused`);
  }
  const users = new Map<string, string>();
  for (const u of (v.user as string[] | undefined) ?? []) for (const [k, p] of parseUsers([u], `--user ${JSON.stringify(u.split(':')[0])}:`)) users.set(k, p);
  if (v.users) {
    let text: string;
    try {
      text = readFileSync(v.users, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --users file ${v.users}: ${describeFsError(err)}`);
    }
    const w = permissionWarning(v.users, 'password file');
    if (w) notices.push(w);
    for (const [k, p] of parseUsers(text.split('\n'), `${v.users}`)) users.set(k, p);
  }
  const methods: AuthMethod<unknown>[] = [];
  const gssProtection = v['gssapi-protection'] ?? 'confidentiality';
  if (!['integrity', 'confidentiality', 'selective'].includes(gssProtection)) throw new UsageError(`--gssapi-protection wants integrity, confidentiality or selective, got ${JSON.stringify(gssProtection)}`);
  if (v['gssapi-protection'] !== undefined && v['gssapi-psk'] === undefined && v['gssapi-keytab'] === undefined) throw new UsageError('--gssapi-protection needs --gssapi-psk or --gssapi-keytab');
  if (v['gssapi-psk'] !== undefined && v['gssapi-keytab'] !== undefined) throw new UsageError('--gssapi-psk and --gssapi-keytab are both GSS-API (method 01): choose one');
  const kerberos = kerberosServer({ keytab: v['gssapi-keytab'], service: v['gssapi-service'], protection: gssProtection as GssProtection }, notices);
  if (kerberos) methods.push(kerberos.method);
  const useGssapi = v['gssapi-psk'] !== undefined || kerberos !== undefined;
  if (v['gssapi-psk'] !== undefined) {
    let key: Buffer;
    try {
      key = loadPskKey(v['gssapi-psk']!);
      const pw = permissionWarning(v['gssapi-psk']!, 'GSS-API key file');
      if (pw) notices.push(pw);
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
    const serverPrivateKey = loadKeyFile(v['binauth-key'], (w) => notices.push(w));
    methods.push(binauth({ binauth: { serverPrivateKey, serverId: v['binauth-server-id'] }, authorizedKeys: loadAuthorizedKeys(v['authorized-keys']) }));
  }
  if (users.size > 0) methods.push(userpass({ users }));
  else if (!useBinauth && !useGssapi) methods.push(none());
  const external = v.external === undefined ? undefined : stripBrackets(v.external);
  if (external !== undefined && hostType(external) === 'domain') throw new UsageError(`--external needs an IP address, got ${JSON.stringify(v.external)}`);
  const outbound = v['outbound-address'] === undefined ? undefined : stripBrackets(v['outbound-address']);
  if (outbound !== undefined && hostType(outbound) === 'domain') throw new UsageError(`--outbound-address needs an IP address, got ${JSON.stringify(v['outbound-address'])}`);
  const rules = buildRules(v, settings.rules, settings.configFile);
  const proxyProtocol = v['proxy-protocol'];
  if (proxyProtocol !== undefined && !['v1', 'v2', 'any'].includes(proxyProtocol)) throw new UsageError(`--proxy-protocol wants v1, v2 or any, got ${JSON.stringify(proxyProtocol)}`);
  if (v['proxy-protocol-from'] && proxyProtocol === undefined) throw new UsageError('--proxy-protocol-from needs --proxy-protocol');
  if (proxyProtocol !== undefined && !v['proxy-protocol-from']) {
    // Any peer could then claim any source address, and the UDP relay and ident follow the claim.
    process.stderr.write(`${PROG}: WARNING: --proxy-protocol without --proxy-protocol-from: any client can claim any source address; name the balancers with --proxy-protocol-from CIDR\n`);
  }
  const options: SocksServerOptions = {
    methods,
    socks4: v['no-socks4'] ? false : undefined,
    socks4Identify: identSocks4({ mode: identMode, port: parseNumber('ident-port', v['ident-port'], 113) }),
    rules,
    handshakeTimeout: parseNumber('handshake-timeout', v['handshake-timeout'], 10000),
    connectTimeout: parseNumber('connect-timeout', v['connect-timeout'], 10000),
    idleTimeout: parseNumber('idle-timeout', v['idle-timeout'], 0),
    maxConnections,
    maxConnectionsPerSource: parseNumber('max-connections-per-source', v['max-connections-per-source'], 0),
    bind: v['no-bind'] ? false : bindHandler({ external }),
    udp: v['no-udp'] ? false : udpHandler({ external }),
    proxyProtocol: proxyProtocol as 'v1' | 'v2' | 'any' | undefined,
    proxyProtocolFrom: (v['proxy-protocol-from'] as string[] | undefined)?.map(parseCidr),
    keepAlive: svc.keepAlive,
    outboundAddress: outbound,
  };
  const open = users.size === 0 && !useBinauth && !useGssapi;
  const describe = [kerberos?.describe ?? (useGssapi ? `GSS-API psk-test, ${gssProtection}` : ''), useBinauth ? 'binauth' : '', users.size ? `username/password, ${users.size} user${users.size > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ') || 'no authentication';
  return {
    ...svc,
    check: v.check,
    listen,
    options,
    describe,
    notices,
    warnings: (where, host) => (open && !isLoopback(host) ? [`${where} is not loopback and needs no authentication: this is an open proxy`] : []),
  };
}

export function main(argv: string[]): Promise<void> {
  // Once, before any listener: each tunnel needs two descriptors.
  const fds = raiseDescriptorLimit();
  if (fds?.error) process.stderr.write(`${PROG}: warning: cannot raise the descriptor limit from ${fds.soft} to ${fds.hard}: ${fds.error}\n`);
  return serviceMain({ prog: PROG, help: HELP, build: () => buildConfig(argv) });
}

main(process.argv.slice(2)).catch((err) => fail(PROG, err));
