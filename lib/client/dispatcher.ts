/**
 * An undici Dispatcher whose every connection is a SOCKS tunnel, for
 * Node's global fetch() (which ignores `agent`) and undici's own request API:
 *
 *   import { socksDispatcher } from 'sockskit/undici';
 *   fetch(url, { dispatcher: socksDispatcher('socks5h://user:pw@127.0.0.1:1080') })
 *
 * It is an undici Agent with a `connect` function: connect() opens the
 * tunnel (one proxy or a chain, any method), then for https: undici's own
 * connector runs TLS over it (ALPN, session cache, servername as usual).
 *
 * undici (major 6 or later) is an optional peer dependency, loaded on first
 * use so the rest of sockskit works without it. The declarations import
 * undici's own types (type-only), so the Agent returned is the one of the
 * undici the user installed; that is why this lives behind its own export,
 * `sockskit/undici`: the main entry's declarations never name undici.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import { LocalProtocolError } from '../protocol/errors.js';
import { connect, checkConnectOptions, type ConnectOptions, type ProxySpec } from './connect.js';
import { asSocket } from './socket-like.js';

export interface SocksDispatcherOptions extends Omit<ConnectOptions, 'proxy' | 'destination' | 'command' | 'socket' | 'onBound' | 'keepHead'> {
  /** TLS options for https origins (ca, rejectUnauthorized, servername, ...), as undici's `connect` takes them. */
  tls?: Undici.buildConnector.BuildOptions;
  /** undici Agent options (connections, keepAliveTimeout, pipelining, ...); `connect` is ours. */
  agent?: Omit<Undici.Agent.Options, 'connect'>;
}

/**
 * The Dispatcher type of the global fetch()'s RequestInit, whichever copy of
 * undici's types declares it (@types/node's own); unknown where RequestInit
 * has no `dispatcher` (the DOM lib). The Agent returned is also typed as
 * this, so `fetch(url, { dispatcher })` compiles as well as
 * `undici.fetch(url, { dispatcher })`: at run time Node's fetch takes an
 * Agent of the npm undici (the fetch specs run it for each major).
 */
export type GlobalFetchDispatcher = RequestInit extends { dispatcher?: infer D } ? NonNullable<D> : unknown;

/** What socksDispatcher() returns: an Agent of the installed undici, usable by the global fetch too. */
export type SocksDispatcher = Undici.Agent & GlobalFetchDispatcher;

type UndiciModule = typeof Undici;
let undici: UndiciModule | undefined;

function loadUndici(): UndiciModule {
  if (undici) return undici;
  try {
    undici = createRequire(import.meta.url)('undici') as UndiciModule;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND') throw new LocalProtocolError('socksDispatcher() needs the undici package (npm install undici)');
    // Installed but does not load: most often a major that needs a newer Node (undici 8 needs Node >= 22.19).
    throw new LocalProtocolError(`undici does not load on Node ${process.versions.node} (check its "engines"): ${e.message}`);
  }
  return undici;
}

/**
 * An undici Agent that reaches every origin through `proxy` (a URL, a config
 * object, or a chain as a list). Credentials in a URL select
 * username/password; `methods` adds any other method. Bad proxies or options
 * throw LocalProtocolError here, before any request.
 */
export function socksDispatcher(proxy: ProxySpec | readonly ProxySpec[], options: SocksDispatcherOptions = {}): SocksDispatcher {
  checkConnectOptions({ ...options, proxy });
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
  return new Agent({ ...agent, connect: connector }) as SocksDispatcher;
}
