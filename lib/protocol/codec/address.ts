/**
 * SOCKS addresses: RFC 1928 §5.
 *
 *   +------+----------+----------+
 *   | ATYP | DST.ADDR | DST.PORT |
 *   +------+----------+----------+
 *   |  1   | Variable |    2     |
 *   +------+----------+----------+
 *
 *   o  X'01' IPv4: 4 octets
 *   o  X'03' DOMAINNAME: one length octet (1–255), then the name, no NUL
 *   o  X'04' IPv6: 16 octets
 *
 * Ports are big-endian. Domain lengths are byte lengths (Buffer.byteLength),
 * never string lengths.
 */
import { Address6 } from 'ip-address';
import { AddressType, Reply } from '../constants.js';
import { RemoteProtocolError, LocalProtocolError } from '../errors.js';
import { printable, hasControlCharacter } from '../printable.js';

export type AddressKind = 'ipv4' | 'ipv6' | 'domain';

export interface SocksAddress {
  type: AddressKind;
  /** Dotted IPv4, canonical compressed IPv6 (no brackets), or the domain name. */
  host: string;
  port: number;
}

// The codec stays pure: no `net` import, so these are local checks.

/**
 * True for a dotted-quad IPv4 literal (no leading zeros, as Node prints them).
 * A scan rather than a regular expression: it runs several times per connection.
 */
export function isIPv4(host: string): boolean {
  const n = host.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let i = 0;
  while (i < n) {
    let v = 0;
    const start = i;
    for (let c = host.charCodeAt(i); c >= 0x30 && c <= 0x39; c = host.charCodeAt(++i)) v = v * 10 + (c - 0x30);
    const len = i - start;
    // 1–3 digits, no leading zero (but "0" itself), at most 255.
    if (len === 0 || len > 3 || (len > 1 && host.charCodeAt(start) === 0x30) || v > 255) return false;
    if (++parts === 4) return i === n;
    if (host.charCodeAt(i) !== 0x2e) return false;
    i++;
  }
  return false;
}

/** True for an IPv6 literal (without brackets or zone). */
export function isIPv6(host: string): boolean {
  return host.includes(':') && Address6.isValid(host) && !host.includes('%') && !host.includes('/');
}

/** Classifies a host string: an IPv4/IPv6 literal or a domain name. */
export function hostType(host: string): AddressKind {
  if (isIPv4(host)) return 'ipv4';
  if (isIPv6(stripBrackets(host))) return 'ipv6';
  return 'domain';
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Builds an address object from a host string and port, classifying the host. */
export function makeAddress(host: string, port: number): SocksAddress {
  checkPort(port);
  const type = hostType(host);
  if (type === 'ipv6') return { type, host: new Address6(stripBrackets(host)).correctForm(), port };
  return { type, host, port };
}

export const ANY_IPV4: Readonly<SocksAddress> = Object.freeze({ type: 'ipv4', host: '0.0.0.0', port: 0 });

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new LocalProtocolError(`invalid port ${port}`);
  }
}

/** Encoded size of ATYP + ADDR + PORT. */
export function addressLength(addr: SocksAddress): number {
  switch (addr.type) {
    case 'ipv4': return 1 + 4 + 2;
    case 'ipv6': return 1 + 16 + 2;
    case 'domain': return 1 + 1 + Buffer.byteLength(addr.host) + 2;
  }
}

/** Writes ATYP ADDR PORT at `offset` of `out`; returns the new offset. */
export function writeAddress(out: Buffer, offset: number, addr: SocksAddress): number {
  checkPort(addr.port);
  switch (addr.type) {
    case 'ipv4': {
      out[offset++] = AddressType.IPv4;
      offset = writeIPv4(out, offset, addr.host);
      break;
    }
    case 'ipv6': {
      out[offset++] = AddressType.IPv6;
      const bytes = ipv6Bytes(addr.host);
      bytes.copy(out, offset);
      offset += 16;
      break;
    }
    case 'domain': {
      const len = Buffer.byteLength(addr.host);
      if (len < 1 || len > 255) throw new LocalProtocolError(`domain name must be 1 to 255 bytes, got ${len}`);
      out[offset++] = AddressType.DomainName;
      out[offset++] = len;
      offset += out.write(addr.host, offset, 'utf8');
      break;
    }
  }
  out.writeUInt16BE(addr.port, offset);
  return offset + 2;
}

export function encodeAddress(addr: SocksAddress): Buffer {
  const out = Buffer.allocUnsafe(addressLength(addr));
  writeAddress(out, 0, addr);
  return out;
}

/**
 * Reads ATYP ADDR PORT from `buf` at `offset`. Returns undefined when more
 * bytes are needed; throws RemoteProtocolError (reply 08) on an unknown ATYP.
 */
export function readAddress(buf: Buffer, offset: number): { address: SocksAddress; end: number } | undefined {
  if (buf.length < offset + 1) return undefined;
  const atyp = buf[offset]!;
  switch (atyp) {
    case AddressType.IPv4: {
      const end = offset + 1 + 4 + 2;
      if (buf.length < end) return undefined;
      const host = `${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}.${buf[offset + 4]}`;
      return { address: { type: 'ipv4', host, port: buf.readUInt16BE(offset + 5) }, end };
    }
    case AddressType.IPv6: {
      const end = offset + 1 + 16 + 2;
      if (buf.length < end) return undefined;
      const host = ipv6String(buf.subarray(offset + 1, offset + 17));
      return { address: { type: 'ipv6', host, port: buf.readUInt16BE(offset + 17) }, end };
    }
    case AddressType.DomainName: {
      if (buf.length < offset + 2) return undefined;
      const len = buf[offset + 1]!;
      const end = offset + 2 + len + 2;
      if (buf.length < end) return undefined;
      // Names are not necessarily UTF-8 (RFC 1928 says nothing); latin1 would
      // round-trip bytes, but real clients send ASCII/UTF-8, so decode as UTF-8.
      const host = buf.toString('utf8', offset + 2, offset + 2 + len);
      // No host name holds a control character; one that does is an attempt
      // to forge log lines (CR LF) or drive a terminal (ESC): 04, as for an empty name.
      if (hasControlCharacter(host)) {
        throw new RemoteProtocolError(`control character in domain name "${printable(host)}"`, { code: 'ERR_SOCKS_BAD_ADDRESS', reply: Reply.HostUnreachable });
      }
      return { address: { type: 'domain', host, port: buf.readUInt16BE(offset + 2 + len) }, end };
    }
    default:
      throw new RemoteProtocolError(`unknown address type 0x${hex(atyp)}`, { code: 'ERR_SOCKS_BAD_ADDRESS_TYPE', reply: Reply.AddressTypeNotSupported });
  }
}

export function writeIPv4(out: Buffer, offset: number, host: string): number {
  // Hand-rolled: every CONNECT reply goes through here (no split, no regex).
  let octet = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= host.length; i++) {
    const c = i < host.length ? host.charCodeAt(i) : 0x2e;
    if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3 || octet > 255) break;
    } else if (c === 0x2e && digits > 0 && parts < 4) {
      out[offset + parts++] = octet;
      octet = 0;
      digits = 0;
    } else {
      parts = -1;
      break;
    }
  }
  if (parts !== 4 || digits !== 0) throw new LocalProtocolError(`invalid IPv4 address ${host}`);
  return offset + 4;
}

export function ipv6Bytes(host: string): Buffer {
  let a: Address6;
  try {
    a = new Address6(stripBrackets(host));
  } catch {
    throw new LocalProtocolError(`invalid IPv6 address ${host}`);
  }
  return Buffer.from(padTo16(a.toByteArray()));
}

function padTo16(bytes: number[]): number[] {
  // Older ip-address versions drop leading zero bytes (a BigInteger round trip).
  if (bytes.length === 16) return bytes;
  return [...new Array<number>(16 - bytes.length).fill(0), ...bytes];
}

export function ipv6String(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return new Address6(groups.join(':')).correctForm();
}

/** Normalises a Node address string (maybe IPv4-mapped IPv6) to a SocksAddress. */
export function fromNodeAddress(host: string | undefined, port: number | undefined): SocksAddress {
  const h = host ?? '0.0.0.0';
  const p = port ?? 0;
  // Hot path (every connection): Node's strings are already canonical.
  if (isIPv4(h)) return { type: 'ipv4', host: h, port: p };
  if (h.startsWith('::ffff:') && isIPv4(h.slice(7))) return { type: 'ipv4', host: h.slice(7), port: p };
  if (isIPv6(h)) return { type: 'ipv6', host: h, port: p };
  return makeAddress(h, p);
}

/** "host:port" with brackets for IPv6, for messages and logs. */
export function formatAddress(a: SocksAddress): string {
  if (a.type === 'ipv6') return `[${a.host}]:${a.port}`;
  return a.type === 'domain' ? `${printable(a.host)}:${a.port}` : `${a.host}:${a.port}`;
}

export function isZeroAddress(a: SocksAddress): boolean {
  return (a.type === 'ipv4' && a.host === '0.0.0.0') || (a.type === 'ipv6' && a.host === '::');
}

export function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/**
 * True for an unspecified address: 0.0.0.0/8 ("this network", RFC 1122
 * §3.2.1.3), `::`, and their IPv4-mapped form ::ffff:0.0.0.0/104. Linux
 * delivers a connect or datagram to them on the local host, so they are
 * never a destination: the server refuses them before any rule is consulted.
 */
export function isUnspecified(ip: string): boolean {
  // IPv4 (every connection passes here): the first octet, without a parser.
  if (!ip.includes(':')) return isIPv4(ip) && ip.charCodeAt(0) === 0x30 && ip.charCodeAt(1) === 0x2e;
  if (!isIPv6(ip)) return false;
  let b: Buffer;
  try {
    b = ipv6Bytes(ip);
  } catch {
    return false;
  }
  // Ten zero bytes, then either two more zeros (`::`, all sixteen zero) or ffff and a zero (::ffff:0.0.0.0/104).
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  if (b[10] === 0 && b[11] === 0) return b.readUInt32BE(12) === 0;
  return b[10] === 0xff && b[11] === 0xff && b[12] === 0;
}
