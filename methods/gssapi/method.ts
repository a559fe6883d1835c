/**
 * Method 0x01, GSS-API: RFC 1961, both halves, over a pluggable mechanism
 * (methods/gssapi/mechanism.ts). Frames: methods/gssapi/frame.ts.
 *
 *   client                                          server
 *   01 01 LEN token (initSecContext)      ──▶
 *                                         ◀──  01 01 LEN token (acceptSecContext, continue)
 *   ... any number of rounds ...
 *                                         ◀──  01 01 LEN token | 01 01 00 00  (complete)
 *   01 02 LEN wrap([level], conf=FALSE)   ──▶                         (§4.3, 1/2/3)
 *                                         ◀──  01 02 LEN wrap([granted], conf=FALSE)
 *   from here on every byte both ways, the SOCKS request and reply included,
 *   travels as 01 03 LEN wrap(data, conf) frames (§5)
 *
 * Either side may send the abort 01 FF instead of its next message; a
 * failing side sends it and closes. A client that finds the granted level
 * unacceptable closes (§4.4).
 *
 * Levels: 1 integrity (conf_req always FALSE), 2 integrity + confidentiality
 * (always TRUE), 3 selective (per message; here `confidentialWhen`, default:
 * every message encrypted). A peer that breaks the agreed level (plaintext
 * under level 2, ciphertext under level 1) is an encapsulation error.
 *
 * After `done` the method hands the engine an Encapsulation: wrap() splits
 * writes so each token fits 65535 bytes; unwrap() keeps at most one partial
 * frame (≤ 4 + maxToken bytes) and throws RemoteProtocolError
 * ERR_SOCKS_ENCAPSULATION on a bad, tampered, replayed or out-of-order frame.
 */
import { printable } from '../../lib/protocol/printable.js';
import createDebug from 'debug';
import { Method } from '../../lib/protocol/constants.js';
import { AuthError, LocalProtocolError, RemoteProtocolError, SocksError } from '../../lib/protocol/errors.js';
import { ByteQueue } from '../../lib/protocol/codec/byte-queue.js';
import {
  decodeGssFrame, encodeGssFrame, GssMessageType, GSS_ABORT, GSS_FRAME_HEADER, GSS_MAX_TOKEN,
} from './frame.js';
import type { GssMechanism, GssSecurityContext, GssStep, GssInitiatorContext, GssAcceptorContext } from './mechanism.js';
import { pskMechanism, type PskMechanismOptions } from './psk.js';
import type { AuthMethod, AuthStep, ClientAuthContext, ClientAuthSession, Encapsulation, ServerAuthContext, ServerAuthSession, VerifyResult } from '../../lib/protocol/method.js';

const debug = createDebug('sockskit:method:gssapi');

export type GssProtection = 'integrity' | 'confidentiality' | 'selective';

const LEVEL: Record<GssProtection, 1 | 2 | 3> = { integrity: 1, confidentiality: 2, selective: 3 };
const NAME: Record<1 | 2 | 3, GssProtection> = { 1: 'integrity', 2: 'confidentiality', 3: 'selective' };
/** How strong each level is: integrity < selective < confidentiality. */
const STRENGTH: Record<1 | 2 | 3, number> = { 1: 1, 3: 2, 2: 3 };

export interface GssapiOptions {
  /** The GSS-API mechanism (a factory of per-connection contexts). */
  mechanism: GssMechanism;
  /**
   * Server: the level(s) it grants (default 'confidentiality'). A requested
   * level in the set is granted; otherwise the strongest level of the set.
   * Client: the level it requests (default 'confidentiality'); it accepts
   * that level or a stronger one. With a list, the client requests the first
   * and accepts any listed.
   */
  protection?: GssProtection | readonly GssProtection[];
  /** Level 3 (selective): which outgoing messages are encrypted (default: all). */
  confidentialWhen?: (plain: Buffer) => boolean;
  /** Largest token sent or accepted (default and maximum 65535). */
  maxToken?: number;
}

function levels(p: GssapiOptions['protection']): (1 | 2 | 3)[] {
  const list = p === undefined ? ['confidentiality' as const] : typeof p === 'string' ? [p] : [...p];
  if (list.length === 0) throw new LocalProtocolError('gssapi: protection needs at least one level');
  return list.map((l) => {
    const v = LEVEL[l];
    if (!v) throw new LocalProtocolError(`gssapi: unknown protection level ${JSON.stringify(l)}`);
    return v;
  });
}

function encapError(message: string, cause?: unknown): SocksError {
  return new SocksError('ERR_SOCKS_ENCAPSULATION', `GSS-API encapsulation: ${message}`, 0x01, { cause });
}

function asAuthError(err: unknown): SocksError {
  if (err instanceof SocksError) return err;
  return new AuthError(`GSS-API: ${err instanceof Error ? err.message : String(err)}`, Method.GssApi, { cause: err });
}

/** Sends 01 FF and closes. */
function abort(err: unknown): AuthStep {
  const error = asAuthError(err);
  debug('abort: %s', error.message);
  return { kind: 'fail', error, write: GSS_ABORT };
}

function isThenable(v: unknown): v is Promise<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * RFC 1961 §5 per-message protection as the engine's Encapsulation: MTYP 03
 * frames of gss_wrap tokens.
 */
export class GssEncapsulation implements Encapsulation {
  private readonly queue = new ByteQueue();
  private failed: SocksError | undefined;

  constructor(
    private readonly ctx: GssSecurityContext,
    /** The agreed protection level. */
    readonly level: 1 | 2 | 3,
    private readonly maxToken: number = GSS_MAX_TOKEN,
    private readonly confidentialWhen: (plain: Buffer) => boolean = () => true,
  ) {}

  get protection(): GssProtection {
    return NAME[this.level];
  }

  /** Bytes of an incomplete frame held (at most 4 + maxToken - 1). */
  get pending(): number {
    return this.queue.length;
  }

  private conf(plain: Buffer): boolean {
    return this.level === 2 || (this.level === 3 && this.confidentialWhen(plain));
  }

  private frame(plain: Buffer, confidential: boolean, datagram: boolean): Buffer {
    const token = this.ctx.wrap(plain, confidential, datagram ? { datagram } : undefined);
    if (token.length > this.maxToken) throw new LocalProtocolError(`GSS-API mechanism produced a ${token.length}-byte token (limit ${this.maxToken})`);
    return encodeGssFrame(GssMessageType.Encapsulated, token);
  }

  wrap(plain: Buffer): Buffer {
    if (plain.length === 0) return Buffer.alloc(0);
    const conf = this.conf(plain);
    // Selective: every chunk of one write gets the same choice.
    const limit = this.ctx.wrapSizeLimit(this.maxToken, conf);
    if (limit < 1) throw new LocalProtocolError('GSS-API: token limit leaves no room for data');
    if (plain.length <= limit) return this.frame(plain, conf, false);
    const frames: Buffer[] = [];
    for (let off = 0; off < plain.length; off += limit) frames.push(this.frame(plain.subarray(off, off + limit), conf, false));
    return Buffer.concat(frames);
  }

  unwrap(wire: Buffer): Buffer {
    if (this.failed) throw this.failed;
    try {
      this.queue.push(wire);
      const out: Buffer[] = [];
      for (;;) {
        const f = decodeGssFrame(this.queue.peek(), this.maxToken);
        if (!f) break;
        this.queue.skip(f.length);
        if (f.type === GssMessageType.Abort) throw encapError('the peer aborted (01 FF)');
        if (f.type !== GssMessageType.Encapsulated) throw encapError(`unexpected message type 0x0${f.type} after negotiation`);
        out.push(this.open(f.token, false));
      }
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    } catch (err) {
      this.queue.clear();
      const e = err instanceof SocksError && err.code === 'ERR_SOCKS_ENCAPSULATION' ? err : encapError(err instanceof Error ? err.message : String(err), err);
      this.failed = e;
      throw e;
    }
  }

  private open(token: Buffer, datagram: boolean): Buffer {
    const { data, confidential } = this.ctx.unwrap(token, datagram ? { datagram } : undefined);
    if (this.level === 1 && confidential) throw encapError('an encrypted token under protection level 1');
    if (this.level === 2 && !confidential) throw encapError('an unencrypted token under protection level 2 (downgrade)');
    return data;
  }

  wrapDatagram(plain: Buffer): Buffer {
    const conf = this.conf(plain);
    if (plain.length > this.ctx.wrapSizeLimit(this.maxToken, conf)) throw new LocalProtocolError('datagram too large for one GSS-API token');
    return this.frame(plain, conf, true);
  }

  unwrapDatagram(wire: Buffer): Buffer {
    let f;
    try {
      f = decodeGssFrame(wire, this.maxToken);
    } catch (err) {
      throw encapError('malformed datagram frame', err);
    }
    if (!f || f.type !== GssMessageType.Encapsulated || f.length !== wire.length) throw encapError('a datagram must be exactly one MTYP 03 frame');
    return this.open(f.token, true);
  }
}

/** The GSS-API method over any mechanism. */
export function gssapi(options: GssapiOptions): AuthMethod<unknown> {
  const mech = options.mechanism;
  const wanted = levels(options.protection);
  const maxToken = options.maxToken ?? GSS_MAX_TOKEN;
  if (!Number.isInteger(maxToken) || maxToken < 64 || maxToken > GSS_MAX_TOKEN) throw new LocalProtocolError('gssapi: maxToken must be 64..65535');
  const request = wanted[0]!;
  const config: GssConfig = {
    mech,
    wanted,
    maxToken,
    confWhen: options.confidentialWhen,
    request,
    acceptable: typeof options.protection === 'object' ? wanted : ([1, 2, 3] as const).filter((l) => STRENGTH[l] >= STRENGTH[request]),
  };
  return {
    code: Method.GssApi,
    name: 'gssapi',
    server: mech.acceptor ? (sctx: ServerAuthContext) => new GssServerSession(config, () => mech.acceptor!(sctx)) : undefined,
    client: mech.initiator ? (cctx: ClientAuthContext) => new GssClientSession(config, mech.initiator!(cctx)) : undefined,
  };
}

interface GssConfig {
  mech: GssMechanism;
  /** Levels the server grants, best first (server); wanted[0] is what the client requests. */
  wanted: readonly (1 | 2 | 3)[];
  maxToken: number;
  confWhen: GssapiOptions['confidentialWhen'];
  /** Client: the level requested, and the levels it accepts in the answer. */
  request: 1 | 2 | 3;
  acceptable: readonly (1 | 2 | 3)[];
}

/** Reads the next frame, or a step that ends the exchange (a bad frame, an abort, need more). */
function nextFrame(input: ByteQueue, maxToken: number, who: string): { frame: { type: number; token: Buffer } } | { step: AuthStep } {
  let f;
  try {
    f = decodeGssFrame(input.peek(), maxToken);
  } catch (err) {
    input.clear();
    return { step: abort(err) };
  }
  if (!f) return { step: { kind: 'more' } };
  input.skip(f.length);
  if (f.type === GssMessageType.Abort) {
    return { step: { kind: 'fail', error: new AuthError(`GSS-API: the ${who} aborted (01 FF)`, Method.GssApi) } };
  }
  return { frame: { type: f.type, token: Buffer.from(f.token) } };
}

/** Reads the next frame and runs the current state's handler on it; a throw aborts (01 FF). */
function dispatchFrame(input: ByteQueue, maxToken: number, who: string, handler: (type: number, token: Buffer) => AuthStep): AuthStep {
  const next = nextFrame(input, maxToken, who);
  if ('step' in next) return next.step;
  try {
    return handler(next.frame.type, next.frame.token);
  } catch (err) {
    return abort(err);
  }
}

/** The one-byte protection level inside a wrapped MTYP 02 token (RFC 1961 §4.3). */
function readLevel(ctx: GssSecurityContext, token: Buffer): 1 | 2 | 3 {
  let data: Buffer;
  try {
    data = ctx.unwrap(token).data;
  } catch (err) {
    throw err instanceof SocksError ? err : new AuthError('GSS-API: protection-level token failed to unwrap', Method.GssApi, { cause: err });
  }
  if (data.length !== 1 || data[0]! < 1 || data[0]! > 3) throw new RemoteProtocolError('GSS-API: malformed protection-level message', { code: 'ERR_SOCKS_PROTOCOL' });
  return data[0] as 1 | 2 | 3;
}

type GssServerState = 'auth' | 'protection' | 'done';

/** The acceptor side: context establishment, then the protection-level exchange; one handler per state. */
class GssServerSession implements ServerAuthSession {
  readonly maxMessage: number;
  private state: GssServerState = 'auth';
  private readonly handlers: Record<GssServerState, (type: number, token: Buffer) => AuthStep> = {
    auth: (type, token) => this.onAuth(type, token),
    protection: (type, token) => this.onProtection(type, token),
    done: () => {
      throw new LocalProtocolError('GSS-API: receive after done');
    },
  };

  /** Created on the first frame, inside the error handling of receive(). */
  private context: GssAcceptorContext | undefined;

  constructor(
    private readonly config: GssConfig,
    private readonly createAcceptor: () => GssAcceptorContext,
  ) {
    this.maxMessage = GSS_FRAME_HEADER + config.maxToken;
  }

  private get acceptor(): GssAcceptorContext {
    return (this.context ??= this.createAcceptor());
  }

  receive(input: ByteQueue): AuthStep {
    return dispatchFrame(input, this.config.maxToken, 'client', this.handlers[this.state]);
  }

  verified(result: VerifyResult): AuthStep {
    if (!result.ok) return abort(result.error);
    return this.afterAccept(result.value as GssStep);
  }

  /** MTYP 01: a context-establishment token (the mechanism may answer asynchronously). */
  private onAuth(type: number, token: Buffer): AuthStep {
    if (type !== GssMessageType.Authentication) throw new RemoteProtocolError(`GSS-API: message type 0x0${type} during context establishment`);
    const r = this.acceptor.acceptSecContext(token);
    if (isThenable(r)) return { kind: 'verify', check: () => r };
    return this.afterAccept(r);
  }

  /** MTYP 02: the client's requested level; grant it or our strongest, and protect from here on. */
  private onProtection(type: number, token: Buffer): AuthStep {
    if (type !== GssMessageType.Protection) throw new RemoteProtocolError(`GSS-API: message type 0x0${type} where protection negotiation was expected`);
    const { wanted, mech, maxToken, confWhen } = this.config;
    const acceptor = this.acceptor;
    const requested = readLevel(acceptor, token);
    const granted = wanted.includes(requested) ? requested : [...wanted].sort((a, b) => STRENGTH[b] - STRENGTH[a])[0]!;
    const reply = encodeGssFrame(GssMessageType.Protection, acceptor.wrap(Buffer.from([granted]), false));
    this.state = 'done';
    debug('context established with %s (%s), protection %s requested, %s granted', printable(String(acceptor.peerName)), mech.name, NAME[requested], NAME[granted]);
    return { kind: 'done', identity: acceptor.peerName ?? mech.name, write: reply, encapsulation: new GssEncapsulation(acceptor, granted, maxToken, confWhen) };
  }

  private afterAccept(s: GssStep): AuthStep {
    if (s.complete) {
      this.state = 'protection';
      return { kind: 'more', write: encodeGssFrame(GssMessageType.Authentication, s.token ?? Buffer.alloc(0)) };
    }
    if (!s.token || s.token.length === 0) return abort(new LocalProtocolError('GSS-API mechanism continues without a token'));
    return { kind: 'more', write: encodeGssFrame(GssMessageType.Authentication, s.token) };
  }
}

type GssClientState = 'start' | 'auth' | 'protection' | 'done';

/** The initiator side: context establishment, then the protection-level exchange; one handler per state. */
class GssClientSession implements ClientAuthSession {
  readonly maxMessage: number;
  private state: GssClientState = 'start';
  /** The mechanism says the context is established on our side. */
  private complete = false;
  private readonly handlers: Record<GssClientState, (type: number, token: Buffer) => AuthStep> = {
    auth: (type, token) => this.onAuth(type, token),
    protection: (type, token) => this.onProtection(type, token),
    start: () => this.unexpected(),
    done: () => this.unexpected(),
  };

  constructor(
    private readonly config: GssConfig,
    private readonly initiator: GssInitiatorContext,
  ) {
    this.maxMessage = GSS_FRAME_HEADER + config.maxToken;
  }

  start(): AuthStep {
    try {
      return this.step(this.initiator.initSecContext());
    } catch (err) {
      return abort(err);
    }
  }

  receive(input: ByteQueue): AuthStep {
    return dispatchFrame(input, this.config.maxToken, 'server', this.handlers[this.state]);
  }

  verified(result: VerifyResult): AuthStep {
    if (!result.ok) return abort(result.error);
    try {
      return this.afterInit(result.value as GssStep);
    } catch (err) {
      return abort(err);
    }
  }

  /** MTYP 01 from the server: its next token, or an empty one once it is established. */
  private onAuth(type: number, token: Buffer): AuthStep {
    if (type !== GssMessageType.Authentication) throw new RemoteProtocolError(`GSS-API: message type 0x0${type} during context establishment`);
    if (token.length === 0) {
      if (!this.complete) throw new AuthError('GSS-API: the server says the context is established, the client does not', Method.GssApi);
      this.state = 'protection';
      return { kind: 'more', write: this.protectionRequest() };
    }
    if (this.complete) throw new RemoteProtocolError('GSS-API: a token after the context was established');
    return this.step(this.initiator.initSecContext(token));
  }

  /** MTYP 02 from the server: the granted level; close if it is weaker than acceptable. */
  private onProtection(type: number, token: Buffer): AuthStep {
    if (type !== GssMessageType.Protection) throw new RemoteProtocolError(`GSS-API: message type 0x0${type} where the protection level was expected`);
    const { acceptable, request, maxToken, confWhen } = this.config;
    const granted = readLevel(this.initiator, token);
    if (!acceptable.includes(granted)) {
      // RFC 1961 §4.4: the client closes.
      return { kind: 'fail', error: new AuthError(`GSS-API: the server granted protection ${NAME[granted]}, ${NAME[request]} was requested`, Method.GssApi) };
    }
    this.state = 'done';
    return { kind: 'done', identity: this.initiator.peerName ?? null, encapsulation: new GssEncapsulation(this.initiator, granted, maxToken, confWhen) };
  }

  private unexpected(): never {
    throw new LocalProtocolError(`GSS-API: receive in state ${this.state}`);
  }

  private protectionRequest(): Buffer {
    return encodeGssFrame(GssMessageType.Protection, this.initiator.wrap(Buffer.from([this.config.request]), false));
  }

  private step(r: GssStep | Promise<GssStep>): AuthStep {
    return isThenable(r) ? { kind: 'verify', check: () => r } : this.afterInit(r);
  }

  private afterInit(s: GssStep): AuthStep {
    const first = this.state === 'start';
    this.state = 'auth';
    const writes: Buffer[] = [];
    if (s.token && s.token.length) writes.push(encodeGssFrame(GssMessageType.Authentication, s.token));
    else if (first || !s.complete) return abort(new LocalProtocolError('GSS-API mechanism produced no token'));
    if (s.complete) {
      this.complete = true;
      // Complete without a token: the server finished first, so negotiation starts now.
      if (writes.length === 0) {
        writes.push(this.protectionRequest());
        this.state = 'protection';
      }
    }
    return { kind: 'more', write: Buffer.concat(writes) };
  }
}

export interface GssapiPskOptions extends Omit<GssapiOptions, 'mechanism'>, PskMechanismOptions {}

/** GSS-API over the shared-key TEST mechanism (methods/gssapi/psk.ts; not Kerberos). */
export function gssapiPsk(options: GssapiPskOptions): AuthMethod<unknown> {
  const { key, name, random, ...rest } = options;
  return gssapi({ ...rest, mechanism: pskMechanism({ key, name, random }) });
}
