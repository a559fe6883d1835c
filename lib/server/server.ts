/**
 * SocksServer: accepts client connections (a net.Server, or any Duplex given
 * to handle()), enforces the connection limit, counts, and closes everything
 * on close(). Each connection is a Connection (connection.ts), the Node
 * adapter around the sans-I/O ServerHandshake:
 *
 *   socket ──data──▶ ServerHandshake.receive ──actions──▶ write / verify /
 *   request (hook: accept | deny | handoff | relay) / established / close
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
import { SocksAddress, fromNodeAddress } from '../protocol/codec/address.js';
import type { AuthMethod, ServerAuthContext } from '../protocol/method.js';
import { none } from '../../methods/none.js';
import type { SocksServerOptions, CommandHandler, ConnectionControl, ConnectionHost, ConnInfo, LookupFunction, RequestContext } from './types.js';
import { Connection } from './connection.js';
import { TypedEventEmitter } from '../transport/typed-events.js';
import type { SocksServerEvents } from './events.js';
import { ERROR_CLASSES, type ConnectionRecord, type ErrorClass } from './access-log.js';
import { connectionLimit, isDescriptorExhaustion } from './limits.js';

export type { SocksServerOptions, CommandHandler, ConnectionControl, LookupFunction, RequestContext, SocksServerEvents };

const debug = createDebug('sockskit:server');

export class SocksServer extends TypedEventEmitter<SocksServerEvents> implements ConnectionHost {
  #options!: Readonly<SocksServerOptions>;
  readonly netServer: net.Server;
  /** Client connections (what maxConnections counts). */
  private readonly open = new Set<Duplex>();
  /** Connections that have not sent their request yet, oldest first (the eviction order). */
  private readonly handshaking = new Set<Duplex>();
  /** Open connections by TCP peer address, when maxConnectionsPerSource is set. */
  private readonly perSource = new Map<string, number>();
  /** Outbound streams of tunnels, destroyed on close(). */
  private readonly upstreams = new Set<Duplex>();
  private staticMethods: readonly AuthMethod<unknown>[] | undefined;
  private socks4Default = false;
  /** The default connection limit: what the descriptors allow (two per tunnel), read once and only when no maxConnections is given. */
  private defaultMaxConnections: number | undefined;

  constructor(options: SocksServerOptions = {}) {
    super();
    this.reconfigure(options);
    this.netServer = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.handle(s));
    this.netServer.on('error', (err) => {
      // accept() out of descriptors: that client is lost (the kernel keeps it
      // queued or libuv closes it), the server keeps listening.
      if (isDescriptorExhaustion(err)) {
        this.counters.refused++;
        this.noDescriptor('accept', err);
      } else this.emit('error', err);
    });
    this.netServer.on('listening', () => this.emit('listening'));
  }

  get options(): Readonly<SocksServerOptions> {
    return this.#options;
  }

  /**
   * Replaces the options (methods, users, rules, timeouts...) for connections
   * accepted from now on; open connections and tunnels keep the options they
   * started with. This is what a configuration reload calls.
   */
  reconfigure(options: SocksServerOptions): void {
    this.#options = options;
    this.staticMethods = typeof options.methods === 'function' ? undefined : (options.methods ?? [none()]);
    this.socks4Default = this.staticMethods ? this.staticMethods.some((m) => m.code === 0x00) : false;
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
    return this.open.size;
  }

  private readonly counters = { accepted: 0, refused: 0, tunnels: 0, handoffs: 0, bytesUp: 0, bytesDown: 0, noDescriptor: 0 };
  private noDescriptorWarned = 0;
  private noDescriptorSince = 0;
  private readonly errorCounts: Record<string, number> = {};
  private readonly classCounts = Object.fromEntries(ERROR_CLASSES.map((c) => [c, 0])) as Record<ErrorClass, number>;
  private tunnelsOpen = 0;
  closing = false;

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
    return { ...this.counters, open: this.open.size, tunnelsOpen: this.tunnelsOpen, errors: { ...this.errorCounts }, errorClasses: { ...this.classCounts }, auth: this.authStats() };
  }

  /** Methods with counters of their own that methods(ctx) returned (bounded: they should be shared objects). */
  private readonly countedMethods = new Set<AuthMethod<unknown>>();

  /** Each method's own counters (AuthMethod.stats()), summed by method name. */
  private authStats(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const m of new Set([...(this.staticMethods ?? []), ...this.countedMethods])) {
      const s = m.stats?.() as Record<string, unknown> | undefined;
      if (!s) continue;
      const into = (out[m.name] ??= {});
      for (const [k, v] of Object.entries(s)) if (typeof v === 'number') into[k] = (into[k] ?? 0) + v;
    }
    return out;
  }

  /** @internal Counts and reports a connection that ended in an error. */
  clientError(err: SocksError, source: SocksAddress | undefined): void {
    this.errorCounts[err.code] = (this.errorCounts[err.code] ?? 0) + 1;
    this.emit('clientError', err, source);
  }
  /**
   * @internal Counts a socket that could not be had for want of a descriptor,
   * and emits 'warning' (a line for the log) at most once per 10 s.
   */
  noDescriptor(where: 'accept' | 'connect', err: unknown): void {
    this.counters.noDescriptor++;
    this.noDescriptorSince++;
    const now = Date.now();
    if (now - this.noDescriptorWarned < 10000) return;
    this.noDescriptorWarned = now;
    const n = this.noDescriptorSince;
    this.noDescriptorSince = 0;
    debug('out of descriptors (%s): %s', where, (err as NodeJS.ErrnoException).code);
    if (this.listenerCount('warning') > 0) {
      this.emit('warning', `out of file descriptors (${(err as NodeJS.ErrnoException).code} on ${where}; ${n} since the last warning, ${this.counters.noDescriptor} in all): raise the descriptor limit (ulimit -n) or lower the connection limit`);
    }
  }
  /** @internal */
  count(what: 'tunnels' | 'handoffs'): void {
    this.counters[what]++;
    if (what === 'tunnels') this.tunnelsOpen++;
  }
  /** @internal A connection closed: count its bytes and error class, emit 'connectionEnd'. */
  ended(bytes: { up: number; down: number } | undefined, tunnel: boolean, error: ErrorClass | undefined, conn: { record(): ConnectionRecord }): void {
    if (bytes) {
      this.counters.bytesUp += bytes.up;
      this.counters.bytesDown += bytes.down;
    }
    if (tunnel) this.tunnelsOpen--;
    if (error) this.classCounts[error]++;
    if (this.listenerCount('connectionEnd') > 0) this.emit('connectionEnd', conn.record());
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
      if (this.open.size > 0) return;
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
    if (this.netServer.listening) this.netServer.close(cb);
    else if (cb) process.nextTick(cb);
    for (const s of this.open) s.destroy();
    for (const s of this.upstreams) s.destroy();
    return this;
  }

  /**
   * Serves one connection: a net.Socket, or any Duplex (then pass `info`
   * for the addresses policies and BND replies need).
   */
  handle(socket: Duplex, info?: ConnInfo): void {
    const o = this.options;
    const sock = socket as net.Socket;
    const src = info ?? acceptInfo(sock);
    const host = src.remoteAddress ?? '';
    const perSource = o.maxConnectionsPerSource ?? 0;
    if (perSource > 0 && (this.perSource.get(host) ?? 0) >= perSource) {
      this.refuse(socket, src, 'per-source connection limit reached');
      return;
    }
    if (this.open.size >= (o.maxConnections ?? (this.defaultMaxConnections ??= connectionLimit())) && !this.evictOldestHandshake()) {
      this.refuse(socket, src, 'connection limit reached');
      return;
    }
    this.counters.accepted++;
    if (perSource > 0) {
      this.perSource.set(host, (this.perSource.get(host) ?? 0) + 1);
      socket.once('close', () => {
        const n = (this.perSource.get(host) ?? 1) - 1;
        if (n > 0) this.perSource.set(host, n);
        else this.perSource.delete(host);
      });
    }
    new Connection(this, socket, src).start();
  }

  private refuse(socket: Duplex, src: ConnInfo, why: string): void {
    debug('%s, refusing %s', why, src.remoteAddress);
    socket.on('error', noop);
    socket.destroy();
    this.counters.refused++;
    this.classCounts.limit++;
    this.clientError(new SocksError('ERR_SOCKS_DENIED', why), fromNodeAddress(src.remoteAddress, src.remotePort));
  }

  /**
   * Makes room at the limit by closing the connection longest in its
   * handshake: stallers (a byte, then nothing) would otherwise hold every
   * slot until their deadline. Tunnels and decided requests are never closed.
   */
  private evictOldestHandshake(): boolean {
    const oldest = this.handshaking.values().next().value as Duplex | undefined;
    if (!oldest) return false;
    this.handshaking.delete(oldest);
    this.open.delete(oldest);
    debug('connection limit reached: closing the connection longest in its handshake');
    this.clientError(new SocksError('ERR_SOCKS_TIMEOUT', 'closed at the connection limit: longest in its handshake'), undefined);
    oldest.destroy();
    return true;
  }

  /** @internal */
  track(s: Duplex): void {
    this.open.add(s);
    this.handshaking.add(s);
  }
  /** @internal */
  untrack(s: Duplex): void {
    this.open.delete(s);
    this.handshaking.delete(s);
  }
  /** @internal */
  handshakeOver(s: Duplex): void {
    this.handshaking.delete(s);
  }
  /** @internal An outbound stream that close() must also destroy. */
  trackUpstream(s: Duplex): void {
    this.upstreams.add(s);
    s.on('close', () => this.upstreams.delete(s));
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

export interface SocksServerStats {
  accepted: number;
  refused: number;
  open: number;
  tunnels: number;
  tunnelsOpen: number;
  handoffs: number;
  bytesUp: number;
  bytesDown: number;
  /** Accepts and outbound sockets that failed for want of a descriptor (EMFILE/ENFILE). */
  noDescriptor: number;
  errors: Record<string, number>;
  errorClasses: Record<ErrorClass, number>;
  /**
   * Methods' own counters by method name, e.g. `auth.userpass`: attempts,
   * successes, failures, dropped (client left before the check), busy (queue
   * full), throttled (refused unchecked), delayed (failure answered late).
   */
  auth: Record<string, Record<string, number>>;
}

export function createServer(options?: SocksServerOptions): SocksServer {
  return new SocksServer(options);
}

/**
 * The peer's address, read now: once the client has reset, getpeername fails
 * and the connection would be logged and reported as 0.0.0.0:0. The local
 * address stays lazy (a system call most connections never need).
 */
function acceptInfo(s: net.Socket): ConnInfo {
  const remoteAddress = s.remoteAddress;
  const remotePort = s.remotePort;
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
