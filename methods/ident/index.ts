/** ident (RFC 1413): the lookup client and the SOCKS methods built on it. */
export { identUser, identSocks4, identMethod } from './method.js';
export type { IdentMode, IdentOptions } from './method.js';
export { parseIdentReply, encodeIdentQuery, identLookup, IDENT_PORT, IDENT_TIMEOUT, IDENT_MAX_LINE, IdentError, IdentReplyReader } from './lookup.js';
export type { IdentReply, IdentFailure, IdentLookupOptions } from './lookup.js';
