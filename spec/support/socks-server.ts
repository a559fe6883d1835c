/**
 * The one way specs start a SocksServer: on a loopback port of its own,
 * collecting its client errors (which also keeps them off the console), with
 * a bounded close. The spec files' own startServer() helpers are thin
 * wrappers that add the server to their cleanup lists.
 */
import type net from 'node:net';
import { SocksServer, type SocksServerOptions } from '../../lib/server/server.js';
import type { SocksError } from '../../lib/protocol/errors.js';

export interface StartedServer {
  server: SocksServer;
  port: number;
  /** Every 'clientError' so far. */
  errors: SocksError[];
  /** Closes the server and every connection; resolves within a second even if a socket lingers. */
  close(): Promise<void>;
}

/** Options every server started from now on gets under its own (eachRelayPath() sets the relay path). */
let defaults: SocksServerOptions = {};
export function setServerDefaults(o: SocksServerOptions): void {
  defaults = o;
}

export async function startSocksServer(options: SocksServerOptions = {}, host = '127.0.0.1', track?: SocksServer[]): Promise<StartedServer> {
  const server = new SocksServer({ ...defaults, ...options });
  const errors: SocksError[] = [];
  server.on('clientError', (e: SocksError) => errors.push(e));
  track?.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const close = (): Promise<void> =>
    new Promise<void>((r) => {
      server.close(() => r());
      setTimeout(r, 1000).unref();
    });
  return { server, port: (server.address() as net.AddressInfo).port, errors, close };
}
