/** The /metrics HTTP endpoint and the SIGUSR1 counters line. */
import http from 'node:http';
import net from 'node:net';
import { formatAddress } from '../protocol/codec/address.js';
import type { MetricsSnapshot, SeriesDef, SeriesValue } from '../server/index.js';
import { isLoopback, type HostPort } from './values.js';

/** Connections the endpoint holds at once: a scraper needs one; the rest wait or retry. */
export const METRICS_MAX_CONNECTIONS = 8;

/**
 * Serves GET /metrics (Prometheus text) from `snapshot`. `onListening` gets
 * the address as text; `onError` a listen failure as one readable error.
 */
export function serveMetrics(at: HostPort, snapshot: () => Promise<string>, on: { listening(where: string): void; error(err: Error): void }): http.Server {
  // Bounded like the SOCKS side: a few connections, each given a few seconds
  // to send its request, so idle connections cannot take the descriptors the
  // connection limit was computed from (METRICS_MAX_CONNECTIONS is kept back there).
  const web = http.createServer({ headersTimeout: 5000, requestTimeout: 10000, keepAliveTimeout: 5000, connectionsCheckingInterval: 1000 }, (req, res) => {
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
  web.maxConnections = METRICS_MAX_CONNECTIONS;
  // headersTimeout only runs once a request has begun: a connection that sends nothing ends on this one.
  web.timeout = 5000;
  web.on('error', (err) => on.error(new Error(`cannot serve --metrics on ${at.host}:${at.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
  web.listen(at.port, at.host, () => on.listening(addressText(web.address() as net.AddressInfo)));
  return web;
}

/** A listening address as HOST:PORT ([V6]:PORT). */
export function addressText(a: net.AddressInfo): string {
  return formatAddress({ type: a.family === 'IPv6' ? 'ipv6' : 'ipv4', host: a.address, port: a.port });
}

/** The start-up warning for an endpoint beyond loopback (the counters tell who uses the proxy, and how much). */
export function metricsWarning(at: HostPort | undefined): string | undefined {
  if (!at || isLoopback(at.host)) return undefined;
  return `--metrics ${formatAddress({ type: net.isIPv6(at.host) ? 'ipv6' : 'ipv4', host: at.host, port: at.port })} is not loopback: anyone who reaches it reads the counters (who connects, how much, which errors); bind it to 127.0.0.1 or firewall it`;
}

/** The primary's own series with --workers. */
export const WORKERS_SERIES: Record<string, SeriesDef> = {
  workers: { name: 'sockskit_workers', type: 'gauge', help: 'Worker processes answering (with --workers).' },
};

/** Adds `from` into `into`, numbers and per-label records alike (workers' extraStats). */
export function sumExtras(into: Record<string, SeriesValue>, from: Record<string, SeriesValue>): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (typeof v === 'number') into[k] = (typeof cur === 'number' ? cur : 0) + v;
    else {
      const rec: Record<string, number> = typeof cur === 'object' ? cur : {};
      for (const [l, n] of Object.entries(v)) rec[l] = (rec[l] ?? 0) + n;
      into[k] = rec;
    }
  }
}

/** The one JSON line SIGUSR1 prints. */
export function statsLine(s: MetricsSnapshot, extra: Record<string, SeriesValue>): string {
  const { accepted, refused, open, tunnels, tunnelsOpen, handoffs, bytesUp, bytesDown, noDescriptor, healthChecks, errors, errorCodes, handshakes, authFailures } = s;
  const errorClasses = Object.fromEntries(Object.entries(errors).filter(([, n]) => n > 0));
  const logins = s.logins && Object.keys(s.logins).length > 0 ? { logins: s.logins } : {};
  return JSON.stringify({ accepted, refused, open, tunnels, tunnelsOpen, handoffs, bytesUp, bytesDown, noDescriptor, healthChecks, handshakes, authFailures, ...logins, errors: errorCodes, errorClasses, ...extra });
}
