/**
 * The request hook's contract: what the application sees once a client is
 * authenticated and has sent its request, and the four decisions it can make.
 * A type only, so that methods (the Electrum token gate) can supply a hook
 * without importing the server adapter that calls it.
 */
import type { Duplex } from 'node:stream';
import type { SocksAddress } from './codec/address.js';
import type { SocksRequest } from './server-handshake.js';

export interface RequestContext {
  readonly request: SocksRequest;
  readonly source: SocksAddress;
  readonly local: SocksAddress;
  /** The default behaviour for the command (CONNECT: dial and relay). */
  accept(): Promise<void>;
  /** Refuse with an exact reply code (SOCKS5 REP; SOCKS4 gets 5B, or 5C/5D as given). */
  deny(reply?: number): void;
  /** Take the connection over. With `reply`, that reply is written first. */
  handoff(options?: { reply?: number; bound?: SocksAddress }): { socket: Duplex; head: Buffer };
  /** Answer success and relay to a stream the application opened itself. */
  relay(upstream: Duplex, bound?: SocksAddress): void;
}
