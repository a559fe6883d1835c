/**
 * UDP request header: RFC 1928 §7. Every datagram to and from the relay.
 *
 *   +----+------+------+----------+----------+----------+
 *   |RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
 *   +----+------+------+----------+----------+----------+
 *   | 2  |  1   |  1   | Variable |    2     | Variable |
 *   +----+------+------+----------+----------+----------+
 *
 * FRAG 0 is a standalone datagram; 1–127 a fragment position, the high bit
 * marking the last fragment of a sequence.
 */
import { RemoteProtocolError } from '../errors.js';
import { SocksAddress, addressLength, writeAddress, readAddress } from './address.js';

export interface UdpDatagram {
  frag: number;
  address: SocksAddress;
  data: Buffer;
}

export function encodeUdpDatagram(address: SocksAddress, data: Buffer, frag = 0): Buffer {
  const head = 3 + addressLength(address);
  const out = Buffer.allocUnsafe(head + data.length);
  out[0] = 0; out[1] = 0; out[2] = frag;
  writeAddress(out, 3, address);
  data.copy(out, head);
  return out;
}

/** A datagram is whole or it is garbage: a short header throws. */
export function decodeUdpDatagram(buf: Buffer): UdpDatagram {
  if (buf.length < 4) throw new RemoteProtocolError('UDP datagram shorter than its header');
  const a = readAddress(buf, 3);
  if (!a) throw new RemoteProtocolError('UDP datagram shorter than its header');
  return { frag: buf[2]!, address: a.address, data: buf.subarray(a.end) };
}
