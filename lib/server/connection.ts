/**
 * One client connection, from accept to relay or hand-off: feeds the socket's
 * bytes to the sans-I/O ServerHandshake and carries out its actions (write,
 * verify, request, established, hand-off, close), runs the deadlines and the
 * request hook, and implements the default CONNECT. The server only accepts
 * and counts (server.ts); BIND and UDP are command handlers (bind.ts,
 * udp-relay.ts).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Reply } from '../protocol/constants.js';
import { SocksError, TimeoutError, LocalProtocolError, AuthError, replyFromErrno } from '../protocol/errors.js';
import { printable } from '../protocol/printable.js';
import { SocksAddress, fromNodeAddress, formatAddress, ANY_IPV4 } from '../protocol/codec/address.js';
import { ServerHandshake, ServerAction, SocksRequest } from '../protocol/server-handshake.js';
import { decodeProxyHeader } from '../protocol/codec/proxy-protocol.js';
import { runCheck, type AuthMethod, type Encapsulation, type ServerAuthContext, type VerifyResult } from '../protocol/method.js';
import { encapsulate } from '../transport/encapsulation-stream.js';
import { relay, type RelayCounter } from '../transport/relay.js';
import { lookupAll, interleave, race, type AnyLookup, type Candidate } from '../transport/happy-eyeballs.js';
import { allowedBy, isUnspecified, evaluateRules, evaluateBeforeLookup, type Rule, type RuleInput, type Ruleset } from './rules.js';
import { errorClass, identityOf, type ConnectionRecord, type EndReason, type ErrorClass } from './access-log.js';
import { dial as dialSocket } from '../transport/socket-reader.js';
import { bindHandler } from './bind.js';
import { udpHandler } from './udp-relay.js';
import { isDescriptorExhaustion } from './limits.js';
import type { ConnectionControl, ConnectionHost, ConnInfo, RequestContext, SocksServerOptions } from './types.js';

const debug = createDebug('sockskit:server');

const defaultBind = bindHandler();
const defaultUdp = udpHandler();

/**
 * What methods see of a connection: getters on a prototype (one small object
 * per connection, no closures), each read lazily: the addresses are system
 * calls and the signal an AbortController that most connections never need.
 */
class AuthContext implements ServerAuthContext {
  readonly #conn: Connection;
  constructor(conn: Connection) {
    this.#conn = conn;
  }
  get source(): SocksAddress {
    return this.#conn.source;
  }
  get local(): SocksAddress {
    return this.#conn.local;
  }
  get signal(): AbortSignal {
    return this.#conn.signal;
  }
  get deadline(): number {
    return this.#conn.deadline;
  }
}

/** One client connection through its handshake and into its relay. */
export class Connection implements ConnectionControl {
  request!: SocksRequest;
  private src: SocksAddress | undefined;
  private loc: SocksAddress | undefined;
  private engine!: ServerHandshake;
  private timer: NodeJS.Timeout | undefined;
  private decided = false;
  private finished = false;
  /** The engine closed the connection (the socket may take a while to close). */
  private closed = false;
  private closers: (() => void)[] = [];
  readonly options: Readonly<SocksServerOptions>;
  // For the record of this connection ('connectionEnd').
  private readonly t0 = Date.now();
  private handshakeMs: number | undefined;
  private dialled: string | undefined;
  private replyCode: number | undefined;
  private how: EndReason | undefined;
  private errClass: ErrorClass | undefined;
  private hookFailed = false;
  private counter: RelayCounter | undefined;
  private methods: readonly AuthMethod<unknown>[] = [];
  private authMethod: string | undefined;
  /** When the handshake deadline fires (Date.now() value). */
  deadline = 0;

  constructor(readonly server: ConnectionHost, readonly socket: Duplex, private readonly info: ConnInfo) {
    this.options = server.options;
  }

  // Addresses are read lazily: each is a getpeername/getsockname system call,
  // and most connections never need them.
  get source(): SocksAddress {
    return (this.src ??= fromNodeAddress(this.info.remoteAddress, this.info.remotePort));
  }
  get local(): SocksAddress {
    return (this.loc ??= fromNodeAddress(this.info.localAddress, this.info.localPort));
  }
  get encapsulation(): Encapsulation | undefined {
    return this.engine?.protection;
  }
  // Created only for a method that asks (most connections never do), aborted
  // when the client socket closes.
  private abort: AbortController | undefined;
  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.socket.destroyed) this.abort.abort(new SocksError('ERR_SOCKS_CLOSED', 'the client connection closed'));
    }
    return this.abort.signal;
  }

  start(): void {
    const { socket } = this;
    this.server.track(socket);
    // The record needs both addresses, and a closed socket no longer has them.
    if (this.server.listenerCount('connectionEnd') > 0) void (this.source, this.local);
    const ka = this.options.keepAlive ?? 60000;
    if (ka !== false) (socket as net.Socket).setKeepAlive?.(true, ka);
    const ms = this.options.handshakeTimeout ?? 10000;
    this.deadline = Date.now() + ms;
    this.timer = setTimeout(this.onDeadline, ms);
    // PROXY protocol: the header precedes SOCKS and decides source/local,
    // which methods(ctx) may read, so the engine starts only once it is read.
    // Off (the default) the engine starts at once, as it always did.
    socket.on('error', this.onError);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onEarlyEnd);
    if (this.options.proxyProtocol) this.readProxyHeader();
    else this.begin();
  }

  /** Creates the engine and feeds it the socket's data. */
  private begin(): void {
    const { server } = this;
    const o = this.options;
    const ctx = new AuthContext(this);
    let methods;
    try {
      methods = server.methodsFor(ctx);
    } catch (err) {
      // The application's methods(ctx) failed: this connection ends, not the process.
      this.refuse(new SocksError('ERR_SOCKS_NO_METHOD', `methods() failed: ${(err as Error)?.message}`, undefined, { cause: err }));
      return;
    }
    this.methods = methods;
    this.engine = new ServerHandshake({
      methods,
      selectMethod: o.selectMethod,
      socks4: server.socks4For(methods),
      socks4Identify: o.socks4Identify,
      context: ctx,
    });
    this.socket.on('data', this.onData);
  }

  /**
   * Reads and strips the PROXY header (any split; bounded by the codec and
   * covered by the handshake deadline), takes source/local from it (LOCAL and
   * UNKNOWN keep the socket's own), then starts the engine with the bytes that
   * followed the header in the same chunk. Failures close without writing.
   */
  private readProxyHeader(): void {
    const { socket } = this;
    const o = this.options;
    const real = this.source;
    if (o.proxyProtocolFrom && !o.proxyProtocolFrom.some((c) => c.contains(real.host))) {
      this.refuse(new SocksError('ERR_SOCKS_DENIED', `PROXY header sender ${formatAddress(real)} is not trusted`));
      return;
    }
    let buf: Buffer = EMPTY;
    const onHeader = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let h;
      try {
        h = decodeProxyHeader(buf, { versions: o.proxyProtocol || 'any' });
      } catch (err) {
        socket.removeListener('data', onHeader);
        this.refuse(err as SocksError);
        return;
      }
      if (!h) return;
      socket.removeListener('data', onHeader);
      if (h.source) {
        this.src = h.source;
        this.loc = h.destination;
      }
      if (debug.enabled) debug('PROXY v%d from %s: client %s, to %s', h.version, formatAddress(real), formatAddress(this.source), formatAddress(this.local));
      this.begin();
      if (!this.finished && buf.length > h.length) this.onData(buf.subarray(h.length));
    };
    socket.on('data', onHeader);
  }

  /** Closes a connection whose PROXY header is missing, bad or untrusted. */
  private refuse(err: SocksError): void {
    this.finished = true;
    this.clearTimer();
    debug('closing %s: %s', formatAddress(this.source), printable(err.message));
    this.failed(err, err.code === 'ERR_SOCKS_DENIED' ? 'refused' : 'protocol');
    this.socket.destroy();
  }

  /** Counts and reports an error this connection ends with. */
  private failed(err: SocksError, how: EndReason): void {
    this.how ??= how;
    if (err instanceof AuthError && err.method !== undefined) this.authMethod = this.methods.find((m) => m.code === err.method)?.name ?? `0x${err.method.toString(16)}`;
    this.errClass ??= errorClass(err, this.hookFailed);
    this.server.clientError(err, this.source);
  }

  private onData = (chunk: Buffer): void => {
    this.run(this.engine.receive(chunk));
  };

  private onError = (err: Error): void => {
    debug('client %s error: %s', formatAddress(this.source), (err as NodeJS.ErrnoException).code ?? err.message);
    this.socket.destroy();
  };

  /** Client sent FIN during the handshake: nothing more can arrive. */
  private onEarlyEnd = (): void => {
    if (!this.decided) this.socket.destroy();
  };

  private onSocketClose = (): void => {
    this.clearTimer();
    // A client that leaves while its credentials are being checked made a
    // login attempt (a flood of one-packet logins does just that): counted
    // and logged as an authentication failure, not as a client that left.
    if (!this.finished && this.engine?.phase === 'auth-verify') {
      this.how ??= 'auth';
      this.errClass ??= 'auth';
      this.authMethod ??= this.engine.selected?.name;
    }
    this.server.untrack(this.socket);
    this.server.ended(this.bytes(), this.counter !== undefined, this.errClass, this);
    if (this.abort && !this.abort.signal.aborted) this.abort.abort(new SocksError('ERR_SOCKS_CLOSED', 'the client connection closed'));
    for (const f of this.closers.splice(0)) f();
  };

  private onDeadline = (): void => {
    this.timer = undefined;
    if (this.finished) return;
    const err = new TimeoutError('handshake', this.options.handshakeTimeout ?? 10000);
    debug('handshake deadline for %s', formatAddress(this.source));
    this.how = 'timeout';
    if (this.decided) {
      // The request hook did not decide in time: a reply is due (06; SOCKS4 5B).
      this.deny(Reply.TtlExpired, err);
      return;
    }
    this.failed(err, 'timeout');
    this.socket.destroy();
  };

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  onClose(f: () => void): void {
    if (this.socket.destroyed || this.closed) f();
    else this.closers.push(f);
  }

  /** Forgets a close callback that is no longer needed (keeps idle tunnels small). */
  private offClose(f: () => void): void {
    const i = this.closers.indexOf(f);
    if (i >= 0) this.closers.splice(i, 1);
  }

  private run(actions: ServerAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'write':
          if (!this.socket.destroyed) this.socket.write(a.data);
          break;
        case 'verify':
          this.socket.pause();
          this.runCheck(a.check);
          break;
        case 'request':
          this.socket.pause();
          this.request = a.request;
          this.onRequest();
          break;
        case 'established':
        case 'handoff':
          this.finish();
          this.pendingHead = a.head;
          this.pendingEnc = a.encapsulation;
          break;
        case 'close':
          this.finish();
          if (a.error) {
            debug('closing %s: %s', formatAddress(this.source), printable(a.error.message));
            this.failed(a.error, a.error.reply !== undefined && this.request ? 'denied' : a.error.code === 'ERR_SOCKS_AUTH_FAILED' || a.error.code === 'ERR_SOCKS_NO_METHOD' ? 'auth' : 'protocol');
          }
          endSoon(this.socket);
          // The connection is over for its handlers now, not at the socket's
          // 'close' (which may come seconds later): a BIND listener must not
          // accept a peer in between.
          this.closed = true;
          for (const f of this.closers.splice(0)) f();
          break;
      }
    }
  }

  private pendingHead: Buffer | undefined;
  private pendingEnc: Encapsulation | undefined;

  private finish(): void {
    this.finished = true;
    this.handshakeMs ??= Date.now() - this.t0;
    this.server.handshakeOver(this.socket);
    this.clearTimer();
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEarlyEnd);
  }

  private runCheck(check: () => unknown): void {
    void runCheck(check).then((result) => this.afterCheck(result)).catch(this.crashed);
  }

  /** A failure in our own continuation: this connection ends, never the process. */
  private crashed = (err: unknown): void => {
    debug('closing %s: internal error: %s', formatAddress(this.source), printable(String((err as Error)?.message)));
    if (!this.socket.destroyed) this.server.clientError(new SocksError('ERR_SOCKS_PROTOCOL', `internal error: ${(err as Error)?.message}`, undefined, { cause: err }), this.source);
    this.socket.destroy();
  };

  private afterCheck(result: VerifyResult): void {
    if (this.socket.destroyed) return;
    this.run(this.engine.verified(result));
    if (!this.finished && this.engine.phase !== 'decide' && this.engine.phase !== 'identify' && this.engine.phase !== 'auth-verify') {
      this.socket.resume();
    }
  }

  // ------------------------------------------------------------ the request

  private onRequest(): void {
    this.decided = true;
    this.server.handshakeOver(this.socket);
    const hook = this.options.onRequest;
    if (!hook) {
      void this.accept();
      return;
    }
    let settled = false;
    // One decision per request: a second one (accept() twice, deny() after
    // accept()) would race the first and drive a finished engine.
    const decide = (what: string): void => {
      if (settled) throw new LocalProtocolError(`${what}: the request was already decided`);
      settled = true;
    };
    const ctx: RequestContext = {
      request: this.request,
      source: this.source,
      local: this.local,
      accept: () => {
        decide('accept()');
        return this.accept();
      },
      deny: (reply = Reply.NotAllowedByRuleset) => {
        decide('deny()');
        this.deny(reply);
      },
      handoff: (opts) => {
        decide('handoff()');
        return this.handoff(opts);
      },
      relay: (upstream, bound) => {
        decide('relay()');
        // The client left (or the deadline answered) while the hook worked: the stream is ours to close.
        if (this.finished || this.socket.destroyed) {
          upstream.destroy();
          return;
        }
        const r = this.reply(bound ?? ANY_IPV4);
        this.relay(r.socket, upstream, r.head);
      },
    };
    let result: unknown;
    try {
      result = hook(ctx);
    } catch (err) {
      this.hookFailed = true;
      if (!settled) this.deny(replyFromErrno(err), err);
      else debug('request hook failed after deciding: %s', (err as Error)?.message);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      // Promise.resolve() adopts any thenable in a job of its own: a then()
      // that throws or calls back twice becomes one settled promise.
      Promise.resolve(result as Promise<void>).then(
        () => {
          if (!settled && !this.socket.destroyed) void this.accept();
        },
        (err) => {
          this.hookFailed = true;
          if (!settled) this.deny(replyFromErrno(err), err);
          else debug('request hook failed after deciding: %s', (err as Error)?.message);
        },
      ).catch(this.crashed);
    } else if (!settled) {
      void this.accept();
    }
  }

  /** The default behaviour for the command. */
  accept(): Promise<void> {
    this.clearTimer();
    // Already answered (the handshake deadline denied an undecided hook).
    if (this.finished) return Promise.resolve();
    const cmd = this.request.command;
    const o = this.options;
    const enabled = o.commands ? o.commands.includes(cmd) : true;
    try {
      // BIND and UDP: the rule list decides on the request as given (CONNECT decides in resolve()).
      if (cmd !== 'connect' && enabled && Array.isArray(o.rules)) this.checkRules(o.rules, undefined);
      if (cmd === 'connect' && enabled) return this.connect();
      const handler = cmd === 'bind' ? (o.bind ?? defaultBind) : cmd === 'udp' ? (o.udp ?? defaultUdp) : undefined;
      if (handler && enabled) return Promise.resolve(handler(this)).catch((err) => this.deny(replyFromErrno(err), err));
    } catch (err) {
      this.deny(replyFromErrno(err), err);
      return Promise.resolve();
    }
    this.deny(Reply.CommandNotSupported);
    return Promise.resolve();
  }

  deny(reply: number, error?: unknown): void {
    if (this.socket.destroyed || this.finished) return;
    this.replyCode = reply;
    // No descriptor for the outbound socket (or a BIND/UDP one): counted and logged; the reply is 01.
    if (isDescriptorExhaustion(error)) this.server.noDescriptor('connect', error);
    const err = error instanceof SocksError ? error : error ? new SocksError('ERR_SOCKS_DENIED', (error as Error).message ?? String(error), reply, { cause: error }) : undefined;
    this.run(this.engine.deny(reply, err));
  }

  reply(bound: SocksAddress): { established: boolean; head: Buffer; socket: Duplex } {
    // Closed by the engine meanwhile: nothing to answer (handlers check `established`).
    if (this.closed) return { established: false, head: EMPTY, socket: this.socket };
    this.replyCode ??= 0;
    this.run(this.engine.accept(bound));
    if (!this.finished) return { established: false, head: EMPTY, socket: this.socket };
    return this.takeStream();
  }

  handoff(opts?: { reply?: number; bound?: SocksAddress }): { socket: Duplex; head: Buffer } {
    this.run(this.engine.handoff(opts));
    this.replyCode = opts?.reply;
    this.how = 'handoff';
    this.server.count('handoffs');
    const { socket, head } = this.takeStream();
    // The application relays a hand-off itself: the socket's own counters,
    // from here on (plus the head), give the record its bytes.
    const raw = this.socket as Partial<net.Socket>;
    if (typeof raw.bytesRead === 'number') this.handoffMark = { read: raw.bytesRead - head.length, written: raw.bytesWritten ?? 0 };
    return { socket, head };
  }

  private handoffMark: { read: number; written: number } | undefined;

  /** Bytes each way: the relay's counter, or the socket's counters since a hand-off. */
  private bytes(): { up: number; down: number } | undefined {
    if (this.counter) return this.counter;
    const m = this.handoffMark;
    if (!m) return undefined;
    const raw = this.socket as net.Socket;
    return { up: raw.bytesRead - m.read, down: (raw.bytesWritten ?? 0) - m.written };
  }

  /** After established/handoff: the client stream (encapsulated if needed) and the head. */
  private takeStream(): { established: true; head: Buffer; socket: Duplex } {
    const head = this.pendingHead ?? EMPTY;
    const enc = this.pendingEnc;
    this.pendingHead = undefined;
    const socket = enc ? encapsulate(this.socket, enc) : this.socket;
    // The handshake is over: let its buffers and state be collected, which
    // matters with thousands of idle tunnels.
    this.engine = DONE_ENGINE;
    return { established: true, head, socket };
  }

  /** Applies a rule list to the request (with `dest`, and the address to dial once known); throws the block. */
  private checkRules(rules: readonly Rule[], address: string | undefined, dest: SocksAddress = this.request.destination, beforeLookup = false): void {
    const input: RuleInput = {
      client: this.source.host,
      method: this.request.method?.name,
      identity: this.request.identity,
      command: this.request.command,
      host: dest.host,
      hostType: dest.type,
      port: dest.port,
      address,
    };
    const v = beforeLookup ? evaluateBeforeLookup(rules, input) : evaluateRules(rules, input);
    if (v?.action === 'block') {
      throw Object.assign(new SocksError('ERR_SOCKS_DENIED', `${this.request.command} ${formatAddress(dest)} blocked by ${v.index < 0 ? 'no matching rule' : `rule ${v.index}`}`, v.reply), { rule: v.index });
    }
  }

  resolve(dest: SocksAddress): Promise<{ address: string; family: number }> {
    return this.candidates(dest).then((c) => c[0]!);
  }

  /** Every address of the destination that the rules allow, interleaved by family (RFC 8305 §4). */
  private async candidates(dest: SocksAddress, signal?: AbortSignal): Promise<Candidate[]> {
    const rules = this.options.rules;
    // A block the list decides on the name alone is decided before any DNS query is sent.
    if (Array.isArray(rules) && dest.type === 'domain') this.checkRules(rules, undefined, dest, true);
    const all = dest.type === 'domain'
      ? await lookupAll(this.options.lookup as AnyLookup | undefined, dest.host, 0, signal)
      : [{ address: dest.host, family: dest.type === 'ipv6' ? 6 as const : 4 as const }];
    // Checked on the resolved address: "0" and "0.0.0.0" as names count too.
    const specified = all.filter((c) => !isUnspecified(c.address));
    if (specified.length === 0) {
      throw new SocksError('ERR_SOCKS_DENIED', `destination ${all.map((c) => c.address).join(', ')} is unspecified`, Reply.NotAllowedByRuleset);
    }
    let allowed = specified;
    if (Array.isArray(rules)) {
      let blocked: unknown;
      allowed = specified.filter((c) => {
        try {
          this.checkRules(rules, c.address, dest);
          return true;
        } catch (err) {
          blocked ??= err;
          return false;
        }
      });
      if (allowed.length === 0) throw blocked;
    } else if (rules) {
      allowed = specified.filter((c) => allowedBy(rules as Ruleset, c.address));
      if (allowed.length === 0) {
        throw new SocksError('ERR_SOCKS_DENIED', `destination ${all.map((c) => c.address).join(', ')} not allowed by ruleset`, Reply.NotAllowedByRuleset);
      }
    }
    return interleave(allowed);
  }

  /**
   * Default CONNECT: resolve, race the allowed addresses (Happy Eyeballs),
   * answer with the real local address of the outbound socket, relay. One
   * timer (connectTimeout) bounds lookup and race together and answers 06
   * when it fires.
   */
  private connect(): Promise<void> {
    const dest = this.request.destination;
    const o = this.options;
    const ms = o.connectTimeout ?? 10000;
    const ac = new AbortController();
    return new Promise<void>((done) => {
      let over = false;
      const fail = (err?: unknown): void => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        this.offClose(fail);
        ac.abort(err);
        if (err) {
          debug('connect %s failed: %s', formatAddress(dest), (err as NodeJS.ErrnoException).code ?? printable(String((err as Error)?.message)));
          this.deny(replyFromErrno(err), err);
        }
        done();
      };
      const timer = setTimeout(() => fail(new TimeoutError('connect', ms)), ms);
      this.onClose(fail);
      this.candidates(dest, ac.signal)
        .then((candidates) => race({ candidates, port: dest.port, allowHalfOpen: true, attemptDelay: o.happyEyeballsDelay, localAddress: o.outboundAddress, signal: ac.signal, connect: dialSocket }))
        .then((sock) => {
          if (over) return void sock.destroy();
          // TCP self-connect (an ephemeral destination port where nothing
          // listens can connect to itself): nobody is there, so refused.
          if (sock.localPort === sock.remotePort && sock.localAddress === sock.remoteAddress) {
            sock.destroy();
            fail(Object.assign(new Error(`connect ECONNREFUSED ${sock.remoteAddress}:${dest.port} (self-connect)`), { code: 'ECONNREFUSED' }));
            return;
          }
          this.dialled = formatAddress(fromNodeAddress(sock.remoteAddress!, sock.remotePort!));
          over = true;
          clearTimeout(timer);
          this.offClose(fail);
          if (o.keepAlive !== false) sock.setKeepAlive(true, o.keepAlive ?? 60000);
          const r = this.reply(fromNodeAddress(sock.localAddress!, sock.localPort!));
          this.relay(r.socket, sock, r.head);
          done();
        }, fail)
        .catch(this.crashed);
    });
  }

  relay(client: Duplex, other: Duplex, head: Buffer): void {
    this.counter = { up: 0, down: 0 };
    relay(client, other, head, { idleTimeout: this.options.idleTimeout ?? 0, lingerTimeout: this.options.lingerTimeout, counter: this.counter });
    this.server.trackUpstream(other);
    this.server.count('tunnels');
    if (this.server.listenerCount('tunnel') > 0) {
      try {
        this.server.emit('tunnel', this.request, this.source);
      } catch (err) {
        // An application listener threw inside a socket event: log it, keep the tunnel and the process.
        debug("a 'tunnel' listener threw: %s", (err as Error)?.message);
      }
    }
  }

  /** @internal The record of this connection, built when it closes and only if someone listens for 'connectionEnd'. */
  record(): ConnectionRecord {
    const req = this.request as SocksRequest | undefined;
    const c = this.counter;
    const b = this.bytes();
    let how = this.how;
    if (!how) how = this.server.closing ? 'shutdown' : c ? (c.end === 'idle' ? 'idle' : c.end === 'reset' ? 'reset' : 'closed') : 'client-left';
    const method = req ? (req.version === 4 ? 'socks4' : req.method?.name) : this.authMethod;
    return {
      time: new Date().toISOString(),
      listener: formatAddress(this.local),
      client: formatAddress(this.source),
      method,
      identity: req ? identityOf(method, req.identity) : undefined,
      command: req?.command,
      destination: req && !this.options.redactDestination ? formatAddress(req.destination) : undefined,
      dialled: this.dialled,
      reply: this.replyCode,
      bytesUp: b?.up ?? 0,
      bytesDown: b?.down ?? 0,
      durationMs: Date.now() - this.t0,
      handshakeMs: this.handshakeMs,
      end: how,
      error: this.errClass,
    };
  }
}

const EMPTY = Buffer.alloc(0);
const DONE_ENGINE = new ServerHandshake({ methods: [] });

/** Ends the socket after pending writes, then destroys it; bounded by a timer. */
function endSoon(socket: Duplex): void {
  const s = socket as net.Socket;
  if (s.destroyed) return;
  if (typeof s.destroySoon === 'function') s.destroySoon();
  else socket.end();
  const t = setTimeout(() => socket.destroy(), 2000);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}
