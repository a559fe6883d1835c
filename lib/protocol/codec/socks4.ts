/**
 * SOCKS4 and SOCKS4a (Ying-Da Lee's protocol texts).
 *
 *   request
 *   +----+----+----+----+----+----+----+----+----+----+....+----+
 *   | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL|
 *   +----+----+----+----+----+----+----+----+----+----+....+----+
 *      1    1      2              4           variable       1
 *
 *   SOCKS4a: DSTIP = 0.0.0.x with x != 0, then after USERID's NUL the
 *   hostname and another NUL.
 *
 *   reply (always 8 bytes, VN = 0)
 *   +----+----+----+----+----+----+----+----+
 *   | VN | CD | DSTPORT |      DSTIP        |
 *   +----+----+----+----+----+----+----+----+
 *
 * USERID and the hostname have no length in the spec: both are capped at
 * 255 bytes so a client cannot make us buffer without end.
 */
import { printable, hasControlCharacter } from '../printable.js';
import { SOCKS4_VERSION, SOCKS4_REPLY_VERSION, Limits, Socks4Reply } from '../constants.js';
import { RemoteProtocolError, LocalProtocolError } from '../errors.js';
import { SocksAddress, writeIPv4 } from './address.js';

export interface Socks4Request {
  command: number;
  destination: SocksAddress;
  userId: string;
  /** True when the request used the 4a hostname form. */
  socks4a: boolean;
}

export function encodeSocks4Request(command: number, destination: SocksAddress, userId = ''): Buffer {
  const user = Buffer.from(userId, 'utf8');
  if (user.includes(0)) throw new LocalProtocolError('SOCKS4 USERID cannot contain NUL');
  if (destination.type === 'ipv6') throw new LocalProtocolError('SOCKS4 cannot carry an IPv6 address');
  const host = destination.type === 'domain' ? Buffer.from(destination.host, 'utf8') : undefined;
  if (host && (host.length === 0 || host.includes(0) || host.length > Limits.socks4Field)) {
    throw new LocalProtocolError('SOCKS4a hostname must be 1 to 255 bytes without NUL');
  }
  const out = Buffer.alloc(8 + user.length + 1 + (host ? host.length + 1 : 0));
  out[0] = SOCKS4_VERSION;
  out[1] = command;
  out.writeUInt16BE(destination.port, 2);
  if (host) {
    out[7] = 1; // 0.0.0.1: the 4a marker
  } else {
    writeIPv4(out, 4, destination.host);
  }
  user.copy(out, 8);
  if (host) host.copy(out, 8 + user.length + 1);
  return out;
}

/** Decodes a SOCKS4/4a request; undefined means "need more". */
export function decodeSocks4Request(buf: Buffer): { request: Socks4Request; length: number } | undefined {
  if (buf.length < 9) return undefined;
  if (buf[0] !== SOCKS4_VERSION) throw new RemoteProtocolError(`SOCKS4 version 0x${buf[0]!.toString(16)}`, 'ERR_SOCKS_BAD_VERSION', Socks4Reply.Rejected);
  const userEnd = findNul(buf, 8, Limits.socks4Field, 'USERID');
  if (userEnd < 0) return undefined;
  const port = buf.readUInt16BE(2);
  const is4a = buf[4] === 0 && buf[5] === 0 && buf[6] === 0 && buf[7] !== 0;
  const userId = buf.toString('utf8', 8, userEnd);
  if (!is4a) {
    const host = `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
    return { request: { command: buf[1]!, destination: { type: 'ipv4', host, port }, userId, socks4a: false }, length: userEnd + 1 };
  }
  const hostEnd = findNul(buf, userEnd + 1, Limits.socks4Field, 'SOCKS4a hostname');
  if (hostEnd < 0) return undefined;
  if (hostEnd === userEnd + 1) throw new RemoteProtocolError('empty SOCKS4a hostname', 'ERR_SOCKS_BAD_ADDRESS', Socks4Reply.Rejected);
  const host = buf.toString('utf8', userEnd + 1, hostEnd);
  if (hasControlCharacter(host)) throw new RemoteProtocolError(`control character in SOCKS4a hostname "${printable(host)}"`, 'ERR_SOCKS_BAD_ADDRESS', Socks4Reply.Rejected);
  return { request: { command: buf[1]!, destination: { type: 'domain', host, port }, userId, socks4a: true }, length: hostEnd + 1 };
}

/** Index of the NUL ending a field that starts at `start`, -1 for "need more". */
function findNul(buf: Buffer, start: number, max: number, what: string): number {
  const end = buf.indexOf(0, start);
  if (end >= 0 && end - start <= max) return end;
  if ((end < 0 ? buf.length - start : end - start) > max) {
    throw new RemoteProtocolError(`${what} longer than ${max} bytes`, 'ERR_SOCKS_BUFFER_LIMIT', Socks4Reply.Rejected);
  }
  return -1;
}

export function encodeSocks4Reply(code: number, bound?: SocksAddress): Buffer {
  const out = Buffer.alloc(8);
  out[0] = SOCKS4_REPLY_VERSION;
  out[1] = code;
  if (bound && bound.type === 'ipv4') {
    out.writeUInt16BE(bound.port, 2);
    writeIPv4(out, 4, bound.host);
  }
  return out;
}

export function decodeSocks4Reply(buf: Buffer): { reply: number; bound: SocksAddress; length: 8 } | undefined {
  if (buf.length < 8) return undefined;
  if (buf[0] !== SOCKS4_REPLY_VERSION) throw new RemoteProtocolError(`SOCKS4 reply version 0x${buf[0]!.toString(16)}`, 'ERR_SOCKS_BAD_VERSION');
  const host = `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
  return { reply: buf[1]!, bound: { type: 'ipv4', host, port: buf.readUInt16BE(2) }, length: 8 };
}
