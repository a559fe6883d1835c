/** The /metrics HTTP endpoint and the SIGUSR1 counters line. */
import http from 'node:http';
import type net from 'node:net';
import { formatAddress } from '../protocol/codec/address.js';
import type { MetricsSnapshot } from '../server/index.js';
import type { HostPort } from './values.js';

/**
 * Serves GET /metrics (Prometheus text) from `snapshot`. `onListening` gets
 * the address as text; `onError` a listen failure as one readable error.
 */
export function serveMetrics(at: HostPort, snapshot: () => Promise<string>, on: { listening(where: string): void; error(err: Error): void }): http.Server {
  const web = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    snapshot().then(
      (body) => res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  web.on('error', (err) => on.error(new Error(`cannot serve --metrics on ${at.host}:${at.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
  web.listen(at.port, at.host, () => on.listening(addressText(web.address() as net.AddressInfo)));
  return web;
}

/** A listening address as HOST:PORT ([V6]:PORT). */
export function addressText(a: net.AddressInfo): string {
  return formatAddress({ type: a.family === 'IPv6' ? 'ipv6' : 'ipv4', host: a.address, port: a.port });
}

/** Program counters as metric names: authFailures -> sockskit_auth_failures. */
export function metricNames(extra: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(extra).map(([k, n]) => [`sockskit_${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, n]));
}

/** The one JSON line SIGUSR1 prints. */
export function statsLine(s: MetricsSnapshot, extra: Record<string, number>): string {
  const { accepted, refused, open, tunnels, tunnelsOpen, handoffs, bytesUp, bytesDown, noDescriptor, errors, errorCodes, handshakes, authFailures } = s;
  const errorClasses = Object.fromEntries(Object.entries(errors).filter(([, n]) => n > 0));
  const logins = s.logins && Object.keys(s.logins).length > 0 ? { logins: s.logins } : {};
  return JSON.stringify({ accepted, refused, open, tunnels, tunnelsOpen, handoffs, bytesUp, bytesDown, noDescriptor, handshakes, authFailures, ...logins, errors: errorCodes, errorClasses, ...extra });
}
