/**
 * The proxy environment as curl reads it (docs/client.md has the table):
 *
 *   NO_PROXY   no_proxy, else NO_PROXY. Exactly "*" matches every host. Else
 *              a list separated by commas and/or blanks.
 *              A host name matches an entry equal to it or a domain it is
 *              in ("example.test" and ".example.test" both match
 *              example.test and www.example.test, not notexample.test);
 *              case-insensitive, trailing dots ignored. An IP address (IPv6
 *              without brackets) matches an entry that is the same address
 *              or a CIDR block containing it; a name never matches an IP
 *              entry nor the reverse. Entries with a port never match
 *              (curl compares them as names). IPv6 CIDR blocks match as
 *              CIDR (curl 7.88 matches only the exact IPv6 address).
 *   proxy      <scheme>_proxy, then <SCHEME>_PROXY (not HTTP_PROXY: only
 *              http_proxy, as curl), then all_proxy, then ALL_PROXY. Empty
 *              values count as unset.
 *
 * Only SOCKS proxies can be used here: a chosen proxy of another scheme is a
 * usage error rather than a silent direct connection.
 */
import net from 'node:net';
import { LocalProtocolError } from '../protocol/errors.js';

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

/** Schemes a proxy URL may have (curl's, socks:// being SOCKS4 as in curl). */
export const PROXY_SCHEMES = ['socks5h', 'socks5', 'socks4a', 'socks4', 'socks'] as const;

function get(env: ProxyEnv, name: string): string | undefined {
  const v = env[name];
  return v ? v : undefined;
}

/** Whether curl's NO_PROXY rules exempt `host` (a name, an IPv4 address, or an IPv6 address with or without brackets). */
export function noProxyMatches(host: string, noProxy: string | undefined): boolean {
  if (!host || !noProxy) return false;
  if (noProxy === '*') return true;
  let name = host;
  let kind: 'name' | 4 | 6 = 'name';
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end < 0) return false;
    name = name.slice(1, end);
    kind = 6;
  } else if (net.isIPv4(name)) {
    kind = 4;
  } else if (name.endsWith('.')) {
    name = name.slice(0, -1);
  }
  if (kind === 'name' && net.isIPv6(name)) kind = 6;
  for (const token of entries(noProxy)) {
    if (kind === 'name' ? nameMatches(name, token) : ipMatches(name, kind, token)) return true;
  }
  return false;
}

/** Entries are separated by commas and blanks, in any number (as the curl we test against reads them). */
function entries(list: string): string[] {
  return list.split(/[,\s]+/).filter((t) => t.length > 0);
}

function nameMatches(name: string, token: string): boolean {
  let t = token.endsWith('.') ? token.slice(0, -1) : token;
  if (t.startsWith('.')) t = t.slice(1);
  if (!t) return false;
  const n = name.toLowerCase();
  t = t.toLowerCase();
  if (t.length === n.length) return t === n;
  return t.length < n.length && n.endsWith(t) && n[n.length - t.length - 1] === '.';
}

function ipMatches(ip: string, family: 4 | 6, token: string): boolean {
  const slash = token.indexOf('/');
  const addr = slash < 0 ? token : token.slice(0, slash);
  const max = family === 4 ? 32 : 128;
  // As curl: no prefix, or /0, means the whole address.
  let bits = slash < 0 ? 0 : Number.parseInt(token.slice(slash + 1), 10) || 0;
  if (bits === 0) bits = max;
  if (bits > max) return false;
  if (family === 4 ? !net.isIPv4(addr) : !net.isIPv6(addr)) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new net.BlockList();
  try {
    list.addSubnet(addr, bits, type);
  } catch {
    return false;
  }
  return list.check(ip, type);
}

/**
 * The proxy curl would use for `url` given `env` (default process.env), or
 * undefined for a direct connection: NO_PROXY first, then the scheme's
 * variable, then ALL_PROXY. Throws LocalProtocolError when the chosen proxy
 * is not a SOCKS URL.
 */
export function proxyForUrl(url: string | URL, env: ProxyEnv = process.env): string | undefined {
  const u = typeof url === 'string' ? new URL(url) : url;
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  return pick(u.hostname, scheme, env);
}

/**
 * The proxy for a bare HOST (no URL scheme, as sockskit-connect takes it):
 * NO_PROXY, then all_proxy / ALL_PROXY.
 */
export function proxyForHost(host: string, env: ProxyEnv = process.env): string | undefined {
  return pick(host, undefined, env);
}

function pick(host: string, scheme: string | undefined, env: ProxyEnv): string | undefined {
  if (noProxyMatches(host, get(env, 'no_proxy') ?? get(env, 'NO_PROXY'))) return undefined;
  let proxy: string | undefined;
  let from = '';
  if (scheme) {
    from = `${scheme}_proxy`;
    proxy = get(env, from);
    // curl never reads HTTP_PROXY (a CGI program gets it from a request's Proxy: header).
    if (proxy === undefined && scheme !== 'http') proxy = get(env, (from = `${scheme.toUpperCase()}_PROXY`));
  }
  if (proxy === undefined) proxy = get(env, (from = 'all_proxy'));
  if (proxy === undefined) proxy = get(env, (from = 'ALL_PROXY'));
  if (proxy === undefined) return undefined;
  const m = /^([a-z0-9+.-]+):\/\//i.exec(proxy);
  if (!m || !(PROXY_SCHEMES as readonly string[]).includes(m[1]!.toLowerCase())) {
    throw new LocalProtocolError(`${from} is not a SOCKS proxy URL (socks5h://, socks5://, socks4a://, socks4://, socks://)`);
  }
  return proxy;
}
