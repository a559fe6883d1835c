#!/usr/bin/env node
/**
 * sockskit-connect: a tunnel through a SOCKS proxy (or a chain) for the shell,
 * like `ncat --proxy`. stdin goes to HOST:PORT and the replies to stdout; with
 * -L, a local port whose every connection gets its own tunnel.
 *
 * Built on the public client API (connect()); the flags, their parser and
 * the methods they configure are in sockskit/service (connect-options).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { connect } from '../lib/index.js';
import { CONNECT_HELP, describeConnectError, packageVersion, parseConnectArgs, type ConnectPlan } from '../lib/service/index.js';
import { runMain } from './cli.js';

const PROG = 'sockskit-connect';
type Tunnel = { socket: Duplex; head: Buffer };

/** NO_PROXY matched: a plain TCP connection to HOST:PORT, with the same deadline. */
function connectDirect(o: ConnectPlan, signal?: AbortSignal): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress, allowHalfOpen: true });
    const timer = setTimeout(() => fail(new Error(`connect to ${o.host}:${o.port} timed out after ${o.timeout} ms`)), o.timeout);
    const onAbort = () => fail(signal!.reason);
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: unknown) => {
      settle();
      sock.destroy();
      reject(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('error', fail);
    sock.once('connect', () => {
      settle();
      sock.off('error', fail);
      if (o.keepAlive) sock.setKeepAlive(true);
      resolve({ socket: sock, head: Buffer.alloc(0) });
    });
  });
}

function openTunnel(o: ConnectPlan, signal?: AbortSignal): Promise<Tunnel> {
  if (o.proxies.length === 0) return connectDirect(o, signal);
  const { proxies: proxy, timeout, methods, localAddress, keepAlive } = o;
  return connect({ proxy, destination: { host: o.host, port: o.port }, methods, connectTimeout: timeout, handshakeTimeout: timeout, signal, localAddress, keepAlive });
}

/** stdin to the tunnel (half-closed when stdin ends), the tunnel to stdout. */
async function runStdio(o: ConnectPlan): Promise<number> {
  const { socket, head } = await openTunnel(o);
  return new Promise<number>((resolve) => {
    let failed = false;
    socket.on('error', (err) => {
      failed = true;
      process.stderr.write(`${PROG}: ${describeConnectError(err, o.proxies)}\n`);
      resolve(1);
    });
    // A closed stdout (`| head`) is a normal way to stop reading.
    process.stdout.on('error', () => resolve(0));
    if (head.length) process.stdout.write(head);
    process.stdin.pipe(socket);
    socket.pipe(process.stdout, { end: false });
    // Flush stdout before reporting success.
    socket.on('end', () => failed || process.stdout.write('', () => resolve(0)));
  });
}

/** Relays both ways with half-close; either side's error or close ends both. */
function pipeBoth(client: net.Socket, tunnel: Duplex, head: Buffer): void {
  if (head.length) client.write(head);
  client.pipe(tunnel);
  tunnel.pipe(client);
  const kill = () => { client.destroy(); tunnel.destroy(); };
  client.on('error', kill);
  tunnel.on('error', kill);
  client.on('close', () => tunnel.destroy());
  tunnel.on('close', () => client.destroy());
  client.resume();
}

/** -L: every connection to the local port gets its own tunnel; INT/TERM close them all. */
function runListen(o: ConnectPlan, listen: { host: string; port: number }): Promise<number> {
  const clients = new Set<net.Socket>();
  return new Promise<number>((resolve) => {
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      const ac = new AbortController();
      clients.add(client);
      client.on('error', () => ac.abort());
      client.on('close', () => (clients.delete(client), ac.abort()));
      client.pause();
      openTunnel(o, ac.signal).then(({ socket, head }) => pipeBoth(client, socket, head), (err) => {
        if (!ac.signal.aborted) process.stderr.write(`${PROG}: ${describeConnectError(err, o.proxies)}\n`);
        client.destroy();
      });
    });
    server.on('error', (err) => {
      process.stderr.write(`${PROG}: cannot listen on ${listen.host}:${listen.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`);
      resolve(1);
    });
    server.listen(listen.port, listen.host, () => {
      const a = server.address() as net.AddressInfo;
      process.stderr.write(`${PROG}: listening on ${a.address}:${a.port}\n`);
    });
    // server.close() alone would wait for the tunnels; pipeBoth closes each with its client.
    const stop = () => {
      server.close();
      for (const c of clients) c.destroy();
      resolve(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseConnectArgs(argv);
  if (parsed.kind !== 'run') {
    process.stdout.write(parsed.kind === 'help' ? CONNECT_HELP : `${PROG} ${packageVersion()}\n`);
    return 0;
  }
  const o = parsed.options;
  try {
    return o.listen ? await runListen(o, o.listen) : await runStdio(o);
  } catch (err) {
    process.stderr.write(`${PROG}: ${describeConnectError(err, o.proxies)}\n`);
    return 1;
  }
}

runMain(PROG, () => main(process.argv.slice(2)));
