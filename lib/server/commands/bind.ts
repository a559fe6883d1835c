/**
 * BIND for SocksServer (RFC 1928 §4/§6, SOCKS4 "BIND"): a CommandHandler.
 *
 *   client ── BIND DST=expected peer ──▶ server listens on the interface the
 *   client reached (or `external`)
 *   ◀── reply 1: BND = listening address and port
 *   peer ──connects──▶ listener (a peer that fails `acceptPeer` is closed)
 *   ◀── reply 2: BND = the peer's address and port, then relay like CONNECT
 *
 * SOCKS4 replies are `00 5A port ip` twice; failures `00 5B`, SOCKS5 REP 06
 * (deadline) or 02 (wrong peer with wrongPeer: 'fail').
 *
 * Wrong peers: by default the connection is closed and the server keeps
 * waiting until the deadline. The SOCKS4 text says a mismatch fails the BIND
 * (91 = 5B) and closes both; RFC 1928 says nothing. Waiting means a stray
 * connection (a port scanner) cannot kill a legitimate BIND. `wrongPeer:
 * 'fail'` gives the SOCKS4 text's behaviour (SOCKS5 gets REP 02).
 *
 * The listener is closed on every path: first accepted peer, deadline,
 * failure, client gone.
 */
import net from 'node:net';
import createDebug from 'debug';
import { Reply } from '../../protocol/constants.js';
import { SocksError, TimeoutError, replyFromErrno } from '../../protocol/errors.js';
import { SocksAddress, fromNodeAddress, formatAddress, isZeroAddress, isUnspecified, makeAddress, hostType } from '../../protocol/codec/address.js';
import type { CommandHandler, ConnectionControl } from '../types.js';
import { DEFAULTS } from '../defaults.js';

const debug = createDebug('sockskit:bind');

export interface BindOptions {
  /**
   * Address to listen on and to advertise in the first reply. Default: the
   * local address of the client's TCP connection (the interface it reached).
   * A wildcard (0.0.0.0, ::) listens everywhere but advertises that local
   * address, never the wildcard.
   */
  external?: string | ((conn: ConnectionControl) => string);
  /** Milliseconds to wait for the peer (default DEFAULTS.bindTimeout, 60 000); then a failure reply (SOCKS5 REP 06, SOCKS4 5B). */
  timeout?: number;
  /**
   * Decides whether a connecting peer is the expected one. Default: its
   * address equals the request's DST.ADDR (resolved if a name), an all-zeros
   * DST.ADDR accepting any address; the port is compared only with
   * `matchPort` (FTP's data connection comes from port 20, not the DST.PORT 21).
   */
  acceptPeer?: (peer: SocksAddress, expected: SocksAddress, conn: ConnectionControl) => boolean;
  /** Also require the peer's port to equal a non-zero DST.PORT (default false). */
  matchPort?: boolean;
  /** What a wrong peer does to the BIND: 'wait' (default: close the peer, keep waiting) or 'fail' (reply 02/5B, close both). */
  wrongPeer?: 'wait' | 'fail';
}

export function bindHandler(options: BindOptions = {}): CommandHandler {
  return (conn) => runBind(conn, options);
}

function runBind(conn: ConnectionControl, o: BindOptions): Promise<void> {
  return expectedPeer(conn).then(
    (expected) =>
      new Promise<void>((done) => {
        if (conn.socket.destroyed) return done();
        new BindWait(conn, o, expected, done).start();
      }),
    (err) => conn.deny(replyFromErrno(err), err),
  );
}

/**
 * One BIND from listen to the first peer (or the deadline, a failure, the
 * client gone): the listener, the timer, and the one `finish` that closes
 * them on every path.
 */
class BindWait {
  private readonly listener = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true });
  private finished = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly conn: ConnectionControl,
    private readonly o: BindOptions,
    private readonly expected: SocksAddress,
    private readonly done: () => void,
  ) {}

  start(): void {
    const { conn, o, listener } = this;
    const ext = typeof o.external === 'function' ? o.external(conn) : o.external;
    conn.onClose(this.finish);
    listener.on('error', (err) => this.fail(replyFromErrno(err), err));
    listener.on('connection', this.guarded((peer: net.Socket) => this.onPeer(peer)));
    listener.listen({ host: ext ?? conn.local.host, port: 0, exclusive: true }, this.guarded(() => this.onListening()));
  }

  private readonly finish = (): void => {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    // An established BIND tunnel keeps no closer (as CONNECT's attempt removes its own).
    this.conn.offClose(this.finish);
    this.listener.close();
    this.done();
  };

  private fail(reply: number, err: unknown): void {
    if (this.finished) return;
    this.finish();
    debug('BIND for %s failed: %s', formatAddress(this.conn.source), (err as Error)?.message);
    this.conn.deny(reply, err);
  }

  // A FIN while waiting is a half-close ("this is all I send"), not "gone":
  // the bytes before it and the FIN itself reach the peer. A client that
  // really left is caught by its RST, or at the latest by the deadline.
  private readonly onEnd = (): void => {
    if (!this.finished) debug('BIND: client %s half-closed while waiting', formatAddress(this.conn.source));
  };

  /** Node calls these handlers: a failure in them ends this BIND, never the process. */
  private guarded<A extends unknown[]>(f: (...a: A) => void): (...a: A) => void {
    return (...a: A): void => {
      try {
        f(...a);
      } catch (err) {
        debug('BIND for %s: internal error: %s', formatAddress(this.conn.source), (err as Error)?.message);
        this.finish();
        this.conn.socket.destroy();
      }
    };
  }

  /** Listening: the first reply with the address to advertise, then the deadline. */
  private onListening(): void {
    const { conn, listener } = this;
    // Finished before listening (the connection closed meanwhile): close() then was too early.
    if (this.finished) {
      listener.close();
      return;
    }
    const a = listener.address() as net.AddressInfo;
    const bound = advertised(a, conn);
    debug('BIND: listening on %s:%d for %s, advertising %s', a.address, a.port, formatAddress(conn.source), formatAddress(bound));
    if (conn.request.version === 4 && bound.type !== 'ipv4') {
      return this.fail(Reply.AddressTypeNotSupported, new SocksError('ERR_SOCKS_DENIED', 'SOCKS4 BIND needs an IPv4 listening address', Reply.AddressTypeNotSupported));
    }
    const ms = this.o.timeout ?? DEFAULTS.bindTimeout;
    this.timer = setTimeout(() => this.fail(Reply.TtlExpired, new TimeoutError('BIND peer', ms)), ms);
    conn.reply(bound);
    // Read while waiting: early bytes are kept by the engine for the peer
    // (bounded), and a reset is noticed now rather than at the deadline.
    conn.socket.once('end', this.onEnd);
    conn.socket.resume();
  }

  /** A peer connected: the wrong one is closed (and maybe fails the BIND), the right one gets the second reply and the relay. */
  private onPeer(peer: net.Socket): void {
    if (this.finished) {
      peer.destroy();
      return;
    }
    peer.on('error', noop);
    const from = fromNodeAddress(peer.remoteAddress, peer.remotePort);
    let ok: boolean;
    try {
      ok = this.acceptable(from);
    } catch (err) {
      peer.destroy();
      return this.fail(replyFromErrno(err), err);
    }
    // The connection may have closed while acceptPeer ran.
    if (this.finished) {
      peer.destroy();
      return;
    }
    if (!ok) return this.wrongPeer(peer, from);
    this.finish();
    this.connectPeer(peer, from);
  }

  /** The rules apply to the peer that actually connects (DST 0.0.0.0 names none), then acceptPeer. */
  private acceptable(from: SocksAddress): boolean {
    const { conn, o, expected } = this;
    if (isUnspecified(from.host) || conn.addressBlock(from, from.host) !== undefined) return false;
    return o.acceptPeer ? o.acceptPeer(from, expected, conn) : defaultAccept(from, expected, o.matchPort ?? false);
  }

  private wrongPeer(peer: net.Socket, from: SocksAddress): void {
    debug('BIND: refused peer %s (expected %s)', formatAddress(from), formatAddress(this.expected));
    peer.destroy();
    if (this.o.wrongPeer === 'fail') {
      this.fail(Reply.NotAllowedByRuleset, new SocksError('ERR_SOCKS_DENIED', `BIND peer ${formatAddress(from)} is not ${formatAddress(this.expected)}`, Reply.NotAllowedByRuleset));
    }
  }

  /** The second reply, then the relay between the client and the peer. */
  private connectPeer(peer: net.Socket, from: SocksAddress): void {
    const conn = this.conn;
    conn.socket.removeListener('end', this.onEnd);
    if (conn.socket.destroyed) {
      peer.destroy();
      return;
    }
    debug('BIND: peer %s connected for %s', formatAddress(from), formatAddress(conn.source));
    const r = conn.reply(from);
    if (!r.established) {
      peer.destroy();
      return;
    }
    peer.removeListener('error', noop);
    conn.relay(r.socket, peer, r.head);
    // The relay cannot see an 'end' that fired while we waited: pass it on.
    if (r.socket === conn.socket && conn.socket.readableEnded) peer.end();
    peer.resume();
  }
}

/** DST.ADDR as an address to compare peers with; names go through the server's lookup and rules. */
async function expectedPeer(conn: ConnectionControl): Promise<SocksAddress> {
  const dest = conn.request.destination;
  if (dest.type !== 'domain') {
    if (!isZeroAddress(dest)) await conn.resolve(dest); // the ruleset applies to BIND peers too
    return dest;
  }
  const { address } = await conn.resolve(dest);
  return fromNodeAddress(address, dest.port);
}

function defaultAccept(peer: SocksAddress, expected: SocksAddress, matchPort: boolean): boolean {
  if (!isZeroAddress(expected) && !(peer.type === expected.type && peer.host === expected.host)) return false;
  return !matchPort || expected.port === 0 || peer.port === expected.port;
}

/** The first reply's BND: the listening address, never a wildcard. */
function advertised(a: net.AddressInfo, conn: ConnectionControl): SocksAddress {
  const bound = fromNodeAddress(a.address, a.port);
  if (!isZeroAddress(bound)) return bound;
  const local = conn.local;
  if (!isZeroAddress(local) && hostType(local.host) !== 'domain') return makeAddress(local.host, a.port);
  return bound;
}

function noop(): void {}
