/**
 * The server's seam for upstream proxies: what CONNECT needs of a way out
 * that is not a direct TCP connection. The server never builds one (it does
 * not know the client); the service layer does, from proxy URLs.
 */
import type dns from 'node:dns';
import type { Duplex } from 'node:stream';
import type { SocksAddress } from '../protocol/codec/address.js';

/**
 * A way out for CONNECT other than a direct TCP connection: an upstream
 * proxy or a chain of them (the service layer builds one from proxy URLs
 * with the client's connect(); anything that opens a stream will do).
 */
export interface Upstream {
  /** For the access log (`via=`): the hops without credentials, e.g. `socks5://127.0.0.1:1080`. */
  readonly name: string;
  /** Opens a tunnel to `dest`; rejects with a SocksError (its reply is sent to the client) or a Node error. */
  connect(dest: SocksAddress, o: UpstreamDialOptions): Promise<{ socket: Duplex; bound: SocksAddress }>;
}

export interface UpstreamDialOptions {
  signal: AbortSignal;
  /** The server's outboundAddress. */
  localAddress?: string;
  /** The server's lookup (the first proxy's name; a socks5:// or socks4:// hop resolves the destination with it). */
  lookup?: typeof dns.lookup;
  keepAlive: number | false;
}

/** Where a rule sends what it passes: an upstream, or `direct` (overriding the server's `upstream`). */
export type Via = Upstream | 'direct';
