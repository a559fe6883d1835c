/**
 * The Electrum token gate: bwt's "SOCKS5 as an auth wrapper" trick
 * (docs/protocols.md §3) as SocksServer options (two methods, a method
 * selector and a request hook), not a method of its own: it lives with
 * the Electrum layer, above the server whose hook context it uses, and is
 * also published as `sockskit/methods/electrum-token`. Nothing is dialled: the
 * SOCKS handshake only proves knowledge of a token, then the socket (with any
 * bytes already read) goes to the application, e.g. a relay to an Electrum
 * server.
 *
 *   password path  05 01 02 | 01 ULEN user PLEN TOKEN | 05 01 00 ATYP … PORT
 *                  ← 05 02  | ← 01 00                  | ← 05 00 00 01 00000000 0000   (14 bytes)
 *   hostname path  05 01 00 | 05 01 00 03 LEN TOKEN PORT
 *                  ← 05 00  | ← 05 00 00 01 00000000 0000                              (12 bytes)
 *
 * Compatible with bwt's clients (Electrum, ncat, OpenBSD nc, the raw byte
 * sequence), without its bugs: bytes pipelined behind the CONNECT are kept
 * (they reach `onConnection` as `head`), failures get real SOCKS answers
 * (01 01, REP 02, 05 FF) instead of a bare close, secrets are compared in
 * constant time and never logged, IPv6 destinations work on the password
 * path, and the handshake has a deadline (SocksServer's handshakeTimeout).
 *
 * Usage:
 *   new SocksServer({ ...electrumTokenAuth({ token, onConnection }), handshakeTimeout: 10_000 })
 */
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Method, Reply, Limits, USERPASS_VERSION, UserPassStatus } from '../protocol/constants.js';
import { AuthError, LocalProtocolError } from '../protocol/errors.js';
import { safeEqual } from '../protocol/secret.js';
import type { ByteQueue } from '../protocol/codec/byte-queue.js';
import { decodeUserPassRequest } from '../../methods/userpass.js';
import { none } from '../../methods/none.js';
import type { AuthMethod, AuthStep, ServerAuthContext } from '../protocol/method.js';
import type { MethodSelector, SocksRequest } from '../protocol/server-handshake.js';
import type { RequestContext } from '../server/request-context.js';
import type { SocksAddress } from '../protocol/codec/address.js';

const debug = createDebug('sockskit:method:electrum-token');

/** How a connection proved the token. Never contains the token itself. */
export interface ElectrumTokenIdentity {
  path: 'password' | 'hostname';
  /** The RFC 1929 username on the password path (ignored for auth; may be ''). */
  username?: string;
}

export type ElectrumAuthFailure = 'password' | 'hostname' | 'no-method' | 'command';

export interface ElectrumConnection {
  /** The client stream, paused: resume or pipe it. */
  socket: Duplex;
  /** Bytes the client sent after the CONNECT (often the first JSON-RPC line). */
  head: Buffer;
  identity: ElectrumTokenIdentity;
  request: SocksRequest;
  source: SocksAddress;
  /** Reports that serving it failed (its backend connection): the access log and error counters show a failure, not a success. */
  failed(error: unknown): void;
}

export interface ElectrumTokenOptions {
  /** The shared secret: 1..255 bytes of UTF-8 (it must fit PLEN and a DOMAINNAME). */
  token: string;
  /** Called with each authenticated connection. Without it the connection is closed after the reply. */
  onConnection?: (conn: ElectrumConnection) => void;
  /** Called on each refused attempt (for counters); never given the offered secret. */
  onAuthFailure?: (reason: ElectrumAuthFailure, source: SocksAddress | undefined) => void;
  /** Also serve the hostname path (no-auth + token as CONNECT host). Default true. */
  hostname?: boolean;
}

/** The decision for one parsed request: hand off, or deny with a REP. */
export type ElectrumDecision =
  | { ok: true; identity: ElectrumTokenIdentity }
  | { ok: false; reply: number; reason: ElectrumAuthFailure };

/** What SocksServer needs (spread it into SocksServerOptions), plus the pure parts for engine use. */
export interface ElectrumTokenAuth {
  methods: readonly AuthMethod<unknown>[];
  selectMethod: MethodSelector;
  onRequest: (ctx: RequestContext) => void;
  /** SOCKS4 carries no password: always refused on a token server. */
  socks4: false;
  /** The requested hostname may be the token: never put it in access-log records. */
  redactDestination: true;
  /** The pure decision used by onRequest (for ServerHandshake users and tests). */
  authorize(request: SocksRequest, source?: SocksAddress): ElectrumDecision;
}

/** Throws a usage error when `token` cannot be carried by both paths. */
export function checkToken(token: unknown): asserts token is string {
  if (typeof token !== 'string' || token.length === 0) throw new LocalProtocolError('the Electrum token must be a non-empty string');
  if (Buffer.byteLength(token, 'utf8') > Limits.socks4Field) throw new LocalProtocolError('the Electrum token must be at most 255 bytes');
}

const PASSWORD_IDENTITY = Symbol('electrum-token-password');
/** The SOCKS username of the password path: never an identity the access log shows (it may be the token). */
const USERNAME = Symbol('electrum-token-username');
const USERPASS_OK = Buffer.from([USERPASS_VERSION, UserPassStatus.Success]);
const USERPASS_FAIL = Buffer.from([USERPASS_VERSION, UserPassStatus.Failure]);

export function electrumTokenAuth(options: ElectrumTokenOptions): ElectrumTokenAuth {
  checkToken(options.token);
  const gate = new ElectrumTokenGate(options, options.token);
  return { methods: gate.methods, selectMethod: gate.selectMethod, onRequest: gate.onRequest, socks4: false, redactDestination: true, authorize: gate.authorize };
}

/**
 * One token gate, one handler per step of the exchange: the method selection
 * (selectMethod), the RFC 1929 message on the password path (onPassword), and
 * the request (authorize, then onRequest hands the connection over). The
 * handlers SocksServer calls detached are arrow properties.
 */
class ElectrumTokenGate {
  readonly methods: readonly AuthMethod<unknown>[];
  private readonly allowHostname: boolean;
  // Password path: RFC 1929 with any username (ULEN 0 included); the
  // password is the token. Own session rather than userpass(): userpass logs
  // usernames, and a client that swaps the fields would put the token there.
  private readonly password: AuthMethod<unknown> = {
    code: Method.UsernamePassword,
    name: 'electrum-token-password',
    server: (ctx: ServerAuthContext) => ({ maxMessage: Limits.userpass, receive: (input: ByteQueue) => this.onPassword(input, ctx) }),
  };
  private readonly noAuth = none();

  constructor(
    private readonly options: ElectrumTokenOptions,
    private readonly token: string,
  ) {
    this.allowHostname = options.hostname !== false;
    this.methods = this.allowHostname ? [this.password, this.noAuth] : [this.password];
  }

  // 02 wins whenever offered (Electrum offers 00 02); 00 only for the
  // hostname path; nothing else is ever selected (the engine sends 05 FF).
  readonly selectMethod: MethodSelector = (offered, _methods, ctx: ServerAuthContext) => {
    if (offered.includes(Method.UsernamePassword)) return this.password;
    if (this.allowHostname && offered.includes(Method.NoAuth)) return this.noAuth;
    this.failed('no-method', ctx.source);
    return undefined;
  };

  /** VER ULEN UNAME PLEN PASSWD: the password must be the token; the username is kept, never checked. */
  private onPassword(input: ByteQueue, ctx: ServerAuthContext): AuthStep {
    const msg = decodeUserPassRequest(input.peek());
    if (!msg) return { kind: 'more' };
    input.skip(msg.length);
    if (safeEqual(msg.password, this.token)) {
      // The name is kept under a symbol, out of the access log's sight: clients paste the token in both fields.
      return { kind: 'done', identity: { [PASSWORD_IDENTITY]: true, [USERNAME]: msg.username }, write: USERPASS_OK };
    }
    this.failed('password', ctx.source);
    return { kind: 'fail', error: new AuthError('wrong Electrum token (password)', Method.UsernamePassword), write: USERPASS_FAIL };
  }

  readonly authorize = (request: SocksRequest, source?: SocksAddress): ElectrumDecision => {
    const id = request.identity as { [PASSWORD_IDENTITY]?: boolean; [USERNAME]?: string } | null;
    if (request.version !== 5 || request.command !== 'connect') {
      this.failed('command', source);
      return { ok: false, reply: Reply.CommandNotSupported, reason: 'command' };
    }
    if (id && id[PASSWORD_IDENTITY] === true) {
      // Already authenticated: the destination is a placeholder (any type, any port).
      return { ok: true, identity: { path: 'password', username: id[USERNAME] ?? '' } };
    }
    const dest = request.destination;
    // Compare even for non-domain destinations so a miss costs the same; the
    // host is never logged (a near-miss could be most of the token).
    const match = safeEqual(dest.type === 'domain' ? dest.host : '\u0000', this.token) && dest.type === 'domain';
    if (this.allowHostname && match) return { ok: true, identity: { path: 'hostname' } };
    this.failed('hostname', source);
    return { ok: false, reply: Reply.NotAllowedByRuleset, reason: 'hostname' };
  };

  readonly onRequest = (ctx: RequestContext): void => {
    const decision = this.authorize(ctx.request, ctx.source);
    if (!decision.ok) {
      ctx.deny(decision.reply);
      return;
    }
    debug('authenticated on the %s path', decision.identity.path);
    // 05 00 00 01 00000000 0000: the fixed 10-byte reply clients discard.
    const { socket, head } = ctx.handoff({ reply: Reply.Succeeded });
    const onConnection = this.options.onConnection;
    if (!onConnection) {
      socket.end();
      return;
    }
    try {
      onConnection({ socket, head, identity: decision.identity, request: ctx.request, source: ctx.source, failed: (err) => ctx.failed(err) });
    } catch (err) {
      debug('onConnection threw: %s', (err as Error)?.message);
      socket.destroy();
    }
  };

  private failed(reason: ElectrumAuthFailure, source?: SocksAddress): void {
    debug('refused (%s)', reason);
    this.options.onAuthFailure?.(reason, source);
  }
}
