/**
 * SOCKS5 requests and replies: RFC 1928 §4 and §6.
 *
 *   request                                       reply
 *   +----+-----+-------+------+----------+----------+   +----+-----+-------+------+----------+----------+
 *   |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |   |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
 *   +----+-----+-------+------+----------+----------+   +----+-----+-------+------+----------+----------+
 *   | 1  |  1  | X'00' |  1   | Variable |    2     |   | 1  |  1  | X'00' |  1   | Variable |    2     |
 *   +----+-----+-------+------+----------+----------+   +----+-----+-------+------+----------+----------+
 *
 * RSV is sent as 00 and not checked on receipt (lenient in, strict out).
 * A reply is always full length: failures carry BND = 01 00000000 0000.
 */
import { SOCKS5_VERSION, Reply } from '../constants.js';
import { RemoteProtocolError } from '../errors.js';
import { SocksAddress, addressLength, writeAddress, readAddress, ANY_IPV4 } from './address.js';

export interface Socks5Request {
  command: number;
  destination: SocksAddress;
}

export function encodeRequest(command: number, destination: SocksAddress): Buffer {
  return encodeMessage(command, destination);
}

/** Requests and replies share one layout: VER, CMD or REP, RSV, then an address. */
function encodeMessage(code: number, address: SocksAddress): Buffer {
  const out = Buffer.allocUnsafe(3 + addressLength(address));
  out[0] = SOCKS5_VERSION;
  out[1] = code;
  out[2] = 0x00;
  writeAddress(out, 3, address);
  return out;
}

/**
 * Decodes a request; undefined means "need more". An unknown ATYP throws
 * RemoteProtocolError with reply 08 (the rest cannot be framed).
 */
export function decodeRequest(buf: Buffer): { request: Socks5Request; length: number } | undefined {
  if (buf.length < 4) return undefined;
  if (buf[0] !== SOCKS5_VERSION) throw new RemoteProtocolError(`request version 0x${buf[0]!.toString(16)}`, { code: 'ERR_SOCKS_BAD_VERSION' });
  const a = readAddress(buf, 3);
  if (!a) return undefined;
  if (a.address.type === 'domain' && a.address.host.length === 0) {
    throw new RemoteProtocolError('empty domain name', { code: 'ERR_SOCKS_BAD_ADDRESS', reply: Reply.HostUnreachable });
  }
  return { request: { command: buf[1]!, destination: a.address }, length: a.end };
}

export function encodeReply(reply: number, bound: SocksAddress = ANY_IPV4): Buffer {
  return encodeMessage(reply, bound);
}

/** A reply is parsed by its ATYP, never assumed to be 10 bytes. */
export function decodeReply(buf: Buffer): { reply: number; bound: SocksAddress; length: number } | undefined {
  if (buf.length < 4) return undefined;
  if (buf[0] !== SOCKS5_VERSION) throw new RemoteProtocolError(`reply version 0x${buf[0]!.toString(16)}`, { code: 'ERR_SOCKS_BAD_VERSION' });
  const a = readAddress(buf, 3);
  if (!a) return undefined;
  return { reply: buf[1]!, bound: a.address, length: a.end };
}
