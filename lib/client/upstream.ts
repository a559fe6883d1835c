/**
 * An upstream for SocksServer (its `upstream` option, a rule's `via`): a
 * proxy or a chain of them, given as URLs, through which the server's CONNECT
 * opens its tunnels with connect(). It has the shape of the server's
 * Upstream type without importing it (server and client stay apart).
 */
import type { Duplex } from 'node:stream';
import type { SocksAddress } from '../protocol/codec/address.js';
import type { AuthMethod } from '../protocol/method.js';
import { connect, hopUrl, parseProxy, type ClientLookup, type ProxySpec } from './connect.js';

export interface ProxyUpstream {
  /** The hops without credentials, comma-separated: `socks5h://127.0.0.1:1080,socks4://10.0.0.1:1080`. */
  readonly name: string;
  connect(dest: SocksAddress, o: { signal: AbortSignal; localAddress?: string; lookup?: ClientLookup; keepAlive: number | false }): Promise<{ socket: Duplex; bound: SocksAddress }>;
}


/**
 * The upstream of `proxies` (first dialled first). Each URL is checked now
 * (LocalProtocolError on a bad one), so a configuration fails at --check and
 * not at the first request. `methods`: offered on every SOCKS5 hop besides
 * the URL's credentials (default: none).
 */
export function proxyUpstream(proxies: readonly ProxySpec[], methods?: readonly AuthMethod<unknown>[]): ProxyUpstream {
  const hops = proxies.map((p) => parseProxy(p, methods));
  const name = hops.map(hopUrl).join(',');
  return {
    name,
    async connect(dest, o) {
      const r = await connect({
        proxy: [...proxies],
        methods,
        destination: { host: dest.host, port: dest.port },
        signal: o.signal,
        lookup: o.lookup,
        localAddress: o.localAddress,
        keepAlive: o.keepAlive === false ? false : o.keepAlive,
        // The server's connect timer bounds the whole: no deadline of our own.
        connectTimeout: 0,
        handshakeTimeout: 0,
      });
      return { socket: r.socket, bound: r.bound };
    },
  };
}
