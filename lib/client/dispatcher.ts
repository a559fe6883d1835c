/**
 * An undici Dispatcher whose every connection is a SOCKS tunnel, for
 * Node's global fetch() (which ignores `agent`) and undici's own request API:
 *
 *   fetch(url, { dispatcher: socksDispatcher('socks5h://user:pw@127.0.0.1:1080') })
 *
 * It is an undici Agent with a `connect` function: connect() opens the
 * tunnel (one proxy or a chain, any method), then for https: undici's own
 * connector runs TLS over it (ALPN, session cache, servername as usual).
 *
 * undici is an optional peer dependency, loaded on first use so that the
 * rest of sockskit works without it. The types come from undici-types (what
 * @types/node describes fetch with), so declarations resolve without undici. Majors 6 (bundled with Node 20 and 22)
 * and 7 (Node 24, and installable on Node >= 20.18.1) are supported; an
 * Agent from the npm package works with Node's global fetch.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici-types';
import { LocalProtocolError } from '../protocol/errors.js';
import { connect, type ConnectOptions, type ProxySpec } from './connect.js';
import { asSocket } from './socket-like.js';

export interface SocksDispatcherOptions extends Omit<ConnectOptions, 'proxy' | 'destination' | 'command' | 'socket' | 'onBound' | 'keepHead'> {
  /** TLS options for https origins (ca, rejectUnauthorized, servername, ...), as undici's `connect` takes them. */
  tls?: Undici.buildConnector.BuildOptions;
  /** undici Agent options (connections, keepAliveTimeout, pipelining, ...); `connect` is ours. */
  agent?: Omit<Undici.Agent.Options, 'connect'>;
}

type UndiciModule = typeof Undici;
let undici: UndiciModule | undefined;

function loadUndici(): UndiciModule {
  if (undici) return undici;
  try {
    undici = createRequire(import.meta.url)('undici') as UndiciModule;
  } catch (err) {
    throw new LocalProtocolError(`socksDispatcher() needs the undici package (npm install undici): ${(err as Error).message}`);
  }
  return undici;
}

/**
 * An undici Agent that reaches every origin through `proxy` (a URL, a config
 * object, or a chain as a list). Credentials in a URL select
 * username/password; `methods` adds any other method.
 */
export function socksDispatcher(proxy: ProxySpec | readonly ProxySpec[], options: SocksDispatcherOptions = {}): Undici.Agent {
  const { Agent, buildConnector } = loadUndici();
  const { tls, agent, ...socks } = options;
  const secure = buildConnector({ ...tls });
  const connector: Undici.buildConnector.connector = (opts, callback) => {
    const https = opts.protocol === 'https:';
    const port = Number(opts.port) || (https ? 443 : 80);
    connect({ ...socks, proxy, destination: { host: opts.hostname, port } }).then(({ socket }) => {
      const tunnel = asSocket(socket);
      if (https) secure({ ...opts, httpSocket: tunnel }, callback);
      else callback(null, tunnel);
    }, (err: Error) => callback(err, null));
  };
  return new Agent({ ...agent, connect: connector });
}
