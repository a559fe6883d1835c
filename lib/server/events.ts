/**
 * SocksServer's events: name → listener arguments. Adding an event is one
 * line here; emitting or listening to a name not listed does not compile.
 */
import type { SocksAddress } from '../protocol/codec/address.js';
import type { SocksRequest } from '../protocol/server-handshake.js';
import type { SocksError } from '../protocol/errors.js';
import type { ConnectionRecord } from './access-log.js';

export interface SocksServerEvents {
  /** The listener is bound (net.Server 'listening'). */
  listening: [];
  /** The listener failed (net.Server 'error', e.g. EADDRINUSE). */
  error: [err: Error];
  /** A connection ended in an error (counted in stats().errors); `source` is unknown when refused at the limit. */
  clientError: [err: SocksError, source: SocksAddress | undefined];
  /** A CONNECT (or a hook's relay()) started relaying. */
  tunnel: [request: SocksRequest, source: SocksAddress];
  /** A UDP ASSOCIATE got its relay at `relay`. */
  udp: [request: SocksRequest, source: SocksAddress, relay: SocksAddress];
  /** Any connection closed: the access-log record (no secret in it). */
  connectionEnd: [record: ConnectionRecord];
  /** Something an operator should know (e.g. out of descriptors), at most once per 10 s per kind. */
  warning: [message: string];
}
