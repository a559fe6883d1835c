/**
 * sockskit: a SOCKS5/4/4a toolkit. The public API.
 * Each area adds its exports here, one line per module.
 */
export * from './constants.js';
export * from './errors.js';
export * from './codec/index.js';
export * from './secret.js';
export * from './server-handshake.js';
export type * from '../methods/types.js';
export { none } from '../methods/none.js';
export { userpass, encodeUserPassRequest, decodeUserPassRequest } from '../methods/userpass.js';
export type { UserPassOptions, UserPassVerifier } from '../methods/userpass.js';
export * from './binauth.js';
export { binauth, encodeBinauthFrame, takeBinauthFrame, binauthStatusText, BinauthFrame, BinauthStatus, BINAUTH_METHOD_CODE } from '../methods/binauth.js';
export type { BinauthMethodOptions, BinauthAuthorize } from '../methods/binauth.js';
export * from './keyfile.js';
export { bindHandler } from './bind.js';
export type { BindOptions } from './bind.js';
export { udpHandler } from './udp-relay.js';
export type { UdpOptions } from './udp-relay.js';
export * from './udp-reassembly.js';
export * from './codec/gssapi-frame.js';
export { gssapi, gssapiPsk, GssEncapsulation, pskMechanism, parsePskKey, loadPskKey, PSK_MIN_KEY } from '../methods/gssapi.js';
export type { GssapiOptions, GssapiPskOptions, GssProtection, GssMechanism, GssSecurityContext, GssStep, GssInitiatorContext, GssAcceptorContext, GssWrapOptions, PskMechanismOptions } from '../methods/gssapi.js';
export { identLookup, IdentError, IdentReplyReader, parseIdentReply, encodeIdentQuery, IDENT_PORT, IDENT_TIMEOUT, IDENT_MAX_LINE } from './ident.js';
export type { IdentReply, IdentFailure, IdentLookupOptions } from './ident.js';
export { identSocks4, identMethod, identUser } from '../methods/ident.js';
export type { IdentMode, IdentOptions } from '../methods/ident.js';
export { ClientHandshake } from './client-handshake.js';
export type { ClientAction, ClientHandshakeOptions, ClientVersion } from './client-handshake.js';
export { connect, connectChain, bind, parseProxy } from './client.js';
export type { ConnectOptions, ConnectResult, ProxyConfig, ProxySpec, Destination, BindResult, ClientLookup } from './client.js';
export { udpAssociate, SocksUdpSocket } from './client-udp.js';
export type { UdpAssociateOptions, UdpRemoteInfo } from './client-udp.js';
export { SocksAgent } from './agent.js';
export type { SocksAgentOptions } from './agent.js';
export { electrumTokenAuth, checkToken as checkElectrumToken } from '../methods/electrum-token.js';
export type { ElectrumTokenOptions, ElectrumTokenAuth, ElectrumTokenIdentity, ElectrumConnection, ElectrumAuthFailure, ElectrumDecision } from '../methods/electrum-token.js';
export { generateToken, tokenFromCookie, loadOrCreateCookie, readTokenFile, resolveToken, TOKEN_ALPHABET, TOKEN_LENGTH } from './token.js';
export type { CookieResult, TokenFlags } from './token.js';
export { basicPassword, checkBasicAuth, basicAuthGuard } from './http-auth.js';
export { electrumConnect, electrumCall, ElectrumSession, ElectrumRpcError, LineReader, rawAuthSequence } from './electrum-client.js';
export type { ElectrumVia, ElectrumConnectOptions, ElectrumStream, ElectrumCallOptions } from './electrum-client.js';
