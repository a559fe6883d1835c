/**
 * sockskit: a SOCKS5/4/4a toolkit. The public API, one section per layer
 * (docs/architecture.md, docs/api.md): protocol core, methods, transport,
 * server, client, Electrum. Every name is listed, so that what is public is a
 * choice made here; spec/package/api.spec.ts keeps this list, the layer
 * barrels and docs/api.md in step.
 */

// Protocol core: pure, sans-I/O (also sockskit/protocol).
export {
  commandName, commandCode, SOCKS4_VERSION, SOCKS5_VERSION, SOCKS4_REPLY_VERSION, Method, Command,
  AddressType, Reply, Socks4Reply, USERPASS_VERSION, UserPassStatus, Limits,
} from './protocol/constants.js';
export type { CommandCode, CommandName, ReplyCode } from './protocol/constants.js';
export {
  replyMessage, replyFromErrno, toSocksError, socks4ReplyFrom, failureCode, SocksError, NO_REPLY,
  RemoteProtocolError, LocalProtocolError, AuthError, ReplyError, TimeoutError, ProxyUnreachableError, isSocksError,
} from './protocol/errors.js';
export type { SocksErrorCode, RemoteProtocolErrorOptions, OwnSocksErrorCode, SharedSocksErrorCode, AnySocksError } from './protocol/errors.js';
export {
  isIPv4, isIPv6, hostType, stripBrackets, makeAddress, addressLength, writeAddress, encodeAddress,
  readAddress, writeIPv4, ipv6Bytes, ipv6String, fromNodeAddress, formatAddress, isZeroAddress, hex,
  isUnspecified, ANY_IPV4, ByteQueue, encodeFailureReply, encodeGreeting, decodeGreeting,
  encodeMethodSelection, decodeMethodSelection, encodeRequest, decodeRequest, encodeReply,
  decodeReply, encodeSocks4Request, decodeSocks4Request, encodeSocks4Reply, decodeSocks4Reply,
  encodeUdpDatagram, decodeUdpDatagram,
} from './protocol/codec/index.js';
export type {
  AddressKind, SocksAddress, Socks5Request, Socks4Request, UdpDatagram,
} from './protocol/codec/index.js';
export {
  decodeProxyHeader, encodeProxyHeaderV1, encodeProxyHeaderV2, PROXY_V2_SIGNATURE, PROXY_V1_MAX,
  PROXY_V2_DEFAULT_MAX,
} from './protocol/codec/proxy-protocol.js';
export type {
  ProxyVersions, ProxyHeader, ProxyDecodeOptions, ProxyHeaderInit,
} from './protocol/codec/proxy-protocol.js';
export { safeEqual, redact } from './protocol/secret.js';
export { preferServerOrder, ServerHandshake } from './protocol/server-handshake.js';
export type {
  SocksRequest, ServerAction, MethodSelector, Socks4Identify, ServerHandshakeOptions, ServerPhase,
} from './protocol/server-handshake.js';
export { ClientHandshake } from './protocol/client-handshake.js';
export type {
  ClientAction, ClientVersion, ClientHandshakeOptions, ClientPhase,
} from './protocol/client-handshake.js';
export {
  FRAG_END, FRAG_POSITION, MIN_REASSEMBLY_TIMEOUT, UdpReassembler,
} from './protocol/udp-reassembly.js';
export type { ReassemblyOptions, ReassemblyResult } from './protocol/udp-reassembly.js';
export { runCheck } from './protocol/method.js';
export type {
  Encapsulation, VerifyResult, AuthStep, ServerAuthContext, ClientAuthContext, AuthSession,
  ServerAuthSession, ClientAuthSession, AuthMethod,
} from './protocol/method.js';

// Methods: one AuthMethod each, both halves.
export { none } from '../methods/none.js';
export {
  defaultVerifyQueue, encodeUserPassRequest, decodeUserPassRequest, userpass, VerifyQueue,
  threadpoolSize, LoginThrottle, sourceKey, isPasswordHash, checkScryptParams, parsePasswordHash,
  scryptAsync, hashPassword, verifyParsed, verifyPassword, dummyHash, SCRYPT_MAX_MEMORY,
  SCRYPT_MAX_WORK, SCRYPT_DEFAULTS,
} from '../methods/userpass.js';
export type {
  VerifyQueueOptions, VerifyJobOptions, VerifyQueueStats, LoginThrottleOptions, LoginThrottleStats,
  UserPassVerifier, UserPassOptions, UserPassCredentials, UserPassStats, ScryptParams, PasswordHash,
} from '../methods/userpass.js';
export { squidHelper, encodeHelperRequest, parseHelperReply } from '../methods/squid-helper/index.js';
export type { SquidHelper, SquidHelperOptions, SquidHelperStats, HelperReply, HelperResult } from '../methods/squid-helper/index.js';
export {
  binauthPublicKey, generateBinauthKeyPair, inspectBinauthToken, createBinauth,
  signBinauthChallenge, BINAUTH_TYPE_CHALLENGE, BINAUTH_TYPE_TOKEN, BINAUTH_TOKEN_LENGTH,
  BINAUTH_SIGNED_CHALLENGE_LENGTH, BINAUTH_DEFAULT_CHALLENGE_TTL, BINAUTH_DEFAULT_TOKEN_TTL,
  BinauthError, parsePrivateKey, loadKeyFile, writeKeyFile, writeSecretFile, parseAuthorizedKeys,
  loadAuthorizedKeys, loadTokenCache, saveTokenCache, KeyFileError, binauthStatusText,
  encodeBinauthFrame, takeBinauthFrame, binauth, BINAUTH_METHOD_CODE, BINAUTH_FRAME_VERSION,
  BINAUTH_DEFAULT_MAX_MESSAGE, BinauthFrame, BinauthStatus,
} from '../methods/binauth/index.js';
export type {
  BinauthOptions, Binauth, BinauthAuthorize, BinauthMethodOptions,
} from '../methods/binauth/index.js';
export {
  gssapi, gssapiPsk, GssEncapsulation, encodeGssFrame, decodeGssFrame, GSSAPI_VERSION,
  GssMessageType, GssProtectionLevel, GSS_MAX_TOKEN, GSS_FRAME_HEADER, GSS_MAX_FRAME, GSS_ABORT,
  GSS_EMPTY_AUTH, pskMechanism, parsePskKey, loadPskKey, PSK_MIN_KEY,
} from '../methods/gssapi/index.js';
export type {
  GssProtection, GssapiOptions, GssapiPskOptions, GssFrame, GssStep, MaybePromise, GssWrapOptions,
  GssSecurityContext, GssInitiatorContext, GssAcceptorContext, GssMechanism, PskMechanismOptions,
} from '../methods/gssapi/index.js';
// Kerberos: the native binding loads only when the mechanism is first used.
export {
  gssapiKerberos, kerberosMechanism, kerberosAvailable, KerberosError, KerberosUnavailableError,
  DEFAULT_KERBEROS_SERVICE, readKeytab, parseKeytab,
} from '../methods/gssapi/kerberos/index.js';
export type { GssapiKerberosOptions, KerberosMechanismOptions, KeytabEntry } from '../methods/gssapi/kerberos/index.js';
export {
  identUser, identSocks4, identMethod, parseIdentReply, encodeIdentQuery, identLookup, IDENT_PORT,
  IDENT_TIMEOUT, IDENT_MAX_LINE, IdentError, IdentReplyReader,
} from '../methods/ident/index.js';
export type {
  IdentMode, IdentOptions, IdentReply, IdentFailure, IdentLookupOptions,
} from '../methods/ident/index.js';
export { electrumTokenAuth, checkToken as checkElectrumToken } from './electrum/gate.js';
export type { ElectrumTokenOptions, ElectrumTokenAuth, ElectrumTokenIdentity, ElectrumConnection, ElectrumAuthFailure, ElectrumDecision } from './electrum/gate.js';

// Transport: Node stream plumbing shared by server and client.
export { relay } from './transport/relay.js';
export type { RelayOptions, RelayCounter } from './transport/relay.js';
export { spliceAvailable, SpliceUnavailableError } from './transport/splice.js';
export type { SpliceMode } from './transport/splice.js';
export { encapsulate } from './transport/encapsulation-stream.js';
export { TypedEventEmitter } from './transport/typed-events.js';
export type { EventMap, TypedEmitter } from './transport/typed-events.js';

// Server.
export {
  SocksServer, createServer, parseCidr, allowedBy, evaluateRules, evaluateBeforeLookup, parseRules,
  parseDestinationPattern, compileRules, formatText, formatJson, escapeField, errorClass,
  ERROR_CLASSES, connectHandler, bindHandler, udpHandler, STAT_KEYS, SERVER_DEFAULTS, ServerMetrics,
  mergeSnapshots, renderMetrics, checkDescriptorLimit, descriptorLimit, connectionLimit,
  processFigures, STAT_SERIES, Exposition, ConnectionLimits, TokenBucket, parseRate,
  evaluatePartial, RuleBlock, logFields, LOG_FIELDS,
} from './server/index.js';
export type {
  SocksServerOptions, SocksServerStats, RequestContext, CommandHandler, ConnectionControl,
  LookupFunction, SocksServerEvents, Cidr, Ruleset, Rule, RuleInput, RuleVerdict, UserLimits,
  DestinationPattern, Policy, ConnectionRecord, EndReason, ErrorClass, BindOptions, UdpOptions,
  StatKey, MetricsSnapshot, DescriptorLimit, RaiseResult,
  ProcessFigures, SeriesDef, SeriesValue, ExtraSeries, ConnectionLimitsOptions,
  Upstream, UpstreamDialOptions, Via, Route, ParseRulesOptions, Known,
} from './server/index.js';

// Client.
export {
  connect, connectChain, bind, parseProxy, checkConnectOptions, hopUrl, udpAssociate, SocksUdpSocket, SocksAgent,
  proxyForUrl, proxyForHost, noProxyMatches, PROXY_SCHEMES, proxyUpstream,
} from './client/index.js';
export type {
  ConnectOptions, ConnectResult, ProxyConfig, ProxySpec, Destination, BindResult, ClientLookup,
  SocketOptionsForProxy, UdpAssociateOptions, UdpRemoteInfo, SocksUdpSocketEvents,
  SocksAgentOptions, SocksAgentRequestOptions, Hop, ProxyEnv, ProxyUpstream,
} from './client/index.js';
// socksDispatcher() is 'sockskit/undici' (lib/undici.ts): its declarations name undici's types.

// Electrum: an application of the above.
export {
  generateToken, tokenFromCookie, loadOrCreateCookie, readTokenFile, resolveToken, TOKEN_ALPHABET,
  TOKEN_LENGTH, basicPassword, checkBasicAuth, basicAuthGuard, electrumConnect, electrumCall,
  ElectrumSession, ElectrumRpcError, LineReader, rawAuthSequence,
} from './electrum/index.js';
export type {
  CookieResult, TokenFlags, ElectrumVia, ElectrumConnectOptions, ElectrumStream,
  ElectrumCallOptions, ElectrumSessionEvents,
} from './electrum/index.js';
