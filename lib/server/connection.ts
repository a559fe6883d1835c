/**
 * One client connection, from accept to relay or hand-off: feeds the socket's
 * bytes to the sans-I/O ServerHandshake, carries out its actions (write,
 * verify, request, established, hand-off, close), runs the handshake deadline
 * and the request hook (request-context.ts), and runs the command's handler
 * (commands/: connect, bind, udp). The PROXY header is read by
 * proxy-header.ts, the rules are the server's compiled Policy, and what the
 * 'connectionEnd' record needs is kept in a Ledger (ledger.ts). What the
 * commands and the rules see of it (state, admission, the server's
 * services) is its base class, connection-state.ts.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Reply } from '../protocol/constants.js';
import { SocksError, TimeoutError } from '../protocol/errors.js';
import { SocksAddress, formatAddress, ANY_IPV4 } from '../protocol/codec/address.js';
import { ServerHandshake, ServerAction } from '../protocol/server-handshake.js';
import { runCheck, type Encapsulation, type VerifyResult } from '../protocol/method.js';
import { encapsulate } from '../transport/encapsulation-stream.js';
import { relay } from '../transport/relay.js';
import { endSoon } from '../transport/end-soon.js';
import { dispatch, dispatchNow, type Dispatchable } from './commands/index.js';
import { isDescriptorExhaustion } from './limits.js';
import { readProxyHeader, untrustedSender } from './proxy-header.js';
import { runHook, type Decider } from './request-context.js';
import { AuthContext } from './auth-context.js';
import type { RuleSubject } from './resolve.js';
import { ConnectionState } from './connection-state.js';
import type { Link } from './link-list.js';
import { DEFAULTS } from './defaults.js';
import type { ConnectionHost, ConnInfo } from './types.js';

const debug = createDebug('sockskit:server');

const EMPTY = Buffer.alloc(0);
const DONE_ENGINE = new ServerHandshake({ methods: [] });

/**
 * The client socket's Connection. The socket's listeners are shared
 * functions that find their Connection here (the emitter is `this`), not
 * closures made per connection: thousands of idle tunnels each keep them.
 */
const kConnection = Symbol('sockskit.connection');
type Owned = Duplex & { [kConnection]: Connection };
function connOnData(this: Owned, chunk: Buffer): void {
  this[kConnection].onData(chunk);
}
function connOnError(this: Owned, err: Error): void {
  this[kConnection].onError(err);
}
function connOnEarlyEnd(this: Owned): void {
  this[kConnection].onEarlyEnd();
}
function connOnClose(this: Owned): void {
  this[kConnection].onSocketClose();
}
function connOnDeadline(conn: Connection): void {
  conn.onDeadline();
}

/** One client connection through its handshake and into its relay. */
export class Connection extends ConnectionState implements Dispatchable, Decider, RuleSubject {
  private engine!: ServerHandshake;
  private timer: NodeJS.Timeout | undefined;
  /** From 'established'/'handoff' until takeStream(): the tunnel head and protection. */
  private pendingHead: Buffer | undefined;
  private pendingEnc: Encapsulation | undefined;
  /** PROXY protocol: the header's bytes so far, until it is read. */
  private headerBuf: Buffer | undefined;
  /** Its place in the server's list of open connections. */
  private tracked: Link<Duplex> | undefined;

  constructor(server: ConnectionHost, socket: Duplex, info: ConnInfo) {
    super(server, socket, info);
  }

  get encapsulation(): Encapsulation | undefined {
    return this.engine?.protection;
  }

  /** `inheritedKeepAlive`: the keepalive the socket already has from the listening socket (then not set again). */
  start(inheritedKeepAlive?: number | false): void {
    const { socket, options: o } = this;
    this.tracked = this.server.registry.track(socket);
    // The record needs both addresses, and a closed socket no longer has them.
    if (this.server.listenerCount('connectionEnd') > 0) {
      void (this.source, this.local);
      this.info = undefined;
    }
    const ka = o.keepAlive === false ? false : (o.keepAlive ?? DEFAULTS.keepAlive);
    if (ka !== false && ka !== inheritedKeepAlive) (socket as net.Socket).setKeepAlive?.(true, ka);
    const ms = o.handshakeTimeout ?? DEFAULTS.handshakeTimeout;
    this.deadline = Date.now() + ms;
    this.timer = setTimeout(connOnDeadline, ms, this);
    (socket as Owned)[kConnection] = this;
    socket.on('error', connOnError);
    socket.on('close', connOnClose);
    socket.on('end', connOnEarlyEnd);
    // A PROXY header decides source/local, which methods(ctx) read: the engine starts after it.
    socket.on('data', connOnData);
    if (!o.proxyProtocol) return this.begin();
    // Until a real client shows, a balancer's health check (docs/operations.md).
    this.ledger.quiet = true;
    // Reset before its address could be read: a health check that connected and
    // closed at once (HAProxy's check-send-proxy), not an untrusted sender.
    if (!this.clientKnown) return void this.socket.destroy();
    const refusal = untrustedSender(o.proxyProtocolFrom, this.source);
    if (refusal) return this.refuse(refusal);
    this.headerBuf = EMPTY;
  }

  /** Creates the engine and feeds it the socket's data; first, the rules the client address alone decides. */
  private begin(): void {
    const { server, options: o } = this;
    this.generation = server.generation;
    // A client the rules refuse whatever it asks is closed before any byte is answered (no method list, no password check).
    const block = this.policy.active && this.clientKnown ? this.policy.client(this.source.host) : undefined;
    if (block) return this.refuse(block);
    const ctx = (this.auth = new AuthContext(this));
    try {
      this.methods = server.methodsFor(ctx);
    } catch (err) {
      // The application's methods(ctx) failed: this connection ends, not the process.
      return this.refuse(new SocksError('ERR_SOCKS_NO_METHOD', `methods() failed: ${(err as Error)?.message}`, undefined, { cause: err }));
    }
    const methods = this.methods;
    this.engine = new ServerHandshake({ methods, selectMethod: o.selectMethod, socks4: server.socks4For(methods), socks4Identify: o.socks4Identify, context: ctx });
  }

  /** With proxyProtocol, until the header is read: the header decides source/local, then the engine starts. */
  private onHeader(chunk: Buffer): void {
    const r = readProxyHeader((this.headerBuf = this.headerBuf!.length === 0 ? chunk : Buffer.concat([this.headerBuf!, chunk])), this.options.proxyProtocol || 'any');
    if (r.state === 'more') return;
    this.headerBuf = undefined;
    if (r.state === 'bad') {
      this.ledger.quiet = false;
      return this.refuse(r.error);
    }
    // A header with addresses is a client; LOCAL (a health check) stays quiet until SOCKS bytes follow.
    if (r.header.source || r.rest.length > 0) this.ledger.quiet = false;
    const real = this.source;
    // LOCAL and UNKNOWN keep the socket's own addresses.
    if (r.header.source) {
      // No destination: the socket's own local address (read before the header's source replaces anything).
      [this.src, this.loc] = [r.header.source, r.header.destination ?? this.local];
      this.viaHeader = true;
    }
    if (debug.enabled) debug('PROXY v%d from %s: client %s, to %s', r.header.version, formatAddress(real), formatAddress(this.source), formatAddress(this.local));
    this.begin();
    if (!this.finished && r.rest.length > 0) this.onData(r.rest);
  }

  /** Closes a connection whose PROXY header is missing, bad or untrusted (or whose methods() failed), without writing. */
  private refuse(err: SocksError): void {
    this.ledger.quiet = false;
    this.finished = true;
    this.clearTimer();
    this.failed(err, err.code === 'ERR_SOCKS_DENIED' ? 'refused' : 'protocol');
    this.socket.destroy();
  }

  /** @internal The client socket's 'data' during the handshake. */
  onData(chunk: Buffer): void {
    if (this.headerBuf) return this.onHeader(chunk);
    this.ledger.quiet = false;
    this.run(this.engine.receive(chunk));
  }

  /** @internal */
  onError(err: Error): void {
    debug('client %s error: %s', formatAddress(this.source), (err as NodeJS.ErrnoException).code ?? err.message);
    this.socket.destroy();
  }

  /** @internal FIN during the handshake: nothing more can arrive. */
  onEarlyEnd(): void {
    if (!this.decided) this.socket.destroy();
  }

  /** @internal */
  onSocketClose(): void {
    this.limits.release(this.socket);
    this.clearTimer();
    // A client that leaves while its credentials are being checked made a
    // login attempt (a flood of one-packet logins does just that): counted
    // and logged as an authentication failure, not as a client that left.
    if (!this.finished && this.engine?.phase === 'auth-verify') {
      this.ledger.how ??= 'auth';
      this.ledger.error ??= 'auth';
      this.ledger.authMethod ??= this.engine.selected?.name;
    }
    if (this.tracked) this.server.registry.untrack(this.tracked);
    this.tracked = undefined;
    this.server.ended(this);
    this.auth?.closed();
    this.runClosers();
  }

  /** @internal The handshake deadline. */
  onDeadline(): void {
    this.timer = undefined;
    if (this.finished) return;
    const err = new TimeoutError('handshake', this.options.handshakeTimeout ?? DEFAULTS.handshakeTimeout);
    debug('handshake deadline for %s', formatAddress(this.source));
    this.ledger.how = 'timeout';
    // The request hook did not decide in time: a reply is due (06; SOCKS4 5B).
    if (this.decided) return this.deny(Reply.TtlExpired, err);
    this.failed(err, 'timeout');
    this.socket.destroy();
  }

  protected clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }


  private run(actions: ServerAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'write':
          if (!this.socket.destroyed) this.socket.write(a.data);
          break;
        case 'verify':
          this.socket.pause();
          void runCheck(a.check).then((result) => this.afterCheck(result)).catch((err) => this.crashed(err));
          break;
        case 'request':
          this.socket.pause();
          this.request = a.request;
          this.decided = true;
          this.limits.handshakeOver(this.socket);
          if (this.options.onRequest) runHook(this.options.onRequest, this);
          else this.acceptNow();
          break;
        case 'established':
        case 'handoff':
          this.finish();
          this.pendingHead = a.head;
          this.pendingEnc = a.encapsulation;
          break;
        case 'close':
          this.finish();
          if (a.error) this.failed(a.error, a.error.reply !== undefined && this.request ? 'denied' : a.error.code === 'ERR_SOCKS_AUTH_FAILED' || a.error.code === 'ERR_SOCKS_NO_METHOD' ? 'auth' : 'protocol');
          endSoon(this.socket, DEFAULTS.closeGrace);
          // Over for the handlers now, not at 'close' (maybe seconds later): BIND must not accept a peer in between.
          this.closed = true;
          this.runClosers();
          break;
      }
    }
  }

  private finish(): void {
    this.finished = true;
    this.ledger.handshakeOver();
    this.limits.handshakeOver(this.socket);
    this.clearTimer();
    this.socket.removeListener('data', connOnData);
    this.socket.removeListener('end', connOnEarlyEnd);
  }

  private afterCheck(result: VerifyResult): void {
    if (this.socket.destroyed) return;
    this.run(this.engine.verified(result));
    const phase = this.engine.phase;
    if (!this.finished && phase !== 'decide' && phase !== 'identify' && phase !== 'auth-verify') this.socket.resume();
  }

  /** The command's handler (commands/), if enabled and the rules pass; nothing if the deadline already denied an undecided hook. */
  accept(): Promise<void> {
    return this.admitted() ? dispatch(this) : Promise.resolve();
  }

  /** accept() when nobody waits for it (no request hook): the default CONNECT makes no promise. */
  private acceptNow(): void {
    if (this.admitted()) dispatchNow(this);
  }


  deny(reply: number, error?: unknown): void {
    if (this.socket.destroyed || this.finished) return;
    this.ledger.reply = reply;
    // No descriptor for the outbound socket (or a BIND/UDP one): counted and logged; the reply is 01.
    if (isDescriptorExhaustion(error)) this.server.noDescriptor(this.request?.command ?? 'connect', error);
    const err = error instanceof SocksError || !error ? error : new SocksError('ERR_SOCKS_DENIED', (error as Error).message ?? String(error), reply, { cause: error });
    this.run(this.engine.deny(reply, err as SocksError | undefined));
  }

  reply(bound: SocksAddress): { established: boolean; head: Buffer; socket: Duplex } {
    // Closed by the engine meanwhile: nothing to answer (handlers check `established`).
    if (this.closed) return { established: false, head: EMPTY, socket: this.socket };
    this.ledger.reply ??= 0;
    this.run(this.engine.accept(bound));
    if (!this.finished) return { established: false, head: EMPTY, socket: this.socket };
    return this.takeStream();
  }

  handoff(opts?: { reply?: number; bound?: SocksAddress }): { socket: Duplex; head: Buffer } {
    this.run(this.engine.handoff(opts));
    this.ledger.reply = opts?.reply;
    this.ledger.how = 'handoff';
    this.server.registry.handoff();
    const { socket, head } = this.takeStream();
    this.ledger.handedOff(this.socket, head.length);
    return { socket, head };
  }

  handoffFailed(error: unknown): void {
    this.ledger.handoffFailed(error);
  }

  /** After established/handoff: the client stream (encapsulated if needed) and the head. */
  private takeStream(): { established: true; head: Buffer; socket: Duplex } {
    const head = this.pendingHead ?? EMPTY;
    const enc = this.pendingEnc;
    this.pendingHead = undefined;
    const socket = enc ? encapsulate(this.socket, enc) : this.socket;
    // Let the handshake's buffers and state be collected (thousands of idle tunnels).
    this.engine = DONE_ENGINE;
    return { established: true, head, socket };
  }


  /** The hook's relay(): success, then relay to the application's stream (ours to close if the client left or the deadline answered meanwhile). */
  relayTo(upstream: Duplex, bound: SocksAddress | undefined): void {
    if (this.finished || this.socket.destroyed) return void upstream.destroy();
    const r = this.reply(bound ?? ANY_IPV4);
    this.relay(r.socket, upstream, r.head);
  }

  relay(client: Duplex, other: Duplex, head: Buffer): void {
    this.ledger.relayed = true;
    const rate = this.userRate === null ? this.options.ratePerUser : this.userRate;
    const user = rate ? this.verifiedUser() : undefined;
    const throttle = user !== undefined ? this.limits.userThrottle(user, rate!) : undefined;
    relay(client, other, head, { idleTimeout: this.options.idleTimeout ?? 0, lingerTimeout: this.options.lingerTimeout, counter: this.ledger, throttle, spliceAfter: this.server.spliceAfter });
    // The relay's own 'error' listener destroys both sides now (one listener, not a list of two, per idle tunnel).
    if (client === this.socket) this.socket.removeListener('error', connOnError);
    this.server.tunnelOpened(this, other);
  }
}
