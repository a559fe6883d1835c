/**
 * The SOCKS codecs, one module per message: pure functions over Buffers.
 */
export { isIPv4, isIPv6, hostType, stripBrackets, makeAddress, addressLength, writeAddress, encodeAddress, readAddress, writeIPv4, ipv6Bytes, ipv6String, fromNodeAddress, formatAddress, isZeroAddress, hex, isUnspecified, ANY_IPV4 } from './address.js';
export type { AddressKind, SocksAddress } from './address.js';
export { ByteQueue } from './byte-queue.js';
export { encodeFailureReply } from './failure.js';
export { encodeGreeting, decodeGreeting, encodeMethodSelection, decodeMethodSelection } from './greeting.js';
export { encodeRequest, decodeRequest, encodeReply, decodeReply } from './request.js';
export type { Socks5Request } from './request.js';
export { encodeSocks4Request, decodeSocks4Request, encodeSocks4Reply, decodeSocks4Reply } from './socks4.js';
export type { Socks4Request } from './socks4.js';
export { encodeUdpDatagram, decodeUdpDatagram } from './udp-header.js';
export type { UdpDatagram } from './udp-header.js';
