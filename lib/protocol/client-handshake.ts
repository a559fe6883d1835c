/**
 * The client side of a SOCKS handshake, sans-I/O: bytes in, actions out. The
 * mirror of lib/protocol/server-handshake.ts; lib/client/connect.ts is the Node adapter.
 *
 *   start() / receive(bytes) / verified(result) / end()
 *        ─▶ [write | verify | reply | established | error]
 *
 *   SOCKS5:  greeting ─▶ method selection ─▶ auth (the method's client half,
 *            maybe many rounds, maybe async verify, maybe an encapsulation)
 *            ─▶ request ─▶ reply (BIND: two replies)
 *   SOCKS4/4a: request ─▶ 8-byte reply (BIND: two replies)
 *
 * The server's answers may be split anywhere or coalesced; each reply is
 * framed by its ATYP (10, 22 or 7+N bytes), never assumed to be 10 bytes.
 * Bytes the server sends after its final reply belong to the tunnel and come
 * back as `head`. No method reads more than it consumes, so nothing is lost.
 * `start`, `receive`, `verified` and `end` never throw: any failure becomes
 * one `error` action, after which the engine is closed.
 */
import { Method, Reply, Socks4Reply, commandCode, CommandName } from './constants.js';
import { SocksError, toSocksError, RemoteProtocolError, LocalProtocolError, AuthError, ReplyError } from './errors.js';
import { SocksAddress, formatAddress, hex } from './codec/address.js';
import { encodeGreeting, decodeMethodSelection } from './codec/greeting.js';
import { encodeRequest, decodeReply } from './codec/request.js';
import { encodeSocks4Request, decodeSocks4Reply } from './codec/socks4.js';
import type { AuthMethod, AuthStep, ClientAuthContext, Encapsulation, VerifyResult } from './method.js';
import { NO_AUTH } from './no-auth.js';
import { HandshakeEngine, PhaseHandler } from './engine.js';

export type ClientAction =
  | { type: 'write'; data: Buffer }
  /** Run `check` (maybe async), then call `verified()` with its outcome. */
  | { type: 'verify'; check: () => unknown }
  /** BIND only: the first reply, the address the proxy listens on. */
  | { type: 'reply'; bound: SocksAddress }
  /**
   * The tunnel is open. `bound` is BND from the (last) reply: the proxy's
   * outgoing address (CONNECT), the peer (BIND), the relay (UDP). `head` is
   * tunnel data already received, as plaintext.
   */
  | { type: 'established'; bound: SocksAddress; head: Buffer; encapsulation?: Encapsulation }
  /** The handshake failed; close the connection. */
  | { type: 'error'; error: SocksError };

export type ClientVersion = 4 | '4a' | 5;

export interface ClientHandshakeOptions {
  /** 5 (default), 4 or '4a'. With 4, a domain destination is a usage error (resolve it first). */
  version?: ClientVersion;
  command?: CommandName;
  destination: SocksAddress;
  /** SOCKS5: methods to offer, in order; only those with a client half count. Default: none only. */
  methods?: readonly AuthMethod<unknown>[];
  /** SOCKS4 USERID. */
  userId?: string;
  /** Passed to the method sessions. */
  context?: ClientAuthContext;
}

/** Where the client engine is, i.e. what it waits for next; `done` and `closed` are final. */
export type ClientPhase =
  | 'idle' | 'method' | 'auth' | 'auth-verify' | 'reply5' | 'reply4'
  | 'done' | 'closed';

/** Largest SOCKS5 reply: VER REP RSV ATYP LEN NAME(255) PORT. */
const MAX_REPLY5 = 4 + 1 + 255 + 2;
/** What we keep while our own verify check runs. */
const MAX_EARLY = 65536;

export class ClientHandshake extends HandshakeEngine<ClientPhase, ClientAction> {
  private readonly opts: ClientHandshakeOptions;
  private readonly offered: AuthMethod<unknown>[];
  private readonly command: CommandName;
  /** BIND: how many replies have been seen. */
  private replies = 0;

  constructor(options: ClientHandshakeOptions) {
    super('idle');
    this.opts = options;
    this.command = options.command ?? 'connect';
    this.offered = (options.methods ?? []).filter((m) => typeof m.client === 'function');
  }

  /** The current state, for diagnostics and error messages. */
  get phase(): ClientPhase {
    return this.state;
  }

  /** The method the proxy selected (SOCKS5), once known. */
  get selectedMethod(): AuthMethod<unknown> | undefined {
    return this.method;
  }

  get version(): 4 | 5 {
    return this.opts.version === 4 || this.opts.version === '4a' ? 4 : 5;
  }

  /** Opens the handshake: the greeting (SOCKS5) or the whole request (SOCKS4). */
  start(): ClientAction[] {
    const out: ClientAction[] = [];
    try {
      if (this.state !== 'idle') throw new LocalProtocolError(`start() in state ${this.state}`);
      if (this.version === 4) {
        this.write(out, this.socks4Request());
        this.state = 'reply4';
      } else {
        if (this.offered.length === 0 && this.opts.methods !== undefined) {
          throw new LocalProtocolError('none of the given methods has a client half');
        }
        const codes = this.offered.length ? this.offered.map((m) => m.code) : [Method.NoAuth];
        this.write(out, encodeGreeting([...new Set(codes)]));
        this.state = 'method';
      }
    } catch (err) {
      this.fail(out, err);
    }
    return out;
  }

  /** Feeds the outcome of a `verify` action's check. */
  verified(result: VerifyResult): ClientAction[] {
    const out: ClientAction[] = [];
    try {
      if (this.state !== 'auth-verify') throw new LocalProtocolError(`verified() in state ${this.state}`);
      this.verifiedAuth(out, result);
      this.advance(out);
    } catch (err) {
      this.fail(out, err);
    }
    return out;
  }

  /** The proxy closed (or half-closed) the connection: an error unless already established. */
  end(): ClientAction[] {
    if (this.isFinal()) return [];
    const out: ClientAction[] = [];
    const what = this.state === 'idle' ? 'before the handshake' : `while waiting for ${WAITING[this.state]}`;
    const partial = this.queue.length ? ` (${this.queue.length} bytes of a truncated message)` : '';
    this.fail(out, new RemoteProtocolError(`proxy closed the connection ${what}${partial}`, { code: 'ERR_SOCKS_CLOSED' }));
    return out;
  }

  // ---------------------------------------------------------------- internals

  protected runPhase(out: ClientAction[]): boolean {
    return ClientHandshake.handlers[this.state](this, out);
  }

  /** One handler per phase; static, so no closures are made per connection. */
  private static readonly handlers: Record<ClientPhase, PhaseHandler<ClientHandshake, ClientAction>> = {
    method: (h, out) => h.onMethodSelection(out),
    auth: (h, out) => h.onAuth(out),
    reply5: (h, out) => h.onReply5(out),
    reply4: (h, out) => h.onReply4(out),
    // The server may already be answering (pipelined); keep it, bounded.
    'auth-verify': (h) => h.needMoreWithin(MAX_EARLY),
    // receive() before start(): the queued bytes are dropped by the failure.
    idle: () => {
      throw new LocalProtocolError('receive() before start()');
    },
    done: () => false,
    closed: () => false,
  };

  /** VER METHOD: the proxy's choice among the offered methods; start its session. */
  private onMethodSelection(out: ClientAction[]): boolean {
    const sel = decodeMethodSelection(this.queue.peek());
    if (!sel) return false;
    this.queue.skip(sel.length);
    if (sel.method === Method.NoAcceptable) {
      const names = this.offered.length ? this.offered.map((m) => m.name).join(', ') : 'none';
      throw new AuthError(`proxy accepted none of the offered methods (${names}): 05 FF`);
    }
    const m = this.offered.find((x) => x.code === sel.method)
      ?? (this.offered.length === 0 && sel.method === Method.NoAuth ? NO_AUTH : undefined);
    if (!m) throw new RemoteProtocolError(`proxy selected method 0x${hex(sel.method)}, which was not offered`, { code: 'ERR_SOCKS_NO_METHOD' });
    this.startSession(out, m, m.client!(this.opts.context ?? {}));
    return true;
  }

  /** VER REP RSV ATYP BND.ADDR BND.PORT (RFC 1928 §6). */
  private onReply5(out: ClientAction[]): boolean {
    const r = decodeReply(this.queue.peek());
    if (!r) return this.needMoreWithin(MAX_REPLY5);
    this.queue.skip(r.length);
    if (r.reply !== Reply.Succeeded) throw new ReplyError(r.reply, 5);
    return !this.onSuccess(out, r.bound);
  }

  /** VN CD DSTPORT DSTIP: eight bytes, CD 5A is success. */
  private onReply4(out: ClientAction[]): boolean {
    const r = decodeSocks4Reply(this.queue.peek());
    if (!r) return false;
    this.queue.skip(r.length);
    if (r.reply !== Socks4Reply.Granted) throw new ReplyError(r.reply, 4);
    return !this.onSuccess(out, r.bound);
  }

  /** A success reply. Returns true when the handshake is over. */
  private onSuccess(out: ClientAction[], bound: SocksAddress): boolean {
    this.replies++;
    if (this.command === 'bind' && this.replies === 1) {
      out.push({ type: 'reply', bound });
      return false;
    }
    this.state = 'done';
    out.push({ type: 'established', bound, head: this.queue.takeAll(), encapsulation: this.encapsulation });
    return true;
  }

  /** Authenticated: send the request. */
  protected authDone(out: ClientAction[]): void {
    this.write(out, encodeRequest(commandCode(this.command), this.opts.destination));
    this.state = 'reply5';
  }

  protected authFailed(_out: ClientAction[], s: AuthStep & { kind: 'fail' }): void {
    throw s.error instanceof SocksError ? s.error : new AuthError(String(s.error), this.method?.code);
  }

  private socks4Request(): Buffer {
    const d = this.opts.destination;
    if (this.command === 'udp') throw new LocalProtocolError('SOCKS4 has no UDP ASSOCIATE');
    if (d.type === 'ipv6') throw new LocalProtocolError(`SOCKS4 cannot carry the IPv6 address ${formatAddress(d)}`);
    if (d.type === 'domain' && this.opts.version === 4) {
      throw new LocalProtocolError(`SOCKS4 cannot carry the name ${d.host}: resolve it first or use SOCKS4a`);
    }
    return encodeSocks4Request(commandCode(this.command), d, this.opts.userId ?? '');
  }

  protected tooLong(max: number): string {
    return `proxy sent more than ${max} bytes in state ${this.state}`;
  }

  protected fail(out: ClientAction[], err: unknown): void {
    this.state = 'closed';
    this.queue.clear();
    out.push({ type: 'error', error: toSocksError(err) });
  }
}

const WAITING: Record<ClientPhase, string> = {
  idle: 'nothing',
  method: 'the method selection',
  auth: 'the authentication reply',
  'auth-verify': 'a local check',
  reply5: 'the SOCKS5 reply',
  reply4: 'the SOCKS4 reply',
  done: 'nothing',
  closed: 'nothing',
};

