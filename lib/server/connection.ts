/**
 * One client connection, from accept to relay or hand-off: feeds the socket's
 * bytes to the sans-I/O ServerHandshake, carries out its actions (write,
 * verify, request, established, hand-off, close), runs the handshake deadline
 * and the request hook (request-context.ts), and runs the command's handler
 * (commands/: connect, bind, udp). The PROXY header is read by
 * proxy-header.ts, the rules are the server's compiled Policy, and what the
 * 'connectionEnd' record needs is kept in a Ledger (ledger.ts).
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Reply } from '../protocol/constants.js';
import { AuthError, SocksError, TimeoutError, replyFromErrno } from '../protocol/errors.js';
import { printable } from '../protocol/printable.js';
import { SocksAddress, fromNodeAddress, formatAddress, isZeroAddress, ANY_IPV4 } from '../protocol/codec/address.js';
import { ServerHandshake, ServerAction, SocksRequest } from '../protocol/server-handshake.js';
import { runCheck, type AuthMethod, type Encapsulation, type VerifyResult } from '../protocol/method.js';
import { encapsulate } from '../transport/encapsulation-stream.js';
import { relay } from '../transport/relay.js';
import { endSoon } from '../transport/end-soon.js';
import type { AnyLookup, Candidate } from '../transport/happy-eyeballs.js';
import type { Policy } from './policy.js';
import { identityOf, type EndReason } from './access-log.js';
import { dispatch, dispatchNow, type Dispatchable } from './commands/index.js';
import { isDescriptorExhaustion } from './limits.js';
import { readProxyHeader, untrustedSender } from './proxy-header.js';
import { runHook, type Decider } from './request-context.js';
import { AuthContext } from './auth-context.js';
import { allowedAddresses, routeFor, ruleInput, type RuleSubject } from './resolve.js';
import { Ledger } from './ledger.js';
import { stillKnown } from './revalidate.js';
import { DEFAULTS } from './defaults.js';
import type { ConnectionLimits } from './connection-limits.js';
import type { ConnectionHost, ConnInfo, Route, SocksServerOptions, Upstream } from './types.js';

const debug = createDebug('sockskit:server');

const EMPTY = Buffer.alloc(0);
const DONE_ENGINE = new ServerHandshake({ methods: [] });

/**
 * The client socket's Connection. The socket's listeners are shared
 * functions that find their Connection here (the emitter is `this`), not
 * closures made per connection: thousands of idle tunnels each keep them.
 */
const DECIDED = 1;
const FINISHED = 2;
const CLOSED = 4;
const VIA_HEADER = 8;
/** The socket had the client's address at accept (it had not reset). */
const KNOWN = 16;

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
export class Connection implements Dispatchable, Decider, RuleSubject {
  request!: SocksRequest;
  readonly options: Readonly<SocksServerOptions>;
  readonly ledger = new Ledger();
  /** When the handshake deadline fires (Date.now() value). */
  deadline = 0;
  private src: SocksAddress | undefined;
  private loc: SocksAddress | undefined;
  private engine!: ServerHandshake;
  private timer: NodeJS.Timeout | undefined;
  /** DECIDED, FINISHED, CLOSED, VIA_HEADER, KNOWN: one field, not five (an idle tunnel keeps its Connection for the record). */
  private flags = 0;
  /** The request was received: the hook and the command decide from here. */
  private get decided(): boolean {
    return (this.flags & DECIDED) !== 0;
  }
  private set decided(v: boolean) {
    this.flag(DECIDED, v);
  }
  /** The handshake is over (established, handed off, closed or refused). */
  private get finished(): boolean {
    return (this.flags & FINISHED) !== 0;
  }
  private set finished(v: boolean) {
    this.flag(FINISHED, v);
  }
  /** The engine closed the connection (the socket may take a while to close). */
  private get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  private set closed(v: boolean) {
    this.flag(CLOSED, v);
  }
  /** The client address came from a PROXY header. */
  private get viaHeader(): boolean {
    return (this.flags & VIA_HEADER) !== 0;
  }
  private set viaHeader(v: boolean) {
    this.flag(VIA_HEADER, v);
  }
  private flag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }
  private closers: (() => void)[] | undefined;
  private methods: readonly AuthMethod<unknown>[] = [];
  private auth: AuthContext | undefined;
  /** From 'established'/'handoff' until takeStream(): the tunnel head and protection. */
  private pendingHead: Buffer | undefined;
  private pendingEnc: Encapsulation | undefined;
  /** PROXY protocol: the header's bytes so far, until it is read. */
  private headerBuf: Buffer | undefined;
  /** The server's configuration generation when the handshake began. */
  private generation = 0;
  /** The verified user's rate for this request's tunnel, once accept() admitted the user (null: it did not: the flag's). */
  private userRate: number | undefined | null = null;

  /** The limits the connection was admitted under (a reload may replace the server's). */
  private readonly limits: ConnectionLimits;

  /** The socket's addresses, until both are read into `source` and `local`. */
  private info: ConnInfo | undefined;

  constructor(readonly server: ConnectionHost, readonly socket: Duplex, info: ConnInfo) {
    this.options = server.options;
    this.limits = server.limits;
    this.info = info;
    if (info.remoteAddress !== undefined) this.flags = KNOWN;
  }

  /**
   * The rules in force now: a reload applies to every decision still to come
   * (a request, each new UDP destination); open TCP tunnels go on.
   */
  get policy(): Policy {
    return this.server.policy;
  }
  /** False when the client reset before its address could be read. */
  get clientKnown(): boolean {
    return (this.flags & (VIA_HEADER | KNOWN)) !== 0;
  }

  // Read lazily: each is a system call (getpeername/getsockname) most connections never need.
  get source(): SocksAddress {
    return (this.src ??= fromNodeAddress(this.info!.remoteAddress, this.info!.remotePort));
  }
  get local(): SocksAddress {
    return (this.loc ??= fromNodeAddress(this.info!.localAddress, this.info!.localPort));
  }
  get encapsulation(): Encapsulation | undefined {
    return this.engine?.protection;
  }

  /** `inheritedKeepAlive`: the keepalive the socket already has from the listening socket (then not set again). */
  start(inheritedKeepAlive?: number | false): void {
    const { socket, options: o } = this;
    this.server.registry.track(socket);
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
    if ((this.flags & KNOWN) === 0) return void this.socket.destroy();
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

  /** Counts and reports an error this connection ends with. */
  private failed(err: SocksError, how: EndReason): void {
    debug('closing %s: %s', formatAddress(this.source), printable(err.message));
    this.ledger.failed(err, how, this.methods);
    this.server.clientError(err, this.source);
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
    this.server.registry.untrack(this.socket);
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

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  onClose(f: () => void): void {
    if (this.socket.destroyed || this.closed) f();
    else (this.closers ??= []).push(f);
  }

  offClose(f: () => void): void {
    const i = this.closers?.indexOf(f) ?? -1;
    if (i >= 0) this.closers!.splice(i, 1);
    // Most lists held one handler until the tunnel started: an idle tunnel keeps no empty array.
    if (this.closers?.length === 0) this.closers = undefined;
  }

  private runClosers(): void {
    const list = this.closers;
    this.closers = undefined;
    if (list) for (const f of list) f();
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
          this.server.limits.handshakeOver(this.socket);
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
    this.server.limits.handshakeOver(this.socket);
    this.clearTimer();
    this.socket.removeListener('data', connOnData);
    this.socket.removeListener('end', connOnEarlyEnd);
  }

  /** @internal A failure in our own continuation: this connection ends, never the process. */
  crashed(err: unknown): void {
    debug('closing %s: internal error: %s', formatAddress(this.source), printable(String((err as Error)?.message)));
    if (!this.socket.destroyed) this.server.clientError(new SocksError('ERR_SOCKS_PROTOCOL', `internal error: ${(err as Error)?.message}`, undefined, { cause: err }), this.source);
    this.socket.destroy();
  }

  private afterCheck(result: VerifyResult): void {
    if (this.socket.destroyed) return;
    this.run(this.engine.verified(result));
    const phase = this.engine.phase;
    if (!this.finished && phase !== 'decide' && phase !== 'identify' && phase !== 'auth-verify') this.socket.resume();
  }

  /** @internal */
  hookFailed(settled: boolean, err: unknown): void {
    this.ledger.hookFailed = true;
    if (!settled) this.deny(replyFromErrno(err), err);
    else debug('request hook failed after deciding: %s', (err as Error)?.message);
  }

  /** The command's handler (commands/), if enabled and the rules pass; nothing if the deadline already denied an undecided hook. */
  accept(): Promise<void> {
    return this.admitted() ? dispatch(this) : Promise.resolve();
  }

  /** accept() when nobody waits for it (no request hook): the default CONNECT makes no promise. */
  private acceptNow(): void {
    if (this.admitted()) dispatchNow(this);
  }

  /** The checks before the command runs: false when the connection was answered (or is over) already. */
  private admitted(): boolean {
    this.clearTimer();
    if (this.finished) return false;
    // Reconfigured while this client authenticated (a slow password check): the user must still be accepted.
    if (this.server.generation !== this.generation && !this.stillAuthorized()) {
      this.deny(Reply.NotAllowedByRuleset, new AuthError('the user is no longer accepted (the server was reconfigured)', this.request.method?.code));
      return false;
    }
    const user = this.verifiedUser();
    if (user !== undefined && !this.admitUser(user)) return false;
    return true;
  }

  /**
   * Counts the request against its user's cap, and keeps the rate for the
   * relay: the limits of the rule deciding it (policy.userLimits), else the
   * flags. False when refused: 02 (SOCKS4 5B), for this user only; the class is `limit`.
   */
  private admitUser(user: string): boolean {
    const o = this.options;
    const flags = { maxConnections: o.maxConnectionsPerUser, rate: o.ratePerUser };
    const lim = this.policy.limits ? this.policy.userLimits(ruleInput(this, this.request.destination, undefined), this.request.command === 'udp' || isZeroAddress(this.request.destination), flags) : flags;
    this.userRate = lim.rate;
    if (this.server.limits.admitUser(this.socket, user, lim.maxConnections)) return true;
    const max = lim.maxConnections;
    this.deny(Reply.NotAllowedByRuleset, new SocksError('ERR_SOCKS_DENIED', `user ${printable(user)} has ${max} connections open already`, Reply.NotAllowedByRuleset, { cause: { code: 'ERR_SOCKS_LIMIT' } }));
    return false;
  }

  /** The identity a method verified (never SOCKS4's USERID): what per-user limits count. */
  private verifiedUser(): string | undefined {
    const req = this.request;
    if (req.version === 4 || !req.method) return undefined;
    return identityOf(req.method.name, req.identity);
  }

  /** @internal */
  handlerFailed(err: unknown): void {
    if (this.finished) this.crashed(err);
    else this.deny(replyFromErrno(err), err);
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

  watchReconfigure(f: () => void): () => void {
    return this.server.registry.watchReconfigure(f);
  }

  stillAuthorized(): boolean {
    try {
      return stillKnown(this.server.methodsFor(this.auth!), this.request);
    } catch {
      // methods(ctx) failed: nothing vouches for the identity any more.
      return false;
    }
  }

  addressBlock(dest: SocksAddress, address: string): SocksError | undefined {
    return this.policy.active ? this.policy.address(ruleInput(this, dest, address)) : undefined;
  }

  holdDescriptors(n: number): boolean {
    return this.server.limits.charge(this.socket, n, this.options.maxConnections === undefined);
  }

  dialled(address: SocksAddress | undefined, via?: Upstream): void {
    if (address) this.ledger.dialled = formatAddress(address);
    if (via) this.ledger.via = via.name;
    // The rule that let it through, for the access log (only when someone reads the record).
    if (this.policy.active && this.server.listenerCount('connectionEnd') > 0) this.ledger.rule = this.policy.decidedBy(ruleInput(this, this.request.destination, address?.host));
  }

  get routed(): boolean {
    return this.options.upstream !== undefined || this.policy.routes;
  }

  route(dest: SocksAddress, signal?: AbortSignal): Promise<Route> {
    return routeFor(this, this.options.lookup as AnyLookup | undefined, dest, this.options.upstream, signal);
  }

  resolve(dest: SocksAddress): Promise<{ address: string; family: number }> {
    return this.resolveAll(dest).then((c) => c[0]!);
  }

  resolveAll(dest: SocksAddress, signal?: AbortSignal): Promise<Candidate[]> {
    return allowedAddresses(this, this.options.lookup as AnyLookup | undefined, dest, signal);
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
    const throttle = user !== undefined ? this.server.limits.userThrottle(user, rate!) : undefined;
    relay(client, other, head, { idleTimeout: this.options.idleTimeout ?? 0, lingerTimeout: this.options.lingerTimeout, counter: this.ledger, throttle });
    // The relay's own 'error' listener destroys both sides now (one listener, not a list of two, per idle tunnel).
    if (client === this.socket) this.socket.removeListener('error', connOnError);
    this.server.tunnelOpened(this, other);
  }
}
