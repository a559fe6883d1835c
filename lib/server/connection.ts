/**
 * One client connection, from accept to relay or hand-off: feeds the socket's
 * bytes to the sans-I/O ServerHandshake and carries out its actions (write,
 * verify, request, established, hand-off, close), runs the deadlines and the
 * request hook, and implements the default CONNECT. The server only accepts
 * and counts (server.ts); BIND and UDP are command handlers (bind.ts,
 * udp-relay.ts).
 */
import net from 'node:net';
import dns from 'node:dns';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Reply } from '../protocol/constants.js';
import { SocksError, TimeoutError, LocalProtocolError, replyFromErrno } from '../protocol/errors.js';
import { SocksAddress, fromNodeAddress, formatAddress, ANY_IPV4 } from '../protocol/codec/address.js';
import { ServerHandshake, ServerAction, SocksRequest } from '../protocol/server-handshake.js';
import { decodeProxyHeader } from '../protocol/codec/proxy-protocol.js';
import type { Encapsulation, ServerAuthContext } from '../protocol/method.js';
import { encapsulate } from '../transport/encapsulation-stream.js';
import { relay } from '../transport/relay.js';
import { dial as dialSocket } from '../transport/socket-reader.js';
import { allowedBy } from './rules.js';
import { bindHandler } from './bind.js';
import { udpHandler } from './udp-relay.js';
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
  private closers: (() => void)[] = [];
  readonly options: Readonly<SocksServerOptions>;

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
    this.timer = setTimeout(this.onDeadline, this.options.handshakeTimeout ?? 10000);
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
    const methods = server.methodsFor(ctx);
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
      if (buf.length > h.length) this.onData(buf.subarray(h.length));
    };
    socket.on('data', onHeader);
  }

  /** Closes a connection whose PROXY header is missing, bad or untrusted. */
  private refuse(err: SocksError): void {
    this.finished = true;
    this.clearTimer();
    debug('closing %s: %s', formatAddress(this.source), err.message);
    this.server.clientError(err, this.source);
    this.socket.destroy();
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
    this.server.untrack(this.socket);
    if (this.abort && !this.abort.signal.aborted) this.abort.abort(new SocksError('ERR_SOCKS_CLOSED', 'the client connection closed'));
    for (const f of this.closers.splice(0)) f();
  };

  private onDeadline = (): void => {
    this.timer = undefined;
    if (this.finished) return;
    const err = new TimeoutError('handshake', this.options.handshakeTimeout ?? 10000);
    debug('handshake deadline for %s', formatAddress(this.source));
    if (this.decided) {
      // The request hook did not decide in time: a reply is due (06; SOCKS4 5B).
      this.deny(Reply.TtlExpired, err);
      return;
    }
    this.server.clientError(err, this.source);
    this.socket.destroy();
  };

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  onClose(f: () => void): void {
    if (this.socket.destroyed) f();
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
            debug('closing %s: %s', formatAddress(this.source), a.error.message);
            this.server.clientError(a.error, this.source);
          }
          endSoon(this.socket);
          break;
      }
    }
  }

  private pendingHead: Buffer | undefined;
  private pendingEnc: Encapsulation | undefined;

  private finish(): void {
    this.finished = true;
    this.clearTimer();
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEarlyEnd);
  }

  private runCheck(check: () => unknown): void {
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(check());
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (value) => this.afterCheck({ ok: true, value }),
      (error) => this.afterCheck({ ok: false, error }),
    );
  }

  private afterCheck(result: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    if (this.socket.destroyed) return;
    this.run(this.engine.verified(result));
    if (!this.finished && this.engine.phase !== 'decide' && this.engine.phase !== 'identify' && this.engine.phase !== 'auth-verify') {
      this.socket.resume();
    }
  }

  // ------------------------------------------------------------ the request

  private onRequest(): void {
    this.decided = true;
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
      if (!settled) this.deny(replyFromErrno(err), err);
      else debug('request hook failed after deciding: %s', (err as Error)?.message);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(
        () => {
          if (!settled && !this.socket.destroyed) void this.accept();
        },
        (err) => {
          if (!settled) this.deny(replyFromErrno(err), err);
          else debug('request hook failed after deciding: %s', (err as Error)?.message);
        },
      );
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
    const err = error instanceof SocksError ? error : error ? new SocksError('ERR_SOCKS_DENIED', (error as Error).message ?? String(error), reply, { cause: error }) : undefined;
    this.run(this.engine.deny(reply, err));
  }

  reply(bound: SocksAddress): { established: boolean; head: Buffer; socket: Duplex } {
    this.run(this.engine.accept(bound));
    if (!this.finished) return { established: false, head: EMPTY, socket: this.socket };
    return this.takeStream();
  }

  handoff(opts?: { reply?: number; bound?: SocksAddress }): { socket: Duplex; head: Buffer } {
    this.run(this.engine.handoff(opts));
    this.server.count('handoffs');
    const { socket, head } = this.takeStream();
    return { socket, head };
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

  resolve(dest: SocksAddress): Promise<{ address: string; family: number }> {
    const rules = this.options.rules;
    const check = (address: string, family: number) => {
      if (rules && !allowedBy(rules, address)) {
        throw new SocksError('ERR_SOCKS_DENIED', `destination ${address} not allowed by ruleset`, Reply.NotAllowedByRuleset);
      }
      return { address, family };
    };
    if (dest.type !== 'domain') return Promise.resolve().then(() => check(dest.host, dest.type === 'ipv6' ? 6 : 4));
    const lookup = this.options.lookup ?? dns.lookup;
    return new Promise((resolve, reject) => {
      lookup(dest.host, {}, (err, address, family) => {
        if (err) return reject(err);
        try {
          resolve(check(address as string, family as number));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /**
   * Default CONNECT: resolve, dial, answer with the real local address of the
   * outbound socket, relay. One timer (connectTimeout) bounds lookup and dial
   * together and answers 06 when it fires.
   */
  private connect(): Promise<void> {
    const dest = this.request.destination;
    const o = this.options;
    const ms = o.connectTimeout ?? 10000;
    return new Promise<void>((done) => {
      let out: net.Socket | undefined;
      let over = false;
      const fail = (err?: unknown): void => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        out?.destroy();
        if (err) {
          debug('connect %s failed: %s', formatAddress(dest), (err as NodeJS.ErrnoException).code ?? (err as Error).message);
          this.deny(replyFromErrno(err), err);
        }
        done();
      };
      const timer = setTimeout(() => fail(new TimeoutError('connect', ms)), ms);
      this.onClose(fail);
      const dial = (host: string, family: number): void => {
        if (over) return;
        const sock = (out = dialSocket({ host, port: dest.port, family, allowHalfOpen: true, noDelay: true }));
        sock.on('error', fail);
        sock.on('connect', () => {
          if (over) return;
          over = true;
          clearTimeout(timer);
          sock.removeListener('error', fail);
          this.offClose(fail);
          const r = this.reply(fromNodeAddress(sock.localAddress, sock.localPort));
          this.relay(r.socket, sock, r.head);
          done();
        });
      };
      if (dest.type !== 'domain' && o.rules === undefined) {
        dial(dest.host, dest.type === 'ipv6' ? 6 : 4);
        return;
      }
      this.resolve(dest).then(({ address, family }) => dial(address, family), fail);
    });
  }

  relay(client: Duplex, other: Duplex, head: Buffer): void {
    relay(client, other, head, { idleTimeout: this.options.idleTimeout ?? 0, lingerTimeout: this.options.lingerTimeout });
    this.server.trackUpstream(other);
    this.server.count('tunnels');
    if (this.server.listenerCount('tunnel') > 0) this.server.emit('tunnel', this.request, this.source);
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
