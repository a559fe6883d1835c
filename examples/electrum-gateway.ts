#!/usr/bin/env node
/**
 * sockskit-electrum-gateway: puts bwt-style token authentication (a SOCKS5
 * handshake that only proves the token) in front of a plain Electrum server.
 * Electrum, ncat, OpenBSD nc and the raw byte string all work as clients;
 * each authenticated connection is piped to --backend with the bytes that
 * came with the handshake first.
 *
 * The gateway itself is gatewayProgram() from sockskit/service; this file
 * adds what is particular to the program: --print-token, a first probe of
 * the backend, and the status page behind HTTP Basic (--http).
 */
import cluster from 'node:cluster';
import http from 'node:http';
import type net from 'node:net';
import createDebug from 'debug';
import { basicAuthGuard } from '../lib/index.js';
import { gatewayProgram, gatewayStatus, hostPortText, packageVersion, runService, type GatewayConfig, type ServiceCounters } from '../lib/service/index.js';
import { runMain } from './cli.js';

const PROG = 'sockskit-electrum-gateway';
const debug = createDebug('sockskit:electrum-gateway');

/** One connection attempt at start: a dead backend is said at once (the gateway keeps running). */
function checkBackend(cfg: GatewayConfig): void {
  const sock = cfg.dialBackend();
  sock.once('error', () => process.stderr.write(`${PROG}: warning: the backend ${cfg.backendLabel} is not reachable now; clients will fail until it is\n`));
  sock.once('connect', () => sock.destroy());
  sock.once('secureConnect', () => sock.destroy());
}

/**
 * GET / (or /status): the counters as JSON, behind HTTP Basic with the token
 * in force (it may rotate on SIGHUP) as password. Served where the counters
 * are whole: the one process, or the primary with --workers (summed).
 */
function serveStatus(current: () => GatewayConfig, counters: () => Promise<ServiceCounters>, fatal: (err: Error) => void): void {
  const cfg = current();
  const httpAt = cfg.httpAt!;
  const web = http.createServer(
    basicAuthGuard(() => current().token, (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || (path !== '/' && path !== '/status')) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      counters().then(
        ({ extra }) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ program: PROG, version: packageVersion(), ...gatewayStatus(current(), extra) }) + '\n'),
        () => res.writeHead(500).end(),
      );
    }, { onFailure: () => debug('HTTP request without a valid token') }),
  );
  web.on('error', fatal);
  web.listen(httpAt.port, httpAt.host, () => {
    const a = web.address() as net.AddressInfo;
    process.stderr.write(`${PROG}: http status on ${hostPortText({ host: a.address, port: a.port })}\n`);
  });
}

runMain(PROG, () => {
  const gateway = gatewayProgram();
  let fatal: (err: Error) => void = () => {};
  let inForce: GatewayConfig | undefined;
  const failed = new Promise<never>((_, reject) => (fatal = reject));
  const running = runService({
    ...gateway,
    before: (cfg) => {
      if (cfg.printToken && cluster.isPrimary) process.stdout.write(`${cfg.token}\n`);
    },
    onStarted: (cfg) => checkBackend(cfg),
    onServing: (cfg, counters) => {
      inForce = cfg;
      if (cfg.httpAt) serveStatus(() => inForce!, counters, fatal);
    },
    onReloaded: (cfg) => {
      inForce = cfg;
    },
  });
  return Promise.race([running, failed]);
});
