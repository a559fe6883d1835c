/**
 * The client adapter: drives lib/protocol/client-handshake.ts over a TCP socket (or any
 * Duplex), through one proxy or a chain of them.
 *
 *   connect({ proxy, destination }) ─▶ dial first proxy ─▶ for each hop:
 *       handshake (target = next proxy, or the destination on the last hop)
 *       ─▶ wrap the stream if the hop's method encapsulates
 *   ─▶ { socket, head, bound }
 *
 * Deadlines are per phase (TCP connect to the first proxy, then each hop's
 * handshake); an AbortSignal cancels any phase. On every failure path the
 * socket (and every layer over it) is destroyed before the promise rejects.
 * DNS: a name is resolved locally only when the hop's scheme asks for it
 * (socks5://, socks4://); socks5h:// and socks4a:// send the name.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Method, CommandName } from '../protocol/constants.js';
import { SocksError, LocalProtocolError, TimeoutError, RemoteProtocolError, ReplyError, ProxyUnreachableError } from '../protocol/errors.js';
import { SocksAddress, makeAddress, formatAddress, isZeroAddress, fromNodeAddress, stripBrackets } from '../protocol/codec/address.js';
import { ClientHandshake, ClientAction, ClientVersion } from '../protocol/client-handshake.js';
import { encapsulate } from '../transport/encapsulation-stream.js';
import { lookupAll, interleave, race, type AnyLookup, type SocketOptions } from '../transport/happy-eyeballs.js';
import { none } from '../../methods/none.js';
import { userpass } from '../../methods/userpass.js';
import { runCheck, type AuthMethod, type Encapsulation } from '../protocol/method.js';

const debug = createDebug('sockskit:client');

/**
 * dns.lookup-compatible (the subset connect() calls): asked with `all: true`;
 * a lookup that answers one address (address, family) works too.
 */
export type ClientLookup = AnyLookup;

export interface ProxyConfig {
  host: string;
  port: number;
  /** 5 (default), 4 or '4a'. */
  version?: ClientVersion;
  /**
   * Send names to the proxy (true) or resolve them locally first (false).
   * Default: true for 5 and '4a', false for 4 (SOCKS4 cannot carry a name).
   */
  remoteDns?: boolean;
  /** Methods for this hop (SOCKS5), in preference order; default: the connect() `methods`. */
  methods?: readonly AuthMethod<unknown>[];
  /** SOCKS4 USERID. */
  userId?: string;
}

/** A proxy as an object or a URL: socks5://, socks5h://, socks4://, socks4a://, socks:// (SOCKS4, as curl), with user:pass@. */
export type ProxySpec = ProxyConfig | string | URL;

export interface Destination {
  host: string;
  port: number;
}

export interface ConnectOptions extends SocketOptionsForProxy {
  /** One proxy, or a chain in order (the first is dialled, the last reaches the destination). */
  proxy: ProxySpec | readonly ProxySpec[];
  destination: Destination;
  /** Default 'connect'. For 'bind' see also bind(); for 'udp' see udpAssociate(). */
  command?: CommandName;
  /** Default methods for every hop (client halves): default [none()]. */
  methods?: readonly AuthMethod<unknown>[];
  signal?: AbortSignal;
  /** Reaching the first proxy, ms: its name's lookup and every address tried (default 10000; 0 = none). */
  connectTimeout?: number;
  /** Each hop's handshake, up to its (first) reply, ms (default 10000; 0 = none). */
  handshakeTimeout?: number;
  /** BIND: waiting for the peer after the first reply, ms (default none). */
  acceptTimeout?: number;
  /** Local name resolution (default dns.lookup); also used to dial the first proxy. */
  lookup?: ClientLookup;
  /** Happy Eyeballs (RFC 8305): ms before the first proxy's next address is tried alongside (default 250). */
  happyEyeballsDelay?: number;
  /**
   * Leave bytes that arrived with the final reply in `head` instead of
   * putting them back into `socket` (default false: `socket` yields them
   * first, and `head` is empty).
   */
  keepHead?: boolean;
  /** Run over this stream instead of dialling the first proxy (chaining, tests). Destroyed on failure. */
  socket?: Duplex;
  /** BIND: called with the first reply (the address the proxy listens on). */
  onBound?: (bound: SocksAddress) => void;
}

export interface ConnectResult {
  /** The tunnel; wrapped with encapsulate() when the last hop's method protects data. */
  socket: Duplex;
  /**
   * Empty unless `keepHead` was set (or the tunnel had already ended): the
   * tunnel bytes the proxy sent right after its reply, which then precede
   * anything read from `socket`. By default `socket` yields them itself.
   */
  head: Buffer;
  /** BND from the final reply: outgoing address (CONNECT), the peer (BIND), the relay (UDP). */
  bound: SocksAddress;
  /** The TCP socket to the first proxy (the same as `socket` unless encapsulated or given). */
  transport: Duplex;
  /** The method each hop negotiated (undefined for SOCKS4 hops). */
  methods: (AuthMethod<unknown> | undefined)[];
  /** The last hop's encapsulation, if its method protects data (already applied to `socket`). */
  encapsulation?: Encapsulation;
}

/**
 * Socket options for the TCP leg to the first proxy (ignored with `socket`).
 * `timeout` is the socket's idle timeout (socket.setTimeout: it emits
 * 'timeout' and closes nothing), not a connect deadline (`connectTimeout`).
 */
export type SocketOptionsForProxy = Pick<SocketOptions, 'localAddress' | 'keepAlive' | 'noDelay' | 'timeout'>;

/** A proxy of the chain, parsed and completed (what parseProxy() returns). */
export interface Hop extends Required<Pick<ProxyConfig, 'host' | 'port' | 'version' | 'remoteDns'>> {
  methods: readonly AuthMethod<unknown>[];
  userId?: string;
}

const DEFAULT_PORT = 1080;
const EMPTY = Buffer.alloc(0);
const DEFAULT_TIMEOUT = 10000;

/** Parses a proxy URL or completes a config object. Credentials are percent-decoded. */
export function parseProxy(spec: ProxySpec, defaults: readonly AuthMethod<unknown>[] = [none()]): Hop {
  if (typeof spec !== 'string' && !(spec instanceof URL)) {
    const version = spec.version ?? 5;
    if (version !== 4 && version !== '4a' && version !== 5) throw new LocalProtocolError(`unknown SOCKS version ${String(version)}`);
    checkPort(spec.port, spec.host);
    return {
      host: stripBrackets(spec.host),
      port: spec.port,
      version,
      remoteDns: spec.remoteDns ?? version !== 4,
      methods: spec.methods ?? defaults,
      userId: spec.userId,
    };
  }
  let url: URL;
  try {
    url = typeof spec === 'string' ? new URL(spec) : spec;
  } catch {
    throw new LocalProtocolError(`not a proxy URL: ${JSON.stringify(String(spec).replace(/\/\/[^@/]*@/, '//***@'))}`);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const kind = SCHEMES[scheme];
  if (!kind) throw new LocalProtocolError(`unsupported proxy scheme ${scheme}:// (use socks5, socks5h, socks4, socks4a or socks)`);
  if (!url.hostname) throw new LocalProtocolError('proxy URL has no host');
  const port = url.port ? Number(url.port) : DEFAULT_PORT;
  checkPort(port, url.hostname);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  let methods = defaults;
  if (kind.version === 5 && username !== undefined) {
    // Like curl: offer username/password first, and "none" in case the proxy needs nothing.
    methods = [userpass({ username, password: password ?? '' }), ...defaults.filter((m) => m.code !== Method.UsernamePassword)];
  }
  return {
    host: stripBrackets(url.hostname),
    port,
    version: kind.version,
    remoteDns: kind.remoteDns,
    methods,
    userId: kind.version !== 5 ? username : undefined,
  };
}

const SCHEMES: Record<string, { version: ClientVersion; remoteDns: boolean }> = {
  socks5: { version: 5, remoteDns: false },
  socks5h: { version: 5, remoteDns: true },
  socks4: { version: 4, remoteDns: false },
  socks4a: { version: '4a', remoteDns: true },
  // As curl: socks:// is SOCKS4, names resolved locally.
  socks: { version: 4, remoteDns: false },
};

function checkPort(port: number, host: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new LocalProtocolError(`invalid proxy port ${port} for ${host}`);
}

/**
 * Opens a tunnel through one proxy or a chain. Rejects with ReplyError,
 * AuthError, RemoteProtocolError, TimeoutError, LocalProtocolError (bad
 * options, before any socket is opened), a SocksError ERR_SOCKS_BAD_ADDRESS
 * for a failed local lookup, ProxyUnreachableError for a proxy that refused,
 * timed out or reset (`cause` is the Node error, TimeoutError or the
 * previous hop's ReplyError), or the signal's reason.
 */
export async function connect(options: ConnectOptions): Promise<ConnectResult> {
  const hops = checkConnectOptions(options);
  checkDestination(options.destination);
  options.signal?.throwIfAborted();

  const unreachable = (i: number) => (err: unknown) => new ProxyUnreachableError(hopUrl(hops[i]!), i, hops.length, err);
  const transport = options.socket ?? await dialFirst(hops[0]!, options, unreachable(0));
  let stream: Duplex = transport;
  const methods: (AuthMethod<unknown> | undefined)[] = [];
  // Methods release what they hold (a Kerberos context) when the connection closes.
  const closed = new AbortController();
  if (transport.destroyed) closed.abort();
  else transport.once('close', () => closed.abort());
  const chain: Chain = { hops, transport, closed: closed.signal, unreachable };
  try {
    for (let i = 0; i < hops.length; i++) {
      const { res, method } = await handshakeHop(stream, chain, i, options);
      methods.push(method);
      if (res.encapsulation) stream = encapsulate(stream, res.encapsulation);
      if (i === hops.length - 1) return tunnelOf(stream, res, chain, methods, options);
      // Bytes past an inner hop's reply belong to the next hop's conversation.
      if (res.head.length) stream.unshift(res.head);
    }
    throw new LocalProtocolError('unreachable');
  } catch (err) {
    stream.destroy();
    transport.destroy();
    throw err;
  }
}

/** What every hop's handshake shares: the chain, the TCP leg to its first proxy, the signal of that leg's close. */
interface Chain {
  hops: readonly Hop[];
  transport: Duplex;
  closed: AbortSignal;
  /** The error for proxy `i` refusing, timing out or resetting (ProxyUnreachableError, naming the hop). */
  unreachable: (i: number) => (err: unknown) => ProxyUnreachableError;
}

/** Hop `i`'s handshake over `stream`: CONNECT to the next hop, or the caller's command to the destination on the last. */
async function handshakeHop(stream: Duplex, chain: Chain, i: number, options: ConnectOptions): Promise<{ res: Established; method: AuthMethod<unknown> | undefined }> {
  const { hops, transport } = chain;
  const hop = hops[i]!;
  const last = i === hops.length - 1;
  const target = last ? options.destination : { host: hops[i + 1]!.host, port: hops[i + 1]!.port };
  const where = `SOCKS${hop.version} handshake with ${hop.host}:${hop.port}`;
  // Nothing else listens to the stream during a local lookup: an error (a reset) must not go unhandled.
  const destination = await whileOpen(stream, where, resolveFor(hop, target, options.lookup, options.signal), chain.unreachable(i));
  const hs = new ClientHandshake({
    version: hop.version,
    command: last ? (options.command ?? 'connect') : 'connect',
    destination,
    methods: hop.methods,
    userId: hop.userId,
    context: { proxy: safeAddress(hop.host, hop.port), destination, signal: chain.closed },
  });
  debug('hop %d: %s → %s', i, where, formatAddress(destination));
  const res = await drive(stream, hs, {
    phase: where,
    onSocketError: chain.unreachable(i),
    timeout: options.handshakeTimeout ?? DEFAULT_TIMEOUT,
    acceptTimeout: options.acceptTimeout ?? 0,
    signal: options.signal,
    onReply: (bound) => options.onBound?.(substituteZero(bound, transport, hop, hops.length === 1)),
  }).catch((err: unknown) => {
    // The hop before the next one could not reach it: name the unreachable proxy.
    throw !last && err instanceof ReplyError && UNREACHABLE_REPLIES.has(err.reply) ? chain.unreachable(i + 1)(err) : err;
  });
  return { res, method: hs.selectedMethod };
}

/** The caller's result once the last hop is established. */
function tunnelOf(stream: Duplex, res: Established, chain: Chain, methods: ConnectResult['methods'], options: ConnectOptions): ConnectResult {
  const { hops, transport } = chain;
  const command = options.command ?? 'connect';
  const bound = command === 'connect' ? res.bound : substituteZero(res.bound, transport, hops[hops.length - 1]!, hops.length === 1);
  let head = res.head;
  // No lost bytes: the caller reads them from the socket (unless the tunnel already ended).
  if (!options.keepHead && head.length && !stream.readableEnded) {
    stream.unshift(head);
    head = EMPTY;
  }
  return { socket: stream, head, bound, transport, methods, encapsulation: res.encapsulation };
}

/** connect() through a chain given as a list: each hop with its own version, methods and credentials. */
export function connectChain(proxies: readonly ProxySpec[], options: Omit<ConnectOptions, 'proxy'>): Promise<ConnectResult> {
  return connect({ ...options, proxy: proxies });
}

export interface BindResult {
  /** Where the proxy listens for the peer (first reply; 0.0.0.0/:: replaced by the proxy's address). */
  bound: SocksAddress;
  /** Settles with the second reply: `bound` is the peer, `socket` carries its data. */
  accepted: Promise<ConnectResult>;
  /** Gives up waiting: destroys the control connection. */
  close(): void;
}

/**
 * BIND (RFC 1928 §4, SOCKS4 CD=02): resolves with the first reply; the
 * second arrives through `accepted`. `destination` is the peer expected to
 * connect (its address; many servers only check the IP).
 */
export function bind(options: Omit<ConnectOptions, 'command' | 'onBound'>): Promise<BindResult> {
  return new Promise<BindResult>((resolve, reject) => {
    const controller = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    let first = false;
    const accepted = connect({
      ...options,
      signal,
      command: 'bind',
      onBound: (bound) => {
        first = true;
        resolve({ bound, accepted, close: () => controller.abort(new SocksError('ERR_SOCKS_CLOSED', 'BIND closed by the caller')) });
      },
    });
    accepted.catch((err) => {
      if (!first) reject(err);
    });
  });
}

// ------------------------------------------------------------------ internals

/** SOCKS5 replies that say the next hop could not be reached (network/host unreachable, refused, TTL expired). */
const UNREACHABLE_REPLIES = new Set([0x03, 0x04, 0x05, 0x06]);

/** A hop as a URL without credentials, for errors and logs. */
export function hopUrl(hop: Hop): string {
  const scheme = hop.version === 5 ? (hop.remoteDns ? 'socks5h' : 'socks5') : hop.version === '4a' ? 'socks4a' : 'socks4';
  const host = hop.host.includes(':') ? `[${hop.host}]` : hop.host;
  return `${scheme}://${host}:${hop.port}`;
}

/** dial() to the first proxy; any failure but the caller's abort is a ProxyUnreachableError. */
async function dialFirst(first: Hop, options: ConnectOptions, unreachable: (err: unknown) => SocksError): Promise<net.Socket> {
  try {
    return await dial(first.host, first.port, options, options.connectTimeout ?? DEFAULT_TIMEOUT);
  } catch (err) {
    if (options.signal?.aborted && err === options.signal.reason) throw err;
    throw unreachable(err);
  }
}

const TIMEOUT_KEYS = ['connectTimeout', 'handshakeTimeout', 'acceptTimeout', 'happyEyeballsDelay'] as const;

/**
 * Checks what connect() would use before any socket is opened: the proxy
 * list (every URL or config parsed), the methods and the deadlines. Throws
 * LocalProtocolError; returns the parsed hops. SocksAgent and
 * socksDispatcher() call it from their constructors.
 */
export function checkConnectOptions(options: Pick<ConnectOptions, 'proxy' | 'methods' | (typeof TIMEOUT_KEYS)[number]>): Hop[] {
  if (options === null || typeof options !== 'object') throw new LocalProtocolError('options must be an object');
  if (options.methods !== undefined && (!Array.isArray(options.methods) || options.methods.some((m) => m === null || typeof m !== 'object' || typeof m.code !== 'number'))) {
    throw new LocalProtocolError('methods must be a list of AuthMethod objects');
  }
  for (const k of TIMEOUT_KEYS) {
    const v = options[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new LocalProtocolError(`${k} must be a number of ms >= 0, not ${String(v)}`);
  }
  if (options.proxy === undefined || options.proxy === null) throw new LocalProtocolError('no proxy given');
  const hops = proxyList(options.proxy).map((p) => parseProxy(p, options.methods ?? [none()]));
  if (hops.length === 0) throw new LocalProtocolError('no proxy given');
  return hops;
}

function checkDestination(d: Destination): void {
  if (d === null || typeof d !== 'object' || typeof d.host !== 'string' || d.host === '') throw new LocalProtocolError('destination needs a host');
  if (!Number.isInteger(d.port) || d.port < 0 || d.port > 0xffff) throw new LocalProtocolError(`invalid destination port ${String(d.port)}`);
}

function proxyList(p: ConnectOptions['proxy']): ProxySpec[] {
  return Array.isArray(p) ? [...(p as readonly ProxySpec[])] : [p as ProxySpec];
}

function safeAddress(host: string, port: number): SocksAddress | undefined {
  try {
    return makeAddress(host, port);
  } catch {
    return undefined;
  }
}

/**
 * BND 0.0.0.0 / :: means "the proxy's own address" (explicit for SOCKS4
 * BIND, the de-facto rule for SOCKS5 BIND and UDP). For a single hop that is
 * the peer address of our socket; for a chain, the last proxy's host.
 */
function substituteZero(bound: SocksAddress, transport: Duplex, hop: Hop, single: boolean): SocksAddress {
  if (!isZeroAddress(bound)) return bound;
  const remote = (transport as net.Socket).remoteAddress;
  if (single && typeof remote === 'string') return fromNodeAddress(remote, bound.port);
  return makeAddress(hop.host, bound.port);
}

/** Turns the target into what this hop can carry, resolving locally if the hop wants that. */
async function resolveFor(hop: Hop, target: Destination, lookup: ClientLookup | undefined, signal?: AbortSignal): Promise<SocksAddress> {
  const addr = makeAddress(stripBrackets(target.host), target.port);
  if (addr.type !== 'domain') return addr;
  if (hop.remoteDns && hop.version !== 4) return addr;
  const family = hop.version === 5 ? 0 : 4;
  // A request carries one address: the first of the resolver's answers, in RFC 8305 order.
  let ip: string;
  try {
    ip = interleave(await lookupAll(lookup, addr.host, family, signal))[0]!.address;
  } catch (err) {
    if (signal?.aborted && err === signal.reason) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new SocksError('ERR_SOCKS_BAD_ADDRESS', `cannot resolve ${addr.host}: ${e.code ?? e.message}`, 0x04, { cause: err });
  }
  return makeAddress(ip, addr.port);
}

/** Awaits `p` while watching `stream`: its error or close rejects (and is handled) meanwhile. */
function whileOpen<T>(stream: Duplex, phase: string, p: Promise<T>, onSocketError: (err: Error) => SocksError): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const off = (): void => {
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      off();
      reject(err instanceof SocksError ? err : onSocketError(err));
    };
    const onClose = (): void => {
      off();
      reject(new RemoteProtocolError(`${phase}: the proxy closed the connection`, { code: 'ERR_SOCKS_CLOSED' }));
    };
    if (stream.destroyed) return onClose();
    stream.on('error', onError);
    stream.on('close', onClose);
    p.then(
      (v) => {
        off();
        resolve(v);
      },
      (e: unknown) => {
        off();
        reject(e);
      },
    );
  });
}

/** What dial() reads of ConnectOptions. */
type DialOptions = Pick<ConnectOptions, 'lookup' | 'signal' | 'happyEyeballsDelay' | 'localAddress' | 'keepAlive' | 'noDelay' | 'timeout'>;

/**
 * Reaches the first proxy: every address of its name, raced (Happy
 * Eyeballs), under one deadline and the abort signal; nothing is left open
 * on failure.
 */
export async function dial(host: string, port: number, o: DialOptions, timeout: number): Promise<net.Socket> {
  const ac = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, ac.signal]) : ac.signal;
  const timer = timeout > 0 ? setTimeout(() => ac.abort(new TimeoutError(`connect to proxy ${host}:${port}`, timeout)), timeout) : undefined;
  try {
    const candidates = interleave(await lookupAll(o.lookup, host, 0, signal));
    return await race({
      candidates,
      port,
      signal,
      attemptDelay: o.happyEyeballsDelay,
      localAddress: o.localAddress,
      keepAlive: o.keepAlive,
      noDelay: o.noDelay,
      timeout: o.timeout,
    });
  } finally {
    if (timer) clearTimeout(timer);
  }
}

interface DriveOptions {
  phase: string;
  /** What a socket error (a reset) during the handshake becomes. */
  onSocketError: (err: Error) => SocksError;
  timeout: number;
  acceptTimeout: number;
  signal?: AbortSignal;
  onReply?: (bound: SocksAddress) => void;
}

interface Established {
  bound: SocksAddress;
  head: Buffer;
  encapsulation?: Encapsulation;
}

/**
 * Feeds a stream to the engine until established or error. On return our
 * listeners are removed and nothing after `head` has been read. The caller
 * destroys the stream on rejection.
 */
function drive(stream: Duplex, hs: ClientHandshake, o: DriveOptions): Promise<Established> {
  return new Promise<Established>((resolve, reject) => {
    if (o.signal?.aborted) return reject(o.signal.reason);
    new HandshakeDriver(stream, hs, o, resolve, reject).start();
  });
}

/** One handshake being driven: the engine's actions applied to the stream, settled once. */
class HandshakeDriver {
  private settled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: Duplex,
    private readonly hs: ClientHandshake,
    private readonly o: DriveOptions,
    private readonly resolve: (ok: Established) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(): void {
    const { stream } = this;
    stream.on('readable', this.onReadable);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
    this.o.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.arm(this.o.timeout, this.o.phase);
    this.apply(this.hs.start());
  }

  private arm(ms: number, phase: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = ms > 0 ? setTimeout(() => this.finish(new TimeoutError(phase, ms)), ms) : undefined;
  }

  private finish(err: unknown, ok?: Established): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    const { stream } = this;
    stream.off('readable', this.onReadable);
    stream.off('end', this.onEnd);
    stream.off('close', this.onEnd);
    stream.off('error', this.onError);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    if (ok) this.resolve(ok);
    else this.reject(err);
  }

  private apply(actions: ClientAction[]): void {
    for (const a of actions) {
      if (this.settled) return;
      switch (a.type) {
        case 'write':
          this.stream.write(a.data);
          break;
        case 'verify':
          void runCheck(a.check).then((r) => { if (!this.settled) this.apply(this.hs.verified(r)); }).catch((err: unknown) => this.finish(err));
          break;
        case 'reply':
          this.arm(this.o.acceptTimeout, `${this.o.phase}: waiting for the BIND peer`);
          try {
            this.o.onReply?.(a.bound);
          } catch (err) {
            this.finish(err);
          }
          break;
        case 'established':
          this.finish(undefined, { bound: a.bound, head: a.head, encapsulation: a.encapsulation });
          break;
        case 'error':
          this.finish(a.error);
          break;
      }
    }
  }

  // Paused-mode reads: we take only what the handshake needs; once our
  // 'readable' listener is gone the stream is back in its initial mode, so
  // the caller's 'data' listener or pipe() starts it as usual.
  private readonly onReadable = (): void => {
    let chunk: Buffer | null;
    while (!this.settled && (chunk = this.stream.read() as Buffer | null) !== null) this.apply(this.hs.receive(chunk));
  };
  private readonly onEnd = (): void => this.apply(this.hs.end());
  private readonly onError = (err: Error): void => this.finish(err instanceof SocksError ? err : this.o.onSocketError(err));
  private readonly onAbort = (): void => this.finish(this.o.signal!.reason);
}
