export * from './address.js';
export * from './byte-queue.js';
export * from './failure.js';
export * from './greeting.js';
export * from './request.js';
export * from './socks4.js';
export * from './udp-header.js';
