/**
 * CONNECT for SocksServer (RFC 1928 §4, SOCKS4 CONNECT): the default
 * CommandHandler for the main command. Resolves the destination through the
 * server's lookup and rules, races the allowed addresses (Happy Eyeballs,
 * RFC 8305), answers with the real local address of the outbound socket and
 * relays. One timer (connectTimeout) bounds lookup and race together and
 * answers 06 when it fires.
 */
import type net from 'node:net';
import createDebug from 'debug';
import { TimeoutError, replyFromErrno } from '../../protocol/errors.js';
import { formatAddress, fromNodeAddress } from '../../protocol/codec/address.js';
import { printable } from '../../protocol/printable.js';
import { race } from '../../transport/happy-eyeballs.js';
import { dial } from '../../transport/socket-reader.js';
import type { CommandHandler, ConnectionControl } from '../types.js';
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
      .resolveAll(dest, ac.signal)
      .then((candidates) => race({ candidates, port: dest.port, allowHalfOpen: true, attemptDelay: o.happyEyeballsDelay, localAddress: o.outboundAddress, signal: ac.signal, connect: dial }))
      .then((sock) => {
        if (over) return void sock.destroy();
        if (isSelfConnect(sock)) {
          sock.destroy();
          fail(Object.assign(new Error(`connect ECONNREFUSED ${sock.remoteAddress}:${dest.port} (self-connect)`), { code: 'ECONNREFUSED' }));
          return;
        }
        over = true;
        clearTimeout(timer);
        conn.offClose(fail);
        conn.dialled(fromNodeAddress(sock.remoteAddress!, sock.remotePort!));
        if (o.keepAlive !== false) sock.setKeepAlive(true, o.keepAlive ?? DEFAULTS.keepAlive);
        const r = conn.reply(fromNodeAddress(sock.localAddress!, sock.localPort!));
        conn.relay(r.socket, sock, r.head);
        done();
      }, fail)
      .catch(crash);
  });
}

/** TCP self-connect (an ephemeral destination port where nothing listens can connect to itself): nobody is there. */
function isSelfConnect(sock: net.Socket): boolean {
  return sock.localPort === sock.remotePort && sock.localAddress === sock.remoteAddress;
}
