/**
 * Reading the HAProxy PROXY header that precedes SOCKS when a load balancer
 * sends one (SocksServerOptions.proxyProtocol), as pure functions over the
 * bytes received so far: the connection feeds them and acts on the answer.
 * Bounded by the codec (a header has a maximum length) and, in time, by the
 * handshake deadline.
 */
import { SocksError } from '../protocol/errors.js';
import { formatAddress, type SocksAddress } from '../protocol/codec/address.js';
import { decodeProxyHeader, type ProxyHeader, type ProxyVersions } from '../protocol/codec/proxy-protocol.js';
import type { Cidr } from './rules.js';

/** What the bytes so far amount to: not enough yet, a header (and what followed it), or a refusal. */
type HeaderRead = { readonly state: 'more' } | { readonly state: 'header'; header: ProxyHeader; rest: Buffer } | { readonly state: 'bad'; error: SocksError };

const MORE: HeaderRead = Object.freeze({ state: 'more' });

/** Reads a PROXY header from the start of `buf` (everything received so far). */
export function readProxyHeader(buf: Buffer, versions: ProxyVersions): HeaderRead {
  let header: ProxyHeader | undefined;
  try {
    header = decodeProxyHeader(buf, { versions });
  } catch (err) {
    return { state: 'bad', error: err as SocksError };
  }
  if (!header) return MORE;
  return { state: 'header', header, rest: buf.subarray(header.length) };
}

/** The refusal for a sender not among the trusted balancers, or undefined (no list trusts anyone). */
export function untrustedSender(trusted: readonly Cidr[] | undefined, sender: SocksAddress): SocksError | undefined {
  if (!trusted || trusted.some((c) => c.contains(sender.host))) return undefined;
  return new SocksError('ERR_SOCKS_DENIED', `PROXY header sender ${formatAddress(sender)} is not trusted`);
}
