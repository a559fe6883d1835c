/** GSS-API (RFC 1961): the method, its frames, the mechanism interface and the PSK test mechanism. */
export * from './method.js';
export * from './frame.js';
export type * from './mechanism.js';
export { pskMechanism, parsePskKey, loadPskKey, PSK_MIN_KEY } from './psk.js';
export type { PskMechanismOptions } from './psk.js';
