/**
 * sockskit/undici: socksDispatcher(), an undici Agent over SOCKS for fetch().
 * Its own entry because its declarations import undici's types: the main
 * entry ('sockskit') compiles without undici installed.
 */
export { socksDispatcher } from './client/dispatcher.js';
export type { SocksDispatcherOptions, SocksDispatcher, GlobalFetchDispatcher } from './client/dispatcher.js';
