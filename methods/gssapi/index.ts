/** GSS-API (RFC 1961): the method, its frames, the mechanism interface and the PSK test mechanism. */
export { gssapi, gssapiPsk, GssEncapsulation } from './method.js';
export type { GssProtection, GssapiOptions, GssapiPskOptions } from './method.js';
export { encodeGssFrame, decodeGssFrame, GSSAPI_VERSION, GssMessageType, GssProtectionLevel, GSS_MAX_TOKEN, GSS_FRAME_HEADER, GSS_MAX_FRAME, GSS_ABORT, GSS_EMPTY_AUTH } from './frame.js';
export type { GssFrame } from './frame.js';
export type { GssStep, MaybePromise, GssWrapOptions, GssSecurityContext, GssInitiatorContext, GssAcceptorContext, GssMechanism } from './mechanism.js';
export { pskMechanism, parsePskKey, loadPskKey, PSK_MIN_KEY } from './psk.js';
export type { PskMechanismOptions } from './psk.js';
