/**
 * The key a client's address is counted under for fairness and throttling:
 * the IPv4 address, or the /64 an IPv6 address belongs to (one subscriber
 * usually holds a whole /64, so counting single IPv6 addresses would let one
 * client pose as billions).
 */
import { ipv6Bytes, type SocksAddress } from '../lib/protocol/codec/address.js';

export function sourceKey(source: SocksAddress | undefined): string {
  if (!source) return '-';
  if (source.type !== 'ipv6') return source.host;
  try {
    return `${ipv6Bytes(source.host).subarray(0, 8).toString('hex')}::/64`;
  } catch {
    return source.host;
  }
}
