/**
 * sockskit: a SOCKS5/4/4a toolkit. The public API, one section per layer
 * (docs/architecture.md): protocol core, methods, transport, server, client,
 * Electrum.
 */

// Protocol core: pure, sans-I/O.
export * from './protocol/constants.js';
export * from './protocol/errors.js';
export * from './protocol/codec/index.js';
export * from './protocol/secret.js';
export * from './protocol/server-handshake.js';
export * from './protocol/client-handshake.js';
export * from './protocol/udp-reassembly.js';
export type * from './protocol/method.js';
export { runCheck } from './protocol/method.js';
export { decodeProxyHeader, encodeProxyHeaderV1, encodeProxyHeaderV2, PROXY_V2_SIGNATURE, PROXY_V1_MAX, PROXY_V2_DEFAULT_MAX } from './protocol/codec/proxy-protocol.js';
export type { ProxyHeader, ProxyHeaderInit, ProxyDecodeOptions, ProxyVersions } from './protocol/codec/proxy-protocol.js';

// Methods: one AuthMethod each, both halves.
export * from '../methods/none.js';
export * from '../methods/userpass.js';
export { squidHelper, encodeHelperRequest, parseHelperReply } from '../methods/squid-helper/index.js';
export type { SquidHelper, SquidHelperOptions, SquidHelperStats, HelperReply, HelperResult } from '../methods/squid-helper/index.js';
export * from '../methods/binauth/index.js';
export * from '../methods/gssapi/index.js';
// Kerberos: the native binding loads only when the mechanism is first used.
export { gssapiKerberos, kerberosMechanism, kerberosAvailable, KerberosError, KerberosUnavailableError, DEFAULT_KERBEROS_SERVICE } from '../methods/gssapi/kerberos/index.js';
export type { GssapiKerberosOptions, KerberosMechanismOptions, KeytabEntry } from '../methods/gssapi/kerberos/index.js';
export { readKeytab, parseKeytab } from '../methods/gssapi/kerberos/index.js';
export * from '../methods/ident/index.js';
export { electrumTokenAuth, checkToken as checkElectrumToken } from './electrum/gate.js';
export type { ElectrumTokenOptions, ElectrumTokenAuth, ElectrumTokenIdentity, ElectrumConnection, ElectrumAuthFailure, ElectrumDecision } from './electrum/gate.js';

// Transport: Node stream plumbing shared by server and client.
export * from './transport/relay.js';
export * from './transport/encapsulation-stream.js';
export * from './transport/typed-events.js';

// Server.
export * from './server/index.js';

// Client.
export * from './client/index.js';

// Electrum: an application of the above.
export * from './electrum/index.js';
