/**
 * An http.Agent that opens each connection through a SOCKS proxy (or chain)
 * with connect(); for https it runs TLS over the tunnel.
 *
 *   http.get('http://127.0.0.1:8080/', { agent: new SocksAgent({ proxy }) })
 *   https.get(url, { agent: new SocksAgent({ proxy, protocol: 'https:' }) })
 *
 * http.request insists that agent.protocol matches the URL's scheme, so one
 * agent serves one scheme. Keep-alive and pooling are http.Agent's own.
 */
import http from 'node:http';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { connect, ConnectOptions } from './connect.js';

export interface SocksAgentOptions extends Omit<ConnectOptions, 'destination' | 'command' | 'socket' | 'onBound'> {
  /** http.Agent options (keepAlive, maxSockets, ...). */
  agent?: http.AgentOptions;
  /** 'http:' (default) or 'https:' (TLS over the tunnel, SNI from the request's host). */
  protocol?: 'http:' | 'https:';
  /** Extra TLS options for https (ca, rejectUnauthorized, ...); request options override them. */
  tls?: tls.ConnectionOptions;
}

type CreateConnectionOptions = http.ClientRequestArgs & tls.ConnectionOptions & { host?: string; port?: number | string; servername?: string };

export class SocksAgent extends http.Agent {
  readonly socksOptions: SocksAgentOptions;
  declare protocol: string;

  constructor(options: SocksAgentOptions) {
    super(options.agent);
    this.socksOptions = options;
    this.protocol = options.protocol ?? 'http:';
    (this as unknown as { defaultPort: number }).defaultPort = this.protocol === 'https:' ? 443 : 80;
  }

  /** Called by http.Agent for each new connection; answers through the callback. */
  override createConnection(options: CreateConnectionOptions, callback: (err: Error | null, socket?: Duplex) => void): undefined {
    const host = stripBrackets(options.hostname ?? options.host ?? 'localhost');
    const port = Number(options.port ?? (this.protocol === 'https:' ? 443 : 80));
    const { protocol: _p, tls: tlsOptions, agent: _a, ...socks } = this.socksOptions;
    connect({ ...socks, destination: { host, port } }).then(({ socket, head }) => {
      if (head.length) socket.unshift(head);
      if (this.protocol !== 'https:') {
        callback(null, socket);
        return;
      }
      let secure;
      try {
        secure = tls.connect({
          ...tlsOptions,
          ...pickTls(options),
          socket: socket as Socket,
          servername: options.servername ?? (isIp(host) ? undefined : host),
        });
      } catch (err) {
        // tls.connect() throws on bad options: this request fails, not the process.
        socket.destroy();
        callback(err as Error);
        return;
      }
      callback(null, secure);
    }, (err: Error) => callback(err));
    return undefined;
  }
}

const TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'checkServerIdentity', 'minVersion', 'maxVersion', 'ciphers', 'ALPNProtocols', 'session'] as const;

function pickTls(o: CreateConnectionOptions): tls.ConnectionOptions {
  const out: Record<string, unknown> = {};
  for (const k of TLS_KEYS) if ((o as Record<string, unknown>)[k] !== undefined) out[k] = (o as Record<string, unknown>)[k];
  return out as tls.ConnectionOptions;
}

function stripBrackets(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function isIp(h: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(':');
}
