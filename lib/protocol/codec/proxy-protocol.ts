/**
 * HAProxy PROXY protocol, versions 1 and 2 (haproxy doc/proxy-protocol.txt):
 * a load balancer prepends the original connection's addresses to the stream.
 *
 * Version 1, one US-ASCII line of at most 107 bytes including CRLF, single
 * spaces, no leading zeros:
 *
 *   "PROXY" SP ("TCP4" | "TCP6") SP src-ip SP dst-ip SP src-port SP dst-port CRLF
 *   "PROXY" SP "UNKNOWN" [anything up to CRLF] CRLF
 *
 * Version 2, binary, 16 bytes then LEN bytes (addresses, then TLVs):
 *
 *   +-------------------------------------+---------+---------+---------+
 *   | signature (12)                      | ver|cmd | fam|prot |   LEN   |
 *   | 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A | 1 byte  | 1 byte  | 2 bytes |
 *   +-------------------------------------+---------+---------+---------+
 *   ver = 2; cmd 0 LOCAL (no address: use the real endpoints), 1 PROXY.
 *   fam 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX; prot 0 UNSPEC, 1 STREAM, 2 DGRAM.
 *
 *   INET:  src(4)  dst(4)  sport(2) dport(2)    = 12 bytes
 *   INET6: src(16) dst(16) sport(2) dport(2)    = 36 bytes
 *   UNIX:  src(108) dst(108)                    = 216 bytes
 *   then TLVs to the end of LEN: type(1) length(2) value(length)
 *
 * Decoding is pure and resumable: `decodeProxyHeader(bytes)` returns
 * undefined while more bytes are needed, and rejects as early as the bytes
 * allow (a wrong first byte fails at once, not after a timeout). Every error is
 * a RemoteProtocolError carrying no reply: a PROXY header has no answer, the
 * receiver just closes. Addresses come back as SocksAddress values; UNKNOWN,
 * LOCAL, UNSPEC and UNIX carry none (the caller keeps the socket's own).
 */
import { RemoteProtocolError, LocalProtocolError, type SharedSocksErrorCode } from '../errors.js';
import { SmartBuffer } from 'smart-buffer';
import { SocksAddress, makeAddress, ipv6String, ipv6Bytes, writeIPv4, isIPv6, hex } from './address.js';

export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest legal v1 line, CRLF included. */
export const PROXY_V1_MAX = 107;
/** Default cap on a whole v2 header (16 + LEN); the format allows 16 + 65535. */
export const PROXY_V2_DEFAULT_MAX = 4096;

export type ProxyVersions = 'v1' | 'v2' | 'any';

export interface ProxyHeader {
  version: 1 | 2;
  /** 'local': a connection the balancer made itself (v2 LOCAL); use the real endpoints. */
  command: 'proxy' | 'local';
  /** v1: TCP4/TCP6/UNKNOWN map to inet/inet6/unspec. */
  family: 'inet' | 'inet6' | 'unix' | 'unspec';
  transport: 'stream' | 'dgram' | 'unspec';
  /** The original client, when the header names one. */
  source?: SocksAddress;
  /** The address the client connected to (on the balancer). */
  destination?: SocksAddress;
  /** v2 TLVs, as received (type, value); empty for v1. */
  tlvs: { type: number; value: Buffer }[];
  /** Bytes the header occupies; what follows belongs to the next protocol. */
  length: number;
}

export interface ProxyDecodeOptions {
  /** Which versions to accept (default 'any'). */
  versions?: ProxyVersions;
  /** Largest v2 header accepted, 16 + LEN bytes (default 4096). */
  maxLength?: number;
}

function bad(message: string, code: SharedSocksErrorCode = 'ERR_SOCKS_PROTOCOL'): RemoteProtocolError {
  return new RemoteProtocolError(`PROXY protocol: ${message}`, { code, reply: 'none' });
}

/** The first `n` bytes of `buf` agree with the first `n` of `prefix`. */
function agrees(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

/**
 * Decodes a PROXY header at the start of `buf`. Returns undefined for "need
 * more"; throws RemoteProtocolError (no reply) on anything malformed.
 */
export function decodeProxyHeader(buf: Buffer, options: ProxyDecodeOptions = {}): ProxyHeader | undefined {
  if (buf.length === 0) return undefined;
  const versions = options.versions ?? 'any';
  if (versions !== 'v2' && buf[0] === 0x50) return decodeV1(buf);
  if (versions !== 'v1' && buf[0] === 0x0d) return decodeV2(buf, options.maxLength ?? PROXY_V2_DEFAULT_MAX);
  throw bad(`expected a ${versions === 'any' ? 'v1 or v2' : versions} header, got 0x${hex(buf[0]!)}`);
}

// ------------------------------------------------------------------ v1

function decodeV1(buf: Buffer): ProxyHeader | undefined {
  if (!agrees(buf, V1_PREFIX)) throw bad('bad v1 signature');
  // CR may sit at index PROXY_V1_MAX - 2 at the latest, so CRLF ends by byte 107.
  const limit = Math.min(buf.length, PROXY_V1_MAX - 1);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const c = buf[i]!;
    if (c === 0x0d) {
      if (i + 1 === buf.length) return undefined;
      if (buf[i + 1] !== 0x0a) throw bad('CR without LF in v1 line');
      end = i;
      break;
    }
    // Printable ASCII only: a lone LF, NUL or binary byte can never become valid.
    if (c < 0x20 || c > 0x7e) throw bad(`byte 0x${hex(c)} in v1 line`);
  }
  if (end < 0) {
    if (buf.length >= PROXY_V1_MAX - 1) throw bad(`v1 line longer than ${PROXY_V1_MAX} bytes`, 'ERR_SOCKS_BUFFER_LIMIT');
    return undefined;
  }
  const length = end + 2;
  const fields = buf.toString('latin1', V1_PREFIX.length, end).split(' ');
  const proto = fields[0];
  // UNKNOWN: the receiver must ignore whatever follows on the line.
  if (proto === 'UNKNOWN') return { version: 1, command: 'proxy', family: 'unspec', transport: 'unspec', tlvs: [], length };
  if (proto !== 'TCP4' && proto !== 'TCP6') throw bad(`unknown v1 protocol ${JSON.stringify(proto)}`, 'ERR_SOCKS_BAD_ADDRESS_TYPE');
  if (fields.length !== 5) throw bad('v1 line needs exactly: protocol src dst sport dport, one space apart', 'ERR_SOCKS_BAD_ADDRESS');
  const v4 = proto === 'TCP4';
  const src = v4 ? v1IPv4(fields[1]!) : v1IPv6(fields[1]!);
  const dst = v4 ? v1IPv4(fields[2]!) : v1IPv6(fields[2]!);
  return {
    version: 1,
    command: 'proxy',
    family: v4 ? 'inet' : 'inet6',
    transport: 'stream',
    source: makeAddress(src, v1Port(fields[3]!)),
    destination: makeAddress(dst, v1Port(fields[4]!)),
    tlvs: [],
    length,
  };
}

// Decimal without heading zeros (the spec forbids them to avoid octal confusion).
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function v1IPv4(s: string): string {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => p.length <= 3 && DECIMAL.test(p) && Number(p) <= 255)) {
    throw bad(`bad v1 IPv4 address ${JSON.stringify(s)}`, 'ERR_SOCKS_BAD_ADDRESS');
  }
  return s;
}

function v1IPv6(s: string): string {
  if (!isIPv6(s)) throw bad(`bad v1 IPv6 address ${JSON.stringify(s)}`, 'ERR_SOCKS_BAD_ADDRESS');
  return s;
}

function v1Port(s: string): number {
  if (s.length > 5 || !DECIMAL.test(s) || Number(s) > 0xffff) throw bad(`bad v1 port ${JSON.stringify(s)}`, 'ERR_SOCKS_BAD_ADDRESS');
  return Number(s);
}

// ------------------------------------------------------------------ v2

const FAMILIES = ['unspec', 'inet', 'inet6', 'unix'] as const;
const TRANSPORTS = ['unspec', 'stream', 'dgram'] as const;
/** Address block size per family (UNSPEC: none). */
const ADDRESS_BYTES = [0, 12, 36, 216] as const;

function decodeV2(buf: Buffer, maxLength: number): ProxyHeader | undefined {
  if (!agrees(buf, PROXY_V2_SIGNATURE)) throw bad('bad v2 signature');
  if (buf.length < 13) return undefined;
  const ver = buf[12]! >> 4;
  const cmd = buf[12]! & 0x0f;
  if (ver !== 2) throw bad(`v2 header with version ${ver}`, 'ERR_SOCKS_BAD_VERSION');
  if (cmd > 1) throw bad(`unassigned v2 command ${cmd}`, 'ERR_SOCKS_BAD_COMMAND');
  if (buf.length < 14) return undefined;
  const fam = buf[13]! >> 4;
  const prot = buf[13]! & 0x0f;
  if (fam > 3 || prot > 2) throw bad(`unassigned v2 family/protocol 0x${hex(buf[13]!)}`, 'ERR_SOCKS_BAD_ADDRESS_TYPE');
  if (buf.length < 16) return undefined;
  const length = 16 + buf.readUInt16BE(14);
  // Refuse an oversized header before buffering it.
  if (length > maxLength) throw bad(`v2 header of ${length} bytes exceeds ${maxLength}`, 'ERR_SOCKS_BUFFER_LIMIT');
  if (buf.length < length) return undefined;
  const family = FAMILIES[fam]!;
  const transport = TRANSPORTS[prot]!;
  // LOCAL: the block, family included, is discarded (TLVs are not even parsed).
  if (cmd === 0) return { version: 2, command: 'local', family, transport, tlvs: [], length };
  // UNSPEC family or protocol: no usable address; the receiver falls back to the real endpoints.
  const addrBytes = prot === 0 ? 0 : ADDRESS_BYTES[fam]!;
  if (length - 16 < addrBytes) throw bad(`v2 ${family} header needs ${addrBytes} address bytes, LEN is ${length - 16}`, 'ERR_SOCKS_BAD_ADDRESS');
  const header: ProxyHeader = { version: 2, command: 'proxy', family, transport, tlvs: readTlvs(buf, 16 + addrBytes, length), length };
  if (addrBytes === 12) {
    header.source = { type: 'ipv4', host: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, port: buf.readUInt16BE(24) };
    header.destination = { type: 'ipv4', host: `${buf[20]}.${buf[21]}.${buf[22]}.${buf[23]}`, port: buf.readUInt16BE(26) };
  } else if (addrBytes === 36) {
    header.source = { type: 'ipv6', host: ipv6String(buf.subarray(16, 32)), port: buf.readUInt16BE(48) };
    header.destination = { type: 'ipv6', host: ipv6String(buf.subarray(32, 48)), port: buf.readUInt16BE(50) };
  }
  return header;
}

function readTlvs(buf: Buffer, from: number, end: number): { type: number; value: Buffer }[] {
  const out: { type: number; value: Buffer }[] = [];
  let i = from;
  while (i < end) {
    if (end - i < 3) throw bad('truncated v2 TLV');
    const len = buf.readUInt16BE(i + 1);
    if (i + 3 + len > end) throw bad('v2 TLV runs past the header');
    // Copy: the header buffer is the connection's input and is not kept.
    out.push({ type: buf[i]!, value: Buffer.from(buf.subarray(i + 3, i + 3 + len)) });
    i += 3 + len;
  }
  return out;
}

// ------------------------------------------------------------- encoders

export interface ProxyHeaderInit {
  /** Default 'proxy'; 'local' sends no address (v1: UNKNOWN). */
  command?: 'proxy' | 'local';
  /** Both IPv4 or both IPv6; omitted: v1 UNKNOWN, v2 LOCAL-style UNSPEC block. */
  source?: SocksAddress;
  destination?: SocksAddress;
  /** v2 only: default 'stream'. */
  transport?: 'stream' | 'dgram';
  /** v2 only: TLVs appended after the addresses. */
  tlvs?: readonly { type: number; value: Buffer }[];
}

function addressPair(init: ProxyHeaderInit): { src: SocksAddress; dst: SocksAddress; v6: boolean } | undefined {
  if (init.command === 'local' || (!init.source && !init.destination)) return undefined;
  const { source: src, destination: dst } = init;
  if (!src || !dst) throw new LocalProtocolError('a PROXY header needs both source and destination');
  if (src.type === 'domain' || src.type !== dst.type) throw new LocalProtocolError('PROXY header addresses must both be IPv4 or both IPv6');
  for (const a of [src, dst]) {
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) throw new LocalProtocolError(`invalid port ${a.port}`);
  }
  return { src, dst, v6: src.type === 'ipv6' };
}

/** "PROXY TCP4 src dst sport dport\r\n", or "PROXY UNKNOWN\r\n" without addresses. */
export function encodeProxyHeaderV1(init: ProxyHeaderInit = {}): Buffer {
  const p = addressPair(init);
  if (!p) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  // Canonical text: IPv6 compressed by makeAddress; IPv4 checked by writeIPv4 (no heading zeros then).
  const host = (a: SocksAddress): string => {
    if (p.v6) return makeAddress(a.host, a.port).host;
    const b = Buffer.alloc(4);
    writeIPv4(b, 0, a.host);
    return b.join('.');
  };
  return Buffer.from(`PROXY ${p.v6 ? 'TCP6' : 'TCP4'} ${host(p.src)} ${host(p.dst)} ${p.src.port} ${p.dst.port}\r\n`, 'latin1');
}

/** The binary header: signature, 0x21 (or 0x20 LOCAL), family/protocol, LEN, addresses, TLVs. */
export function encodeProxyHeaderV2(init: ProxyHeaderInit = {}): Buffer {
  const p = addressPair(init);
  const tlvs = init.tlvs ?? [];
  const addrBytes = !p ? 0 : p.v6 ? 36 : 12;
  const len = addrBytes + tlvs.reduce((n, t) => n + 3 + t.value.length, 0);
  if (len > 0xffff) throw new LocalProtocolError(`PROXY v2 block of ${len} bytes exceeds 65535`);
  const out = Buffer.alloc(16 + addrBytes);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = init.command === 'local' ? 0x20 : 0x21;
  out[13] = p ? ((p.v6 ? 2 : 1) << 4) | (init.transport === 'dgram' ? 2 : 1) : 0x00;
  out.writeUInt16BE(len, 14);
  let i = 16;
  if (p) {
    const ip = (a: SocksAddress, at: number) => (p.v6 ? ipv6Bytes(a.host).copy(out, at) : writeIPv4(out, at, a.host));
    const size = p.v6 ? 16 : 4;
    ip(p.src, i);
    ip(p.dst, i + size);
    out.writeUInt16BE(p.src.port, i + 2 * size);
    out.writeUInt16BE(p.dst.port, i + 2 * size + 2);
    i += addrBytes;
  }
  if (tlvs.length === 0) return out;
  // TYPE LENGTH VALUE, repeated: variable length, built with SmartBuffer.
  const tail = new SmartBuffer({ size: len - addrBytes });
  for (const t of tlvs) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 0xff) throw new LocalProtocolError(`invalid TLV type ${t.type}`);
    tail.writeUInt8(t.type).writeUInt16BE(t.value.length).writeBuffer(t.value);
  }
  return Buffer.concat([out, tail.toBuffer()]);
}
