/**
 * sockskit/protocol: the sans-I/O core on its own — constants, errors, the
 * codecs, the PROXY header, the server and client handshake engines, UDP
 * reassembly and the AuthMethod contract. No Node I/O behind any of it.
 */
export { commandName, commandCode, SOCKS4_VERSION, SOCKS5_VERSION, SOCKS4_REPLY_VERSION, Method, Command, AddressType, Reply, Socks4Reply, USERPASS_VERSION, UserPassStatus, Limits } from './constants.js';
export type { CommandCode, CommandName, ReplyCode } from './constants.js';
export { replyMessage, replyFromErrno, toSocksError, socks4ReplyFrom, failureCode, SocksError, NO_REPLY, RemoteProtocolError, LocalProtocolError, AuthError, ReplyError, TimeoutError, ProxyUnreachableError, isSocksError } from './errors.js';
export type { SocksErrorCode, RemoteProtocolErrorOptions, OwnSocksErrorCode, SharedSocksErrorCode, AnySocksError } from './errors.js';
export { isIPv4, isIPv6, hostType, stripBrackets, makeAddress, addressLength, writeAddress, encodeAddress, readAddress, writeIPv4, ipv6Bytes, ipv6String, fromNodeAddress, formatAddress, isZeroAddress, hex, isUnspecified, ANY_IPV4, ByteQueue, encodeFailureReply, encodeGreeting, decodeGreeting, encodeMethodSelection, decodeMethodSelection, encodeRequest, decodeRequest, encodeReply, decodeReply, encodeSocks4Request, decodeSocks4Request, encodeSocks4Reply, decodeSocks4Reply, encodeUdpDatagram, decodeUdpDatagram } from './codec/index.js';
export type { AddressKind, SocksAddress, Socks5Request, Socks4Request, UdpDatagram } from './codec/index.js';
export { decodeProxyHeader, encodeProxyHeaderV1, encodeProxyHeaderV2, PROXY_V2_SIGNATURE, PROXY_V1_MAX, PROXY_V2_DEFAULT_MAX } from './codec/proxy-protocol.js';
export type { ProxyVersions, ProxyHeader, ProxyDecodeOptions, ProxyHeaderInit } from './codec/proxy-protocol.js';
export { safeEqual, redact } from './secret.js';
export { preferServerOrder, ServerHandshake } from './server-handshake.js';
export type { SocksRequest, ServerAction, MethodSelector, Socks4Identify, ServerHandshakeOptions, ServerPhase } from './server-handshake.js';
export { ClientHandshake } from './client-handshake.js';
export type { ClientAction, ClientVersion, ClientHandshakeOptions, ClientPhase } from './client-handshake.js';
export { FRAG_END, FRAG_POSITION, MIN_REASSEMBLY_TIMEOUT, UdpReassembler } from './udp-reassembly.js';
export type { ReassemblyOptions, ReassemblyResult } from './udp-reassembly.js';
export { runCheck } from './method.js';
export type { Encapsulation, VerifyResult, AuthStep, ServerAuthContext, ClientAuthContext, AuthSession, ServerAuthSession, ClientAuthSession, AuthMethod } from './method.js';
