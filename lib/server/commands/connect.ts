/**
 * CONNECT for SocksServer (RFC 1928 §4, SOCKS4 CONNECT): the default
 * CommandHandler for the main command. Resolves the destination through the
 * server's lookup and rules, races the allowed addresses (Happy Eyeballs,
 * RFC 8305), answers with the real local address of the outbound socket and
 * relays; or, when the rules or the server route it to an upstream proxy,
 * opens the tunnel through that upstream. One timer (connectTimeout) bounds lookup and race together and
 * answers 06 when it fires.
 *
 * One address (an IP literal, or a name that resolves to one) is dialled
 * directly: no race, no AbortController, no promise chain. That is most
 * connections, and the race's objects were measurable per connection.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { SocksError, TimeoutError, replyFromErrno } from '../../protocol/errors.js';
import { Reply } from '../../protocol/constants.js';
import { formatAddress, fromNodeAddress, type SocksAddress } from '../../protocol/codec/address.js';
import { printable } from '../../protocol/printable.js';
import { race, type Candidate } from '../../transport/happy-eyeballs.js';
import { dial } from '../../transport/socket-reader.js';
import { keepAliveLater } from '../../transport/keepalive-later.js';
import type { CommandHandler, ConnectionControl, Route, Upstream } from '../types.js';
import { literalCandidate } from '../resolve.js';
import { DEFAULTS } from '../defaults.js';

const debug = createDebug('sockskit:server');

/** The default CONNECT (what `connect` in SocksServerOptions defaults to). */
export function connectHandler(): CommandHandler {
  return runConnect;
}

function runConnect(conn: ConnectionControl): Promise<void> {
  return new Promise<void>((done, crash) => new ConnectAttempt(conn, done, crash).start());
}

/**
 * The default CONNECT for a caller that does not wait for it (no request
 * hook): no promise and resolving functions per connection; a failure of our
 * own goes to `conn.handlerFailed`, as dispatch() would send it.
 */
export function connectNow(conn: ConnectionControl & { handlerFailed(err: unknown): void }): void {
  try {
    new ConnectAttempt(conn, noop, undefined).start();
  } catch (err) {
    conn.handlerFailed(err);
  }
}

function noop(): void {}

/** One CONNECT, from resolving to relaying: one object, its callbacks bound once. */
class ConnectAttempt {
  private readonly dest: SocksAddress;
  private readonly timer: NodeJS.Timeout;
  private readonly ms: number;
  private over = false;
  /** Only for a race (several addresses): cancels the lookup and the attempts. */
  private ac: AbortController | undefined;
  /** The direct dial's socket until it connects, and its address. */
  private sock: net.Socket | undefined;
  private target: Candidate | undefined;

  /** Our own failure (a bug): the promise's rejection, or the connection's handlerFailed without one. */
  private readonly crash: (err: unknown) => void;

  constructor(
    private readonly conn: ConnectionControl,
    private readonly done: () => void,
    crash: ((err: unknown) => void) | undefined,
  ) {
    this.crash = crash ?? ((err) => (conn as ConnectionControl & { handlerFailed(err: unknown): void }).handlerFailed(err));
    this.dest = conn.request.destination;
    const ms = conn.options.connectTimeout ?? DEFAULTS.connectTimeout;
    this.ms = ms;
    this.timer = setTimeout(this.onTimer, ms);
  }

  private readonly onTimer = (): void => this.fail(new TimeoutError('connect', this.ms));

  start(): void {
    this.conn.onClose(this.fail);
    let one: Candidate | undefined;
    try {
      one = literalCandidate(this.conn, this.dest);
    } catch (err) {
      return this.fail(err);
    }
    if (one && !this.conn.routed) return this.dialOne(one);
    this.ac = new AbortController();
    if (this.conn.routed) {
      // Rules with via: or a server upstream: the route decides (it also checks the rules).
      this.conn.route(this.dest, this.ac.signal).then(this.onRoute, this.fail).catch(this.crash);
      return;
    }
    this.conn.resolveAll(this.dest, this.ac.signal).then(this.onCandidates, this.fail).catch(this.crash);
  }

  private readonly onRoute = (route: Route): void => {
    if (this.over) return;
    if (route.via === 'direct') return this.onCandidates(route.candidates);
    dialUpstream(this.conn, route.via, route.destination, this.ac!.signal).then(this.onUpstream, this.fail).catch(this.crash);
  };

  /** The upstream opened the tunnel: the reply names what the last proxy bound. */
  private readonly onUpstream = (t: { socket: Duplex; bound: SocksAddress }): void => {
    if (this.over) return void t.socket.destroy();
    this.end();
    const r = this.conn.reply(t.bound);
    this.conn.relay(r.socket, t.socket, r.head);
    this.done();
  };

  private readonly onCandidates = (candidates: Candidate[]): void => {
    if (this.over) return;
    if (candidates.length === 1) return this.dialOne(candidates[0]!);
    const o = this.conn.options;
    race({ candidates, port: this.dest.port, allowHalfOpen: true, attemptDelay: o.happyEyeballsDelay, localAddress: o.outboundAddress, signal: this.ac!.signal, connect: dial })
      .then((s) => this.connected(s, undefined), this.fail)
      .catch(this.crash);
  };

  /** One address: a plain dial under the same timer (what race() would do with one candidate). */
  private dialOne(c: Candidate): void {
    const o = this.conn.options;
    const local = o.outboundAddress;
    if (local && net.isIP(local) !== c.family) {
      const e: NodeJS.ErrnoException = new Error(`no IPv${net.isIP(local)} address to reach from ${local}`);
      e.code = 'EADDRNOTAVAIL';
      return this.fail(e);
    }
    let s: net.Socket;
    try {
      // Keepalive is armed once the tunnel is up, and late (keepAliveLater).
      s = dial({ host: c.address, port: this.dest.port, family: c.family, localAddress: local, allowHalfOpen: true, noDelay: true });
    } catch (err) {
      // Bad options (an invalid outboundAddress) throw at once: a failed attempt like any other.
      return this.fail(err);
    }
    this.sock = s;
    this.target = c;
    // `on`, not `once` (no wrapper per listener); each handler removes both.
    s.on('error', this.onDialError);
    s.on('connect', this.onDialConnect);
  }

  private readonly onDialError = (err: Error): void => {
    this.sock?.removeListener('connect', this.onDialConnect);
    this.sock?.removeListener('error', this.onDialError);
    this.sock?.destroy();
    this.sock = undefined;
    this.fail(err);
  };

  private readonly onDialConnect = (): void => {
    const s = this.sock!;
    s.removeListener('error', this.onDialError);
    s.removeListener('connect', this.onDialConnect);
    this.sock = undefined;
    // A socket event, outside any promise: our own failure must end this connection, not the process.
    try {
      this.connected(s, this.target);
    } catch (err) {
      this.crash(err);
    }
  };

  /** The outbound socket is up: check it, answer, relay. `c`: the address dialled directly (its remote address is known). */
  private connected(sock: net.Socket, c: Candidate | undefined): void {
    if (this.over) return void sock.destroy();
    const port = this.dest.port;
    // IPv4 as dialled is what getpeername would say; IPv6 text is left to Node's own formatting.
    const remote: SocksAddress = c && c.family === 4 ? { type: 'ipv4', host: c.address, port } : fromNodeAddress(sock.remoteAddress!, sock.remotePort!);
    const local = fromNodeAddress(sock.localAddress!, sock.localPort!);
    // TCP self-connect (an ephemeral destination port where nothing listens can connect to itself): nobody is there.
    if (local.port === remote.port && local.host === remote.host) {
      sock.destroy();
      return this.fail(Object.assign(new Error(`connect ECONNREFUSED ${remote.host}:${port} (self-connect)`), { code: 'ECONNREFUSED' }));
    }
    this.end();
    const { conn } = this;
    const o = conn.options;
    conn.dialled(remote);
    // Armed before the keepalive delay has passed, not now: most tunnels end first (keepalive-later.ts).
    if (o.keepAlive !== false) keepAliveLater(sock, o.keepAlive ?? DEFAULTS.keepAlive);
    const r = conn.reply(local);
    conn.relay(r.socket, sock as Duplex, r.head);
    this.done();
  }

  private end(): void {
    this.over = true;
    clearTimeout(this.timer);
    this.conn.offClose(this.fail);
  }

  /** The timer, the client's close (no error) or a failure: ends the attempt, answers the failure's reply. */
  private readonly fail = (err?: unknown): void => {
    if (this.over) return;
    this.end();
    this.ac?.abort(err);
    if (this.sock) {
      this.sock.destroy();
      this.sock = undefined;
    }
    if (err) {
      debug('connect %s failed: %s', formatAddress(this.dest), (err as NodeJS.ErrnoException).code ?? printable(String((err as Error)?.message)));
      this.conn.deny(replyFromErrno(err), err);
    }
    this.done();
  };
}

/** Through an upstream proxy (chain): the reply names what the last proxy bound. */
async function dialUpstream(conn: ConnectionControl, via: Upstream, destination: SocksAddress, signal: AbortSignal): Promise<{ socket: Duplex; bound: SocksAddress }> {
  const o = conn.options;
  debug('connect %s via %s', formatAddress(destination), via.name);
  const sent = destination.type === 'domain' ? undefined : destination;
  // Noted before dialling: a failure's record names the hop (and the address sent) too.
  conn.dialled(sent, via);
  const t = await via.connect(destination, { signal, localAddress: o.outboundAddress, lookup: o.lookup, keepAlive: o.keepAlive ?? DEFAULTS.keepAlive }).catch((err: unknown) => {
    throw upstreamFailure(err, via);
  });
  return { socket: t.socket, bound: t.bound };
}

/**
 * An upstream's SOCKS5 failure reply is passed on as it is, and so is an
 * upstream that could not be reached (ProxyUnreachableError, whose reply is
 * its cause's); anything else it
 * says (a SOCKS4 code, a refused login, broken bytes) is a general failure
 * (01) here: our client could not act on the upstream's own problem.
 */
function upstreamFailure(err: unknown, via: Upstream): unknown {
  if (!(err instanceof SocksError) || err.code === 'ERR_SOCKS_TIMEOUT' || err.code === 'ERR_SOCKS_BAD_ADDRESS') return err;
  // An upstream hop that could not be reached: its reply is the Node error's (05 refused, 06 timed out, ...) as before.
  if (err.code === 'ERR_SOCKS_PROXY_UNREACHABLE') return err;
  const rep = err.reply;
  if ((err as { version?: number }).version === 5 && rep !== undefined && rep >= 1 && rep <= 8) return err;
  return new SocksError('ERR_SOCKS_DENIED', `upstream ${via.name}: ${err.message}`, Reply.GeneralFailure, { cause: err });
}
