/**
 * sockskit-connect's options: the table, the parser (argv and environment
 * into one plan), the methods the flags ask for, and failures as one line.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { binauth, loadKeyFile, loadTokenCache, saveTokenCache } from '../../methods/binauth/index.js';
import { none } from '../../methods/none.js';
import { noProxyMatches, proxyForHost } from '../client/index.js';
import type { AuthMethod } from '../protocol/method.js';
import { gssapiFromFlags } from './auth-flags.js';
import { UsageError } from './errors.js';
import { parseArgsOptions, renderOptions, type OptionTable } from './options.js';
import { checkMilliseconds } from './settings.js';
import { parseHostPort, parseNumber, type HostPort } from './values.js';

const PROG = 'sockskit-connect';
const DEFAULT_PROXY = 'socks5h://127.0.0.1:1080';

export const CONNECT_OPTIONS: OptionTable = [{
  title: 'Options:',
  options: {
    proxy: { type: 'string', multiple: true, arg: 'URL', help: `proxy to use; repeat for a chain, first one dialled first\n(socks5://, socks5h://, socks4://, socks4a://, socks:// =\nSOCKS4 as in curl; user:pass@); default: ALL_PROXY or\nall_proxy from the environment, else ${DEFAULT_PROXY}` },
    noproxy: { type: 'string', arg: 'LIST', help: "hosts to reach directly, as curl's --noproxy (overrides\nNO_PROXY/no_proxy): names and .domains, IPs and CIDRs, or *" },
    listen: { type: 'string', short: 'L', arg: '[BIND:]PORT', help: 'forward a local port instead of stdio: every connection\nto BIND:PORT (BIND default 127.0.0.1) gets its own tunnel' },
    timeout: { type: 'string', arg: 'MS', help: 'deadline for connecting and for each handshake (default 10000)' },
    'local-address': { type: 'string', arg: 'ADDR', help: 'connect to the first proxy from this local address' },
    keepalive: { type: 'boolean', help: 'TCP keep-alive on the connection to the first proxy' },
    'gssapi-psk': { type: 'string', arg: 'FILE', help: 'GSS-API (RFC 1961) with the shared-key TEST mechanism and the\nkey in FILE; no-auth is then not offered (no silent downgrade)' },
    'gssapi-kerberos': { type: 'boolean', help: 'GSS-API (RFC 1961) with Kerberos V5: your tickets (KRB5CCNAME or\nthe default cache, kinit first), target rcmd@<proxy host as\ntyped>; no-auth is then not offered (needs the Kerberos binding)' },
    'gssapi-service': { type: 'string', arg: 'NAME', help: 'Kerberos service name of the proxy (default rcmd)' },
    'gssapi-protection': { type: 'string', arg: 'LEVEL', help: 'integrity | confidentiality | selective to request\n(default confidentiality; a stronger grant is accepted)' },
    'binauth-key': { type: 'string', arg: 'FILE', help: 'offer binauth (Ed25519, method 0x80) with this private key' },
    'binauth-token-cache': { type: 'string', arg: 'FILE', help: 'keep the binauth token in FILE (mode 0600) and reuse it' },
    'binauth-server-id': { type: 'string', arg: 'ID', help: 'the id of the binauth server you mean to reach, signed\nwith the challenge: another server cannot reuse it' },
    help: { type: 'boolean', short: 'h', help: 'show this help' },
    version: { type: 'boolean', short: 'V', help: 'show the version' },
  },
}];

export const CONNECT_HELP = `Usage: ${PROG} [options] HOST PORT

Connects to HOST:PORT through a SOCKS proxy and copies stdin to the tunnel
and the tunnel to stdout (half-closes when stdin ends).

${renderOptions(CONNECT_OPTIONS, 23)}

Environment (as curl reads it): ALL_PROXY/all_proxy when no --proxy is given;
NO_PROXY/no_proxy (unless --noproxy): a matching HOST is reached directly,
without any proxy.
`;

export interface ConnectPlan {
  /** Empty: NO_PROXY matched HOST, connect directly. */
  proxies: string[];
  host: string;
  port: number;
  listen?: HostPort;
  timeout: number;
  methods: AuthMethod<unknown>[];
  localAddress?: string;
  keepAlive?: boolean;
}

export type ConnectArgs = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: ConnectPlan };

type Flags = Record<string, string | boolean | string[] | undefined>;

function binauthFromFlags(v: Flags, warn: (w: string) => void): AuthMethod<unknown> | undefined {
  const [key, cache, serverId] = [v['binauth-key'], v['binauth-token-cache'], v['binauth-server-id']] as (string | undefined)[];
  if (cache !== undefined && key === undefined) throw new UsageError('--binauth-token-cache needs --binauth-key');
  if (serverId !== undefined && key === undefined) throw new UsageError('--binauth-server-id needs --binauth-key');
  if (key === undefined) return undefined;
  const onToken = cache === undefined ? undefined : (token: Buffer) => {
    try {
      saveTokenCache(cache, token);
    } catch (err) {
      warn((err as Error).message);
    }
  };
  return binauth({ privateKey: loadKeyFile(key, warn), token: cache !== undefined ? loadTokenCache(cache) : undefined, serverId, onToken });
}

/**
 * The extra authentication methods the flags ask for, offered on every SOCKS5
 * hop before `none` (credentials in a proxy URL add username/password to that
 * hop); with GSS-API, `none` is not offered.
 */
export function connectMethods(v: Flags, warn: (w: string) => void = (w) => process.stderr.write(`${PROG}: warning: ${w}\n`)): AuthMethod<unknown>[] {
  const gss = gssapiFromFlags(v, undefined, warn, '--gssapi-kerberos');
  const methods = [gss?.method, binauthFromFlags(v, warn)].filter((m): m is AuthMethod<unknown> => m !== undefined);
  if (!gss) methods.push(none());
  return methods;
}

/** A proxy URL without its password, for messages. */
export function redactUrl(u: string): string {
  return u.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** As curl: NO_PROXY (or --noproxy) first, even over --proxy; then --proxy, then ALL_PROXY/all_proxy, then the default. [] means direct. */
function chooseProxies(host: string, flags: string[] | undefined, noproxy: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (noProxyMatches(host, noproxy ?? (env.no_proxy || env.NO_PROXY || undefined))) return [];
  if (flags?.length) return [...flags];
  try {
    return [proxyForHost(host, { all_proxy: env.all_proxy, ALL_PROXY: env.ALL_PROXY }) ?? DEFAULT_PROXY];
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Parses argv (without node and the script). Throws UsageError on bad input. */
export function parseConnectArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ConnectArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: parseArgsOptions(CONNECT_OPTIONS), allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values as Flags;
  if (v.help) return { kind: 'help' };
  checkMilliseconds(CONNECT_OPTIONS, v, (key) => `--${key}`);
  if (v.version) return { kind: 'version' };
  if (parsed.positionals.length !== 2) throw new UsageError(`expected HOST PORT, got ${parsed.positionals.length} argument(s)`);
  const [host, portText] = parsed.positionals as [string, string];
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new UsageError(`invalid port ${JSON.stringify(portText)}`);
  const flagProxies = v.proxy as string[] | undefined;
  for (const p of flagProxies ?? []) {
    if (!/^socks(4a?|5h?)?:\/\//i.test(p)) throw new UsageError(`--proxy wants socks5://, socks5h://, socks4://, socks4a:// or socks://, got ${JSON.stringify(redactUrl(p))}`);
  }
  const localAddress = v['local-address'] as string | undefined;
  if (localAddress !== undefined && !net.isIP(localAddress)) throw new UsageError(`--local-address wants an IP address, got ${JSON.stringify(localAddress)}`);
  const listen = v.listen as string | undefined;
  return {
    kind: 'run',
    options: {
      proxies: chooseProxies(host, flagProxies, v.noproxy as string | undefined, env),
      host,
      port,
      listen: listen !== undefined ? parseHostPort(listen, '127.0.0.1') : undefined,
      timeout: parseNumber('timeout', v.timeout as string | undefined, 10000),
      methods: connectMethods(v),
      localAddress,
      keepAlive: v.keepalive as boolean | undefined,
    },
  };
}

/** One line naming the failure, e.g. "proxy refused the request: connection refused (05)". */
export function describeConnectError(err: unknown, proxies: readonly string[]): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e && e.syscall === 'connect' && e.code) return proxies.length ? `cannot reach proxy ${redactUrl(proxies[0]!)}: ${e.code}` : `cannot connect (no proxy for this host): ${e.code}`;
  if (e instanceof Error) return e.message;
  return String(err);
}
