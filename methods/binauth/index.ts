/** binauth: the stateless Ed25519 core, key files, and the SOCKS method (0x80 by default). */
export * from './core.js';
export * from './keyfile.js';
export * from './method.js';
