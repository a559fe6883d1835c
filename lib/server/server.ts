/**
 * SocksServer: accepts client connections (a net.Server, or any Duplex given
 * to handle()), enforces the connection limit, counts, and closes everything
 * on close(). The connection sets and counters are its ConnectionRegistry
 * (registry.ts), the rules its compiled Policy (policy.ts). Each connection
 * is a Connection (connection.ts), the Node adapter around the sans-I/O
 * ServerHandshake, and each command a CommandHandler (commands/):
 *
 *   socket ──data──▶ ServerHandshake.receive ──actions──▶ write / verify /
 *   request (hook: accept | deny | handoff | relay → connect | bind | udp) /
 *   established / close
 *
 * Guarantees: a handshake deadline; full-length failure replies; bytes after
 * the request reach the destination (or the hand-off) first and in order;
 * sockets are destroyed on every error path; memory per connection is
 * bounded (the engine bounds buffering, the relay respects backpressure).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { SocksError } from '../protocol/errors.js';
import { SocksAddress, fromNodeAddress, isUnspecified } from '../protocol/codec/address.js';
import type { AuthMethod, ServerAuthContext } from '../protocol/method.js';
import { none } from '../../methods/none.js';
import type { SocksServerOptions, CommandHandler, ConnectionControl, ConnectionHost, ConnInfo, EndedConnection, LookupFunction } from './types.js';
import type { SocksRequest } from '../protocol/server-handshake.js';
import type { RequestContext } from './request-context.js';
import { Connection } from './connection.js';
import { TypedEventEmitter } from '../transport/typed-events.js';
import type { SocksServerEvents } from './events.js';
import { isDescriptorExhaustion } from './limits.js';
import { ConnectionLimits } from './connection-limits.js';
import { ConnectionRegistry, type SocksServerStats } from './registry.js';
import { compileRules, type Policy } from './policy.js';
import { DEFAULTS } from './defaults.js';
import { waitsForKeepAlive } from '../transport/keepalive-later.js';
import { useSplice, SPLICE_AFTER } from '../transport/splice.js';

export type { SocksServerOptions, SocksServerStats, CommandHandler, ConnectionControl, LookupFunction, RequestContext, SocksServerEvents };

const debug = createDebug('sockskit:server');

export class SocksServer extends TypedEventEmitter<SocksServerEvents> implements ConnectionHost {
  #options!: Readonly<SocksServerOptions>;
  readonly netServer: net.Server;
  /** @internal The connection sets and counters. */
  readonly registry = new ConnectionRegistry();
  /** @internal The rules of the current options, compiled. */
  policy!: Policy;
  private staticMethods: readonly AuthMethod<unknown>[] | undefined;
  private socks4Default = false;
  /** The limits this server counts against: options.limits (shared by a process's listeners), or its own. */
  limits!: ConnectionLimits;
  private ownLimits: ConnectionLimits | undefined;
  private noDescriptorWarned = 0;
  /** @internal Counts reconfigures (connections compare it with the one they began under). */
  generation = 0;
  /** @internal RelayOptions.spliceAfter for new tunnels (options.splice and spliceAfter; undefined: JavaScript only). */
  spliceAfter: number | undefined;
  private noDescriptorSince = 0;
  closing = false;
  /** The listening socket has TCP_NODELAY, and the keepalive it passes on to accepted sockets (undefined: none set). */
  private listenerNoDelay = false;
  private listenerKeepAlive: number | false | undefined;
  /** The listening address when it is not a wildcard one. */
  private listenerLocal: { address: string; port: number } | undefined;
  /** Runs while tunnels wait for their keepalive (armKeepAlive). */
  private keepAliveTimer: NodeJS.Timeout | undefined;

  constructor(options: SocksServerOptions = {}) {
    super();
    this.reconfigure(options);
    this.netServer = net.createServer({ allowHalfOpen: true }, (s) => this.accepted(s));
    this.netServer.on('error', (err) => {
      // accept() out of descriptors: that client is lost (the kernel keeps it
      // queued or libuv closes it), the server keeps listening.
      if (isDescriptorExhaustion(err)) {
        this.registry.counts.refused++;
        this.noDescriptor('accept', err);
      } else this.emit('error', err);
    });
    this.netServer.on('listening', () => {
      const a = this.netServer.address();
      // Bound to one address, every accepted socket has it as its local address (no getsockname per connection).
      this.listenerLocal = a && typeof a === 'object' && !isUnspecified(a.address) ? { address: a.address, port: a.port } : undefined;
      this.tuneListener();
      this.emit('listening');
    });
  }

  /**
   * Sets TCP_NODELAY and the keepalive options on the listening socket
   * itself: Linux copies them to every socket it accepts, which saves five
   * setsockopt calls per connection. Where the handle cannot (a pipe, a
   * cluster worker whose primary accepts), each socket gets them instead.
   */
  private tuneListener(): void {
    const h = (this.netServer as unknown as { _handle?: ListenHandle | null })._handle;
    const ka = this.options.keepAlive === false ? false : (this.options.keepAlive ?? DEFAULTS.keepAlive);
    this.listenerNoDelay = false;
    this.listenerKeepAlive = undefined;
    if (process.platform !== 'linux' || !h || typeof h.setNoDelay !== 'function' || typeof h.setKeepAlive !== 'function') return;
    // A non-zero return is an errno (the handle is not a TCP socket after all): per socket, then.
    if (h.setNoDelay(true) !== 0) return;
    this.listenerNoDelay = true;
    if (h.setKeepAlive(ka !== false, ka === false ? 0 : Math.floor(ka / 1000)) === 0) this.listenerKeepAlive = ka;
  }

  /** A socket from our own listener: what the listening socket did not pass on, set here. */
  private accepted(s: net.Socket): void {
    if (!this.listenerNoDelay) s.setNoDelay(true);
    this.handle(s, acceptInfo(s, this.listenerLocal), this.listenerKeepAlive);
  }

  get options(): Readonly<SocksServerOptions> {
    return this.#options;
  }

  /**
   * Replaces the options (methods, users, rules, timeouts...) for connections
   * accepted from now on. The new rules also judge every decision still to
   * come on open connections (a request not yet decided, each new UDP
   * destination), and an open UDP association whose user is no longer
   * accepted ends; open TCP tunnels go on. This is what a configuration
   * reload calls.
   */
  reconfigure(options: SocksServerOptions): void {
    const first = this.#options === undefined;
    this.#options = options;
    this.limits = options.limits ?? (this.ownLimits ??= new ConnectionLimits());
    this.policy = compileRules(options.rules);
    // 'on' without the addon throws here: at start-up (or a reload), not per tunnel.
    this.spliceAfter = useSplice(options.splice) ? (options.spliceAfter ?? SPLICE_AFTER) : undefined;
    this.staticMethods = typeof options.methods === 'function' ? undefined : (options.methods ?? [none()]);
    this.socks4Default = this.staticMethods ? this.staticMethods.some((m) => m.code === 0x00) : false;
    // A reload may change keepAlive: the listening socket passes the new value on from now on.
    if (this.netServer?.listening) this.tuneListener();
    // Sockets waiting for keepalive are armed within a third of the new delay, not the old one.
    if (this.keepAliveTimer) this.startKeepAliveTimer();
    if (first) return;
    this.generation++;
    this.registry.reconfigured();
  }

  /** Same arguments as net.Server#listen. */
  listen(...args: unknown[]): this {
    (this.netServer.listen as (...a: unknown[]) => unknown).apply(this.netServer, args);
    return this;
  }

  address(): ReturnType<net.Server['address']> {
    return this.netServer.address();
  }

  /** Open connections (handshakes and tunnels). */
  get connections(): number {
    return this.registry.open.size;
  }

  /**
   * Counters since the server was created, for metrics: connections accepted
   * and refused at the limit, open now, tunnels relayed (and open now),
   * hand-offs, accepts and outbound sockets that failed for want of a
   * descriptor (EMFILE/ENFILE, `noDescriptor`), bytes each way through tunnels that have ended (up: client to
   * destination), and connections that ended in an error, by `SocksError`
   * code (`errors`) and by class (`errorClasses`: refused, unreachable,
   * not-found, timeout, ruleset, hook, auth, protocol, command, limit, other).
   */
  stats(): SocksServerStats {
    return { ...this.registry.stats(), auth: this.authStats() };
  }

  /** Methods with counters of their own that methods(ctx) returned (bounded: they should be shared objects). */
  private readonly countedMethods = new Set<AuthMethod<unknown>>();

  /** @internal The methods with counters of their own (AuthMethod.stats()) this server has used. */
  methodsWithStats(): Set<AuthMethod<unknown>> {
    return new Set([...(this.staticMethods ?? []), ...this.countedMethods].filter((m) => m.stats));
  }

  /** Each method's own counters (AuthMethod.stats()), summed by method name. */
  private authStats(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const m of this.methodsWithStats()) {
      const s = m.stats?.() as Record<string, unknown> | undefined;
      if (!s) continue;
      const into = (out[m.name] ??= {});
      for (const [k, v] of Object.entries(s)) if (typeof v === 'number') into[k] = (into[k] ?? 0) + v;
    }
    return out;
  }

  /** @internal Counts and reports a connection that ended in an error. */
  clientError(err: SocksError, source: SocksAddress | undefined): void {
    this.registry.errorCode(err.code);
    this.emit('clientError', err, source);
  }
  /**
   * @internal Counts a socket that could not be had for want of a descriptor,
   * and emits 'warning' (a line for the log) at most once per 10 s.
   */
  noDescriptor(where: 'accept' | 'connect' | 'bind' | 'udp', err: unknown): void {
    const total = ++this.registry.counts.noDescriptor;
    this.noDescriptorSince++;
    const now = Date.now();
    if (now - this.noDescriptorWarned < DEFAULTS.descriptorWarningInterval) return;
    this.noDescriptorWarned = now;
    const n = this.noDescriptorSince;
    this.noDescriptorSince = 0;
    debug('out of descriptors (%s): %s', where, (err as NodeJS.ErrnoException).code);
    if (this.listenerCount('warning') > 0) {
      this.emit('warning', `out of file descriptors (${(err as NodeJS.ErrnoException).code} on ${where}; ${n} since the last warning, ${total} in all): raise the descriptor limit (ulimit -n) or lower the connection limit`);
    }
  }
  /** @internal A connection closed: count its bytes and error class, emit 'connectionEnd' with its record. */
  ended(conn: EndedConnection): void {
    const { ledger } = conn;
    this.registry.ended(ledger.bytes(conn.socket), ledger.relayed, ledger.error, ledger.healthCheck);
    if (this.listenerCount('connectionEnd') > 0) this.emit('connectionEnd', ledger.record(conn, this.closing, conn.options.redactDestination));
  }
  /** The keepalive delay now (a tunnel opened while it was on keeps it on: the default then). */
  private keepAliveDelay(): number {
    const ka = this.options.keepAlive;
    return typeof ka === 'number' ? ka : DEFAULTS.keepAlive;
  }

  /** Every third of the keepalive delay: the tunnels' outbound sockets marked since get keepalive (keepalive-later.ts). */
  private readonly armKeepAlive = (): void => {
    if (this.registry.armKeepAlive(this.keepAliveDelay())) return;
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  };

  /** (Re)starts armKeepAlive at a third of the delay in force. */
  private startKeepAliveTimer(): void {
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = setInterval(this.armKeepAlive, Math.floor(this.keepAliveDelay() / 3)).unref();
  }

  /** @internal A tunnel the server relays: counted, its outbound stream closed by close(), 'tunnel' emitted. */
  tunnelOpened(conn: { readonly request: SocksRequest; readonly source: SocksAddress }, upstream: Duplex): void {
    this.registry.trackUpstream(upstream);
    this.registry.tunnel();
    if (waitsForKeepAlive(upstream) && !this.keepAliveTimer) this.startKeepAliveTimer();
    if (this.listenerCount('tunnel') === 0) return;
    try {
      this.emit('tunnel', conn.request, conn.source);
    } catch (err) {
      // An application listener threw inside a socket event: log it, keep the tunnel and the process.
      debug("a 'tunnel' listener threw: %s", (err as Error)?.message);
    }
  }

  /**
   * Graceful stop: stops accepting now, lets open connections finish, and
   * destroys what is still open after `timeoutMs` (0: at once). `cb` runs
   * when every connection is gone.
   */
  drain(timeoutMs: number, cb?: () => void): void {
    if (this.netServer.listening) this.netServer.close();
    const t = timeoutMs > 0 ? setTimeout(() => this.close(), timeoutMs) : undefined;
    const check = (): void => {
      if (this.registry.open.size > 0) return;
      if (t) clearTimeout(t);
      this.removeListener('connectionEnd', check);
      cb?.();
    };
    this.on('connectionEnd', check);
    if (timeoutMs <= 0) this.close();
    check();
  }

  /** Stops listening and destroys every open connection. */
  close(cb?: (err?: Error) => void): this {
    this.closing = true;
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    if (this.netServer.listening) this.netServer.close(cb);
    else if (cb) process.nextTick(cb);
    this.registry.destroyAll();
    return this;
  }

  /**
   * Serves one connection: a net.Socket, or any Duplex (then pass `info`
   * for the addresses policies and BND replies need).
   */
  handle(socket: Duplex, info?: ConnInfo, inheritedKeepAlive?: number | false): void {
    const o = this.options;
    const limits = this.limits;
    const src = info ?? acceptInfo(socket as net.Socket);
    const host = src.remoteAddress ?? '';
    const perSource = o.maxConnectionsPerSource ?? 0;
    if (perSource > 0 && limits.fromSource(host) >= perSource) {
      this.refuse(socket, src, 'per-source connection limit reached');
      return;
    }
    if (limits.full(o.maxConnections) && !this.evictOldestHandshake()) {
      this.refuse(socket, src, 'connection limit reached');
      return;
    }
    this.registry.accepted();
    limits.admit(socket, host, perSource > 0);
    new Connection(this, socket, src).start(inheritedKeepAlive);
  }

  private refuse(socket: Duplex, src: ConnInfo, why: string): void {
    debug('%s, refusing %s', why, src.remoteAddress);
    socket.on('error', noop);
    socket.destroy();
    this.registry.refused();
    this.clientError(new SocksError('ERR_SOCKS_DENIED', why), fromNodeAddress(src.remoteAddress, src.remotePort));
  }

  /**
   * Makes room at the limit by closing the connection longest in its
   * handshake: stallers (a byte, then nothing) would otherwise hold every
   * slot until their deadline. Tunnels and decided requests are never closed.
   */
  private evictOldestHandshake(): boolean {
    const oldest = this.limits.evictOldest();
    if (!oldest) return false;
    debug('connection limit reached: closing the connection longest in its handshake');
    this.clientError(new SocksError('ERR_SOCKS_TIMEOUT', 'closed at the connection limit: longest in its handshake'), undefined);
    oldest.destroy();
    return true;
  }

  /** @internal */
  methodsFor(ctx: ServerAuthContext): readonly AuthMethod<unknown>[] {
    const m = this.options.methods;
    if (typeof m !== 'function') return this.staticMethods!;
    const list = m(ctx);
    for (const x of list) if (x.stats && this.countedMethods.size < 64) this.countedMethods.add(x);
    return list;
  }
  /** @internal */
  socks4For(methods: readonly AuthMethod<unknown>[]): boolean {
    if (this.options.socks4 !== undefined) return this.options.socks4;
    return this.staticMethods ? this.socks4Default : methods.some((m) => m.code === 0x00);
  }
}

export function createServer(options?: SocksServerOptions): SocksServer {
  return new SocksServer(options);
}

/**
 * The peer's address, read now: once the client has reset, getpeername fails
 * and the connection would be logged and reported as 0.0.0.0:0. The local
 * address stays lazy (a system call most connections never need).
 */
function acceptInfo(s: net.Socket, local?: { address: string; port: number }): ConnInfo {
  const remoteAddress = s.remoteAddress;
  const remotePort = s.remotePort;
  if (local) return { remoteAddress, remotePort, localAddress: local.address, localPort: local.port };
  return {
    remoteAddress,
    remotePort,
    get localAddress() {
      return s.localAddress;
    },
    get localPort() {
      return s.localPort;
    },
  };
}

function noop(): void {}

/** The listening TCP handle's setters (libuv's uv_tcp_nodelay/uv_tcp_keepalive; 0 or an errno). */
interface ListenHandle {
  setNoDelay?: (on: boolean) => number;
  setKeepAlive?: (on: boolean, delaySeconds: number) => number;
}
