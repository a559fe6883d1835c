/** ident (RFC 1413): the lookup client and the SOCKS methods built on it. */
export * from './method.js';
export * from './lookup.js';
