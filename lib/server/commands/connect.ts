/**
 * CONNECT for SocksServer (RFC 1928 §4, SOCKS4 CONNECT): the default
 * CommandHandler for the main command. Resolves the destination through the
 * server's lookup and rules, races the allowed addresses (Happy Eyeballs,
 * RFC 8305), answers with the real local address of the outbound socket and
 * relays; or, when the rules or the server route it to an upstream proxy,
 * opens the tunnel through that upstream. One timer (connectTimeout) bounds lookup and race together and
 * answers 06 when it fires.
 */
import type net from 'node:net';
import createDebug from 'debug';
import { SocksError, TimeoutError, replyFromErrno } from '../../protocol/errors.js';
import { Reply } from '../../protocol/constants.js';
import { formatAddress, fromNodeAddress, type SocksAddress } from '../../protocol/codec/address.js';
import { printable } from '../../protocol/printable.js';
import { race } from '../../transport/happy-eyeballs.js';
import { dial } from '../../transport/socket-reader.js';
import type { Duplex } from 'node:stream';
import type { Candidate } from '../../transport/happy-eyeballs.js';
import type { CommandHandler, ConnectionControl, Upstream } from '../types.js';
import { DEFAULTS } from '../defaults.js';

const debug = createDebug('sockskit:server');

/** The default CONNECT (what `connect` in SocksServerOptions defaults to). */
export function connectHandler(): CommandHandler {
  return runConnect;
}

function runConnect(conn: ConnectionControl): Promise<void> {
  const dest = conn.request.destination;
  const o = conn.options;
  const ms = o.connectTimeout ?? DEFAULTS.connectTimeout;
  const ac = new AbortController();
  return new Promise<void>((done, crash) => {
    let over = false;
    const fail = (err?: unknown): void => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      conn.offClose(fail);
      ac.abort(err);
      if (err) {
        debug('connect %s failed: %s', formatAddress(dest), (err as NodeJS.ErrnoException).code ?? printable(String((err as Error)?.message)));
        conn.deny(replyFromErrno(err), err);
      }
      done();
    };
    const timer = setTimeout(() => fail(new TimeoutError('connect', ms)), ms);
    conn.onClose(fail);
    conn
      .route(dest, ac.signal)
      .then((route) => (route.via === 'direct' ? dialDirect(conn, route.candidates, ac.signal) : dialUpstream(conn, route.via, route.destination, ac.signal)))
      .then((out) => {
        if (over) return void out.socket.destroy();
        over = true;
        clearTimeout(timer);
        conn.offClose(fail);
        conn.dialled(out.dialled, out.via);
        const r = conn.reply(out.bound);
        conn.relay(r.socket, out.socket, r.head);
        done();
      }, fail)
      .catch(crash);
  });
}

interface Dialled {
  socket: Duplex;
  /** BND of the reply. */
  bound: SocksAddress;
  dialled?: SocksAddress;
  via?: Upstream;
}

/** Races the allowed addresses (Happy Eyeballs); the reply names the outbound socket's local address. */
async function dialDirect(conn: ConnectionControl, candidates: Candidate[], signal: AbortSignal): Promise<Dialled> {
  const o = conn.options;
  const sock = await race({ candidates, port: conn.request.destination.port, allowHalfOpen: true, attemptDelay: o.happyEyeballsDelay, localAddress: o.outboundAddress, signal, connect: dial });
  if (isSelfConnect(sock)) {
    sock.destroy();
    throw Object.assign(new Error(`connect ECONNREFUSED ${sock.remoteAddress}:${sock.remotePort} (self-connect)`), { code: 'ECONNREFUSED' });
  }
  if (o.keepAlive !== false) sock.setKeepAlive(true, o.keepAlive ?? DEFAULTS.keepAlive);
  return { socket: sock, bound: fromNodeAddress(sock.localAddress!, sock.localPort!), dialled: fromNodeAddress(sock.remoteAddress!, sock.remotePort!) };
}

/** Through an upstream proxy (chain): the reply names what the last proxy bound. */
async function dialUpstream(conn: ConnectionControl, via: Upstream, destination: SocksAddress, signal: AbortSignal): Promise<Dialled> {
  const o = conn.options;
  debug('connect %s via %s', formatAddress(destination), via.name);
  const sent = destination.type === 'domain' ? undefined : destination;
  // Noted before dialling: a failure's record names the hop (and the address sent) too.
  conn.dialled(sent, via);
  const t = await via.connect(destination, { signal, localAddress: o.outboundAddress, lookup: o.lookup, keepAlive: o.keepAlive ?? DEFAULTS.keepAlive }).catch((err: unknown) => {
    throw upstreamFailure(err, via);
  });
  return { socket: t.socket, bound: t.bound, dialled: sent, via };
}

/**
 * An upstream's SOCKS5 failure reply is passed on as it is; anything else it
 * says (a SOCKS4 code, a refused login, broken bytes) is a general failure
 * (01) here: our client could not act on the upstream's own problem.
 */
function upstreamFailure(err: unknown, via: Upstream): unknown {
  if (!(err instanceof SocksError) || err.code === 'ERR_SOCKS_TIMEOUT' || err.code === 'ERR_SOCKS_BAD_ADDRESS') return err;
  const rep = err.reply;
  if ((err as { version?: number }).version === 5 && rep !== undefined && rep >= 1 && rep <= 8) return err;
  return new SocksError('ERR_SOCKS_DENIED', `upstream ${via.name}: ${err.message}`, Reply.GeneralFailure, { cause: err });
}

/** TCP self-connect (an ephemeral destination port where nothing listens can connect to itself): nobody is there. */
function isSelfConnect(sock: net.Socket): boolean {
  return sock.localPort === sock.remotePort && sock.localAddress === sock.remoteAddress;
}
