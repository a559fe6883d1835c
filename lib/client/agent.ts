/**
 * One http.Agent for http and https whose every connection is a SOCKS
 * tunnel (one proxy or a chain, any method); for https it runs TLS over the
 * tunnel.
 *
 *   const agent = new SocksAgent({ proxy: 'socks5h://127.0.0.1:1080', agent: { keepAlive: true } });
 *   http.get('http://example.test/', { agent });  https.get('https://example.test/', { agent });
 *
 * http.request checks agent.protocol against the URL's scheme and takes the
 * default port from agent.defaultPort, so this agent leaves `protocol` unset
 * (the check then uses the calling module's own, http: or https:) and
 * answers `defaultPort` by caller, as socks-proxy-agent does. Keep-alive and
 * pooling are http.Agent's own, with http and https connections pooled apart.
 *
 * TLS: the `tls` options, then the request's (ca, rejectUnauthorized, ...);
 * without `ca`, Node's default trust store, NODE_EXTRA_CA_CERTS included.
 * The certificate is checked against the request's host (or `tls.servername`);
 * SNI is sent for names, not for IP addresses.
 */
import http from 'node:http';
import tls from 'node:tls';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, checkConnectOptions, type ConnectOptions } from './connect.js';
import { LocalProtocolError } from '../protocol/errors.js';
import { asSocket } from './socket-like.js';
import { TLS_KEYS, tlsPoolKey } from './tls-pool-key.js';

export interface SocksAgentOptions extends Omit<ConnectOptions, 'destination' | 'command' | 'socket' | 'onBound' | 'keepHead'> {
  /** http.Agent options (keepAlive, maxSockets, ...). */
  agent?: http.AgentOptions;
  /**
   * The scheme assumed for a request that names none (default: the calling
   * module's, http.request or https.request). The agent serves both.
   */
  protocol?: 'http:' | 'https:';
  /** TLS options for https (ca, rejectUnauthorized, servername, ...); request options override them. */
  tls?: tls.ConnectionOptions;
}

/** What http.Agent hands to getName() and createConnection(): the request options, TLS ones included. */
export type SocksAgentRequestOptions = http.ClientRequestArgs & tls.ConnectionOptions & { _defaultAgent?: http.Agent; servername?: string };

export class SocksAgent extends http.Agent {
  readonly socksOptions: SocksAgentOptions;

  /** Throws LocalProtocolError for a bad proxy URL, scheme or option, before any request. */
  constructor(options: SocksAgentOptions) {
    checkConnectOptions(options);
    if (options.protocol !== undefined && options.protocol !== 'http:' && options.protocol !== 'https:') throw new LocalProtocolError(`protocol must be 'http:' or 'https:', not ${String(options.protocol)}`);
    super(options.agent);
    this.socksOptions = options;
    // http.Agent's constructor sets both as own properties; answer them per request instead.
    Object.defineProperty(this, 'protocol', { configurable: true, enumerable: true, get: () => undefined });
    Object.defineProperty(this, 'defaultPort', { configurable: true, enumerable: true, get: () => (calledFromHttps() ? 443 : 80) });
  }

  /**
   * http.Agent's pool key, with the scheme (http and https never share a
   * socket) and, for https, every TLS term the socket was made under: a
   * request is only served on a socket that authenticated the server (and
   * itself) exactly as this request asks (tls-pool-key.ts).
   */
  override getName(options: SocksAgentRequestOptions = {}): string {
    const name = super.getName(options);
    if (!this.isSecure(options)) return `${name}:http`;
    const host = stripBrackets(options.hostname ?? options.host ?? 'localhost');
    return `${name}:https:${tlsPoolKey({ ...this.socksOptions.tls, ...pickTls(options), servername: this.servername(options, host) })}`;
  }

  /** The SNI name sent (and checked): `tls.servername`, the request's, or the host when it is a name. */
  private servername(options: SocksAgentRequestOptions, host: string): string | undefined {
    return this.socksOptions.tls?.servername || options.servername || (net.isIP(host) ? undefined : host);
  }

  /** Called by http.Agent for each new connection; answers through the callback. */
  override createConnection(options: SocksAgentRequestOptions, callback: (err: Error | null, socket?: Duplex) => void): undefined {
    const secure = this.isSecure(options);
    const host = stripBrackets(options.hostname ?? options.host ?? 'localhost');
    const port = Number(options.port) || (secure ? 443 : 80);
    const { protocol: _p, tls: tlsOptions, agent: _a, ...socks } = this.socksOptions;
    connect({ ...socks, destination: { host, port } }).then(({ socket }) => {
      if (!secure) {
        callback(null, asSocket(socket));
        return;
      }
      // `host` is what the certificate is checked against (with servername when one is sent).
      const servername = this.servername(options, host);
      let secureSocket;
      try {
        secureSocket = tls.connect({
          ...tlsOptions,
          ...pickTls(options),
          host,
          socket: asSocket(socket),
          servername,
        });
      } catch (err) {
        // tls.connect() throws on bad options: this request fails, not the process.
        socket.destroy();
        callback(err as Error);
        return;
      }
      callback(null, secureSocket);
    }, (err: Error) => callback(err));
    return undefined;
  }

  private isSecure(o: SocksAgentRequestOptions): boolean {
    const protocol = o.protocol ?? (o._defaultAgent as { protocol?: string } | undefined)?.protocol ?? this.socksOptions.protocol;
    return protocol === 'https:';
  }
}

/** Whether the request being built comes from node:https (http.request reads defaultPort while constructing it). */
function calledFromHttps(): boolean {
  const stack = new Error().stack ?? '';
  return /\bnode:https:|\(https\.js:/.test(stack);
}

function pickTls(o: SocksAgentRequestOptions): tls.ConnectionOptions {
  const out: Record<string, unknown> = {};
  for (const k of TLS_KEYS) if ((o as Record<string, unknown>)[k] !== undefined) out[k] = (o as Record<string, unknown>)[k];
  return out as tls.ConnectionOptions;
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}
