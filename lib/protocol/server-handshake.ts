/**
 * The server side of a SOCKS handshake, sans-I/O: bytes in, actions out.
 * No sockets, timers or DNS here; lib/server/connection.ts is the Node adapter.
 *
 *   receive(bytes) ─▶ [write | verify | request | established | handoff | close]
 *
 *   version ─┬─ 05 ─▶ greeting ─▶ auth (method session, maybe many rounds,
 *            │                     maybe async verify) ─▶ request ─▶ decide
 *            └─ 04 ─▶ request4 ─▶ (identify) ─▶ decide
 *   decide: the application calls accept(bound) | deny(reply) | handoff()
 *   BIND:   accept(bound) twice: the listening address, then the peer.
 *
 * Any split of the input works (one byte at a time, or greeting + auth +
 * request + payload in one chunk); bytes after the request are kept and
 * returned as `head` with `established` / `handoff`, never dropped. Each state
 * buffers at most the largest legal message of that state. `receive` never
 * throws: a protocol error becomes the exact failure bytes and a `close`.
 */
import { SOCKS4_VERSION, SOCKS5_VERSION, Method, Reply, Socks4Reply, Limits, commandName, CommandName } from './constants.js';
import { SocksError, toSocksError, RemoteProtocolError, LocalProtocolError, AuthError } from './errors.js';
import { encodeFailureReply } from './codec/failure.js';
import { SocksAddress, ANY_IPV4, hex } from './codec/address.js';
import { decodeGreeting, encodeMethodSelection } from './codec/greeting.js';
import { decodeRequest, encodeReply } from './codec/request.js';
import { decodeSocks4Request, encodeSocks4Reply, Socks4Request } from './codec/socks4.js';
import type { AuthMethod, AuthStep, Encapsulation, ServerAuthContext, VerifyResult } from './method.js';
import { HandshakeEngine, PhaseHandler } from './engine.js';

/** A parsed request, handed to the application to decide on. */
export interface SocksRequest {
  version: 4 | 5;
  command: CommandName;
  destination: SocksAddress;
  /** The negotiated method (SOCKS5) or undefined (SOCKS4). */
  method?: AuthMethod<unknown>;
  /**
   * What the method (or the SOCKS4 identify policy) verified. SOCKS4 without
   * an identify policy: null — the USERID is a claim nobody checked (see
   * `userId`), and rules and logs trust only verified identities.
   */
  identity: unknown;
  /** SOCKS4 USERID as sent (unverified unless `identity` says otherwise). */
  userId?: string;
}

export type ServerAction =
  | { type: 'write'; data: Buffer }
  /** Run `check`, then call `verified()` with its outcome. */
  | { type: 'verify'; check: () => unknown }
  /** Decide: accept(), deny() or handoff(). */
  | { type: 'request'; request: SocksRequest }
  /** Relay from here on; `head` is tunnel data already received (plaintext). */
  | { type: 'established'; head: Buffer; encapsulation?: Encapsulation }
  /** The application owns the connection; nothing more is written by the engine. */
  | { type: 'handoff'; head: Buffer; encapsulation?: Encapsulation }
  /** Close the connection after the writes before it. */
  | { type: 'close'; error?: SocksError };

/** Returns the method to use among those offered, or undefined for 05 FF. */
export type MethodSelector = (offered: readonly number[], methods: readonly AuthMethod<unknown>[], ctx: ServerAuthContext) => AuthMethod<unknown> | undefined;

/**
 * SOCKS4 identity policy: the identity itself, or a check that resolves to
 * it (rejects with a SocksError carrying 5B/5C/5D). Whatever it returns is
 * trusted as verified: return `{ identity: null }` for "unknown".
 */
export type Socks4Identify = (request: Socks4Request, ctx: ServerAuthContext) => { identity: unknown } | { check: () => unknown };

export interface ServerHandshakeOptions {
  /** Methods in server preference order. */
  methods: readonly AuthMethod<unknown>[];
  /** Method selection policy; default: the first of `methods` that the client offered. */
  selectMethod?: MethodSelector;
  /** Accept SOCKS4/4a on the same connection (default true). */
  socks4?: boolean;
  /** SOCKS4 identity policy; default: no identity (null), the USERID kept as `userId` only. */
  socks4Identify?: Socks4Identify;
  /** Addresses of this connection, passed to methods and policies. */
  context?: ServerAuthContext;
  /** Bytes of early data kept while a verify or decision is pending (default 64 KiB). */
  maxEarlyData?: number;
}

export const preferServerOrder: MethodSelector = (offered, methods) => {
  for (const m of methods) if (m.server && offered.includes(m.code)) return m;
  return undefined;
};

/**
 * Where the server engine is, i.e. what it waits for next. `auth-verify`,
 * `identify`, `decide` and `bind` wait for the adapter (verified(), accept(),
 * deny(), handoff()); `done` and `closed` are final.
 */
export type ServerPhase =
  | 'version' | 'greeting' | 'auth' | 'auth-verify' | 'request5' | 'request4'
  | 'identify' | 'decide' | 'bind' | 'done' | 'closed';

const NO_ACCEPTABLE = encodeMethodSelection(Method.NoAcceptable);

/** Phases in which a failure is answered with a reply (SOCKS5 REP or SOCKS4 CD). */
const REPLY_EXPECTED: ReadonlySet<ServerPhase> = new Set(['request5', 'request4', 'identify', 'decide', 'bind']);

export class ServerHandshake extends HandshakeEngine<ServerPhase, ServerAction> {
  private readonly opts: ServerHandshakeOptions;
  private readonly ctx: ServerAuthContext;
  private version: 4 | 5 = 5;
  private identity: unknown = null;
  private request: SocksRequest | undefined;
  private s4request: Socks4Request | undefined;

  constructor(options: ServerHandshakeOptions) {
    super('version');
    this.opts = options;
    this.ctx = options.context ?? {};
  }

  /** The current state, for diagnostics and tests. */
  get phase(): ServerPhase {
    return this.state;
  }

  /** The method selected, once the greeting is read. */
  get selected(): AuthMethod<unknown> | undefined {
    return this.method;
  }

  /** The negotiated encapsulation, if the method protects data. */
  get protection(): Encapsulation | undefined {
    return this.encapsulation;
  }

  /** Feeds the outcome of a `verify` action's check. */
  verified(result: VerifyResult): ServerAction[] {
    const out: ServerAction[] = [];
    try {
      if (this.state === 'auth-verify') {
        this.verifiedAuth(out, result);
      } else if (this.state === 'identify') {
        if (!result.ok) throw toSocksError(result.error, Socks4Reply.Rejected);
        this.identity = result.value;
        this.decideSocks4(out);
      } else {
        throw new LocalProtocolError(`verified() in state ${this.state}`);
      }
      this.advance(out);
    } catch (err) {
      this.fail(out, err);
    }
    return out;
  }

  /**
   * Accepts the pending request. CONNECT and UDP: the one success reply with
   * `bound`, then `established`. BIND: the first call answers the listening
   * address, the second the connected peer, then `established`.
   */
  accept(bound: SocksAddress = ANY_IPV4): ServerAction[] {
    if (this.state !== 'decide' && this.state !== 'bind') throw new LocalProtocolError(`accept() in state ${this.state}`);
    const out: ServerAction[] = [];
    this.write(out, this.successReply(bound));
    if (this.state === 'decide' && this.request!.command === 'bind') {
      this.state = 'bind';
      return out;
    }
    this.state = 'done';
    out.push({ type: 'established', head: this.queue.takeAll(), encapsulation: this.encapsulation });
    return out;
  }

  /** Refuses the pending request with `reply` (a SOCKS5 REP; mapped to 5B for SOCKS4 unless it is a 5x code). */
  deny(reply: number = Reply.GeneralFailure, error?: SocksError): ServerAction[] {
    if (this.state !== 'decide' && this.state !== 'bind') throw new LocalProtocolError(`deny() in state ${this.state}`);
    const out: ServerAction[] = [];
    this.write(out, encodeFailureReply(this.version, reply));
    this.close(out, error ?? new SocksError('ERR_SOCKS_DENIED', 'request denied', reply));
    return out;
  }

  /**
   * Gives the connection to the application. With `reply`, that reply is
   * written first (e.g. Reply.Succeeded for a server that terminates the
   * tunnel itself); without, nothing is written.
   */
  handoff(options: { reply?: number; bound?: SocksAddress } = {}): ServerAction[] {
    if (this.state !== 'decide' && this.state !== 'bind') throw new LocalProtocolError(`handoff() in state ${this.state}`);
    const out: ServerAction[] = [];
    if (options.reply !== undefined) {
      const ok = options.reply === Reply.Succeeded || options.reply === Socks4Reply.Granted;
      this.write(out, ok ? this.successReply(options.bound ?? ANY_IPV4) : encodeFailureReply(this.version, options.reply));
    }
    this.state = 'done';
    out.push({ type: 'handoff', head: this.queue.takeAll(), encapsulation: this.encapsulation });
    return out;
  }

  // ---------------------------------------------------------------- internals

  protected runPhase(out: ServerAction[]): boolean {
    return ServerHandshake.handlers[this.state](this, out);
  }

  /** One handler per phase; static, so no closures are made per connection. */
  private static readonly handlers: Record<ServerPhase, PhaseHandler<ServerHandshake, ServerAction>> = {
    version: (h, out) => h.onVersion(out),
    greeting: (h, out) => h.onGreeting(out),
    auth: (h, out) => h.onAuth(out),
    request5: (h, out) => h.onRequest5(out),
    request4: (h, out) => h.onRequest4(out),
    'auth-verify': (h) => h.holdEarlyData(),
    identify: (h) => h.holdEarlyData(),
    decide: (h) => h.holdEarlyData(),
    bind: (h) => h.holdEarlyData(),
    done: () => false,
    closed: () => false,
  };

  /** The first byte picks SOCKS5 or SOCKS4; anything else is closed without a reply. */
  private onVersion(out: ServerAction[]): boolean {
    if (this.queue.length === 0) return false;
    const v = this.queue.at(0);
    if (v === SOCKS5_VERSION) {
      this.state = 'greeting';
    } else if (v === SOCKS4_VERSION) {
      // Even when SOCKS4 is disabled the request is read, so the client gets a 5B.
      this.version = 4;
      this.state = 'request4';
    } else {
      this.close(out, new RemoteProtocolError(`not a SOCKS client (first byte 0x${hex(v)})`, { code: 'ERR_SOCKS_BAD_VERSION', reply: 'none' }));
      return false;
    }
    return true;
  }

  /** VER NMETHODS METHODS: select a method (or 05 FF and close), start its session. */
  private onGreeting(out: ServerAction[]): boolean {
    const g = decodeGreeting(this.queue.peek());
    if (!g) return this.needMoreWithin(Limits.greeting);
    this.queue.skip(g.length);
    const select = this.opts.selectMethod ?? preferServerOrder;
    const m = select(g.methods, this.opts.methods, this.ctx);
    if (!m || !m.server || !g.methods.includes(m.code)) {
      out.push({ type: 'write', data: NO_ACCEPTABLE });
      this.close(out, new AuthError(`no acceptable method among [${g.methods.map((c) => '0x' + hex(c)).join(', ')}]`));
      return false;
    }
    out.push({ type: 'write', data: encodeMethodSelection(m.code) });
    this.startSession(out, m, m.server(this.ctx));
    return true;
  }

  /** VER CMD RSV ATYP DST.ADDR DST.PORT (RFC 1928 §4): hand the request to the application. */
  private onRequest5(out: ServerAction[]): boolean {
    const r = decodeRequest(this.queue.peek());
    if (!r) return this.needMoreWithin(Limits.request5);
    this.queue.skip(r.length);
    const command = commandName(r.request.command);
    if (!command) {
      throw new RemoteProtocolError(`unsupported command 0x${hex(r.request.command)}`, { code: 'ERR_SOCKS_BAD_COMMAND', reply: Reply.CommandNotSupported });
    }
    this.request = { version: 5, command, destination: r.request.destination, method: this.method, identity: this.identity };
    this.state = 'decide';
    out.push({ type: 'request', request: this.request });
    return true;
  }

  /** A SOCKS4/4a request: identify the user (maybe asynchronously), then decide. */
  private onRequest4(out: ServerAction[]): boolean {
    const r = decodeSocks4Request(this.queue.peek());
    if (!r) return this.needMoreWithin(Limits.request4);
    this.queue.skip(r.length);
    if (this.opts.socks4 === false) throw new RemoteProtocolError('SOCKS4 is disabled', { code: 'ERR_SOCKS_SOCKS4_OFF', reply: Socks4Reply.Rejected });
    const command = commandName(r.request.command);
    if (!command || command === 'udp') {
      throw new RemoteProtocolError(`unsupported SOCKS4 command 0x${hex(r.request.command)}`, { code: 'ERR_SOCKS_BAD_COMMAND', reply: Socks4Reply.Rejected });
    }
    this.s4request = r.request;
    const identify = this.opts.socks4Identify;
    const id = identify ? identify(r.request, this.ctx) : { identity: null };
    if ('check' in id) {
      this.state = 'identify';
      out.push({ type: 'verify', check: id.check });
    } else {
      this.identity = id.identity;
      this.decideSocks4(out);
    }
    return true;
  }

  /** Early data while the adapter or application decides: kept for `head`, up to maxEarlyData. */
  private holdEarlyData(): boolean {
    const max = this.opts.maxEarlyData ?? 65536;
    if (this.queue.length > max) {
      throw new SocksError('ERR_SOCKS_BUFFER_LIMIT', `more than ${max} bytes of early data`, Reply.GeneralFailure);
    }
    return false;
  }

  /** Final: drop what is buffered and close with `error`. */
  private close(out: ServerAction[], error: SocksError): void {
    this.state = 'closed';
    this.queue.clear();
    out.push({ type: 'close', error });
  }

  private decideSocks4(out: ServerAction[]): void {
    const r = this.s4request!;
    this.request = { version: 4, command: commandName(r.command) as CommandName, destination: r.destination, identity: this.identity, userId: r.userId };
    this.state = 'decide';
    out.push({ type: 'request', request: this.request });
  }

  protected authDone(_out: ServerAction[], identity: unknown): void {
    this.identity = identity;
    this.state = 'request5';
  }

  protected authFailed(out: ServerAction[], s: AuthStep & { kind: 'fail' }): void {
    this.close(out, s.error);
  }

  protected tooLong(max: number): string {
    return `message exceeds ${max} bytes in state ${this.state}`;
  }

  private successReply(bound: SocksAddress): Buffer {
    if (this.version === 4) return encodeSocks4Reply(Socks4Reply.Granted, bound.type === 'ipv4' ? bound : ANY_IPV4);
    return encodeReply(Reply.Succeeded, bound);
  }

  /** Turns any error into the exact failure bytes for the current phase and a close. */
  protected fail(out: ServerAction[], err: unknown): void {
    const error = toSocksError(err, this.version === 4 ? Socks4Reply.Rejected : Reply.GeneralFailure);
    // Only phases that expect a reply get one; a broken greeting or auth
    // message has no reply format other than closing.
    if (this.expectsReply()) {
      try {
        this.write(out, encodeFailureReply(this.version, error.reply));
      } catch {
        /* encapsulation failed: nothing sensible can be written */
      }
    }
    this.close(out, error);
  }

  /** The request (or SOCKS4 identify) has been read, so the client waits for a reply. */
  private expectsReply(): boolean {
    return REPLY_EXPECTED.has(this.state);
  }
}
