/**
 * Method 0x80 (private, configurable): binauth, stateless Ed25519
 * challenge/token authentication (methods/binauth/core.ts) carried in small frames.
 * Full description with byte diagrams: docs/binauth.md.
 *
 *   every message
 *   +-----+------+----------+----------------+
 *   | VER | TYPE |   LEN    |      BODY      |
 *   +-----+------+----------+----------------+
 *   | 01  |  1   | 2 (BE)   |   LEN bytes    |
 *   +-----+------+----------+----------------+
 *
 *   TYPE  name       direction  BODY
 *   01    HELLO      C → S      client public key (32)
 *   02    TOKEN      C → S      token (101) the client already holds
 *   03    CHALLENGE  S → C      challenge (101)
 *   04    SIGNED     C → S      signed challenge (165 + len(serverId))
 *   05    RESULT     S → C      status (1) [+ token (101) when a challenge succeeded]
 *
 *   challenge round:  HELLO → CHALLENGE → SIGNED → RESULT 00 + token
 *   fast path:        TOKEN → RESULT 00
 *   stale token:      TOKEN → RESULT 02 (retry) → HELLO → CHALLENGE → SIGNED → RESULT 00 + token
 *
 * Any status other than 00/02 is final: the server writes it and closes. The
 * identity handed to the request hook is the client's public key as a
 * lowercase hex string. Tokens are bearer secrets: never logged.
 */
import createDebug from 'debug';
import { SmartBuffer } from 'smart-buffer';
import { Method } from '../../lib/protocol/constants.js';
import { AuthError, LocalProtocolError, RemoteProtocolError, SocksError } from '../../lib/protocol/errors.js';
import {
  createBinauth,
  signBinauthChallenge,
  binauthPublicKey,
  inspectBinauthToken,
  BinauthError,
  BINAUTH_TOKEN_LENGTH,
  BINAUTH_TYPE_CHALLENGE,
  type Binauth,
  type BinauthOptions,
} from './core.js';
import type { ByteQueue } from '../../lib/protocol/codec/byte-queue.js';
import type { AuthMethod, AuthStep, ClientAuthSession, ServerAuthContext, ServerAuthSession, VerifyResult } from '../../lib/protocol/method.js';
import { hex } from '../../lib/protocol/codec/address.js';

const debug = createDebug('sockskit:method:binauth');

export const BINAUTH_METHOD_CODE = Method.PrivateFirst;
export const BINAUTH_FRAME_VERSION = 0x01;
const HEADER = 4;
/** Default cap on one whole frame (header included): a signed challenge with a serverId of up to 255 bytes fits. */
export const BINAUTH_DEFAULT_MAX_MESSAGE = 512;

export const BinauthFrame = {
  Hello: 0x01,
  Token: 0x02,
  Challenge: 0x03,
  Signed: 0x04,
  Result: 0x05,
} as const;

export const BinauthStatus = {
  /** Authenticated; after a challenge round the body also carries a fresh token. */
  Success: 0x00,
  /** The signed challenge (or, without fallback, the token) was rejected. */
  Failure: 0x01,
  /** The token was rejected (expired, foreign, damaged): send HELLO and do the challenge round. */
  Retry: 0x02,
  /** The key is valid but not authorized on this server. */
  NotAuthorized: 0x03,
  /** A malformed or unexpected frame. */
  BadMessage: 0x04,
  /** The server could not decide (its authorization check failed). */
  ServerError: 0x05,
} as const;

const STATUS_TEXT: Record<number, string> = {
  0x00: 'success',
  0x01: 'authentication failed',
  0x02: 'token not accepted, retry with a challenge',
  0x03: 'key not authorized',
  0x04: 'bad message',
  0x05: 'server error',
};

export function binauthStatusText(status: number): string {
  return STATUS_TEXT[status] ?? `unknown status 0x${hex(status)}`;
}

export function encodeBinauthFrame(type: number, body: Buffer = Buffer.alloc(0)): Buffer {
  if (body.length > 0xffff) throw new LocalProtocolError('binauth frame body exceeds 65535 bytes');
  return new SmartBuffer({ size: HEADER + body.length })
    .writeUInt8(BINAUTH_FRAME_VERSION)
    .writeUInt8(type)
    .writeUInt16BE(body.length)
    .writeBuffer(body)
    .toBuffer();
}

/**
 * Takes one frame off the queue, or returns undefined for "need more".
 * Throws RemoteProtocolError for a wrong VER or a LEN above `maxMessage`
 * (checked as soon as the header is in, so buffering stays bounded).
 */
export function takeBinauthFrame(input: ByteQueue, maxMessage: number): { type: number; body: Buffer } | undefined {
  if (input.length < HEADER) return undefined;
  const head = input.peek(HEADER);
  if (head[0] !== BINAUTH_FRAME_VERSION) {
    throw new RemoteProtocolError(`binauth frame version 0x${hex(head[0]!)} (want 0x01)`, { code: 'ERR_SOCKS_BAD_VERSION' });
  }
  const len = head.readUInt16BE(2);
  if (HEADER + len > maxMessage) throw new RemoteProtocolError(`binauth frame of ${HEADER + len} bytes exceeds ${maxMessage}`, { code: 'ERR_SOCKS_BUFFER_LIMIT' });
  if (input.length < HEADER + len) return undefined;
  const type = head[1]!;
  input.skip(HEADER);
  // Copy: the queue's views may be reused once consumed.
  return { type, body: Buffer.from(input.take(len)) };
}

const result = (status: number, token?: Buffer): Buffer =>
  encodeBinauthFrame(BinauthFrame.Result, token ? Buffer.concat([Buffer.from([status]), token]) : Buffer.from([status]));

export type BinauthAuthorize = (publicKey: string, ctx: ServerAuthContext) => unknown;

export interface BinauthMethodOptions {
  /** Method code; a private one (0x80–0xFE). Default 0x80. */
  code?: number;
  /** Largest whole frame accepted or awaited, header included. Default 512. */
  maxMessage?: number;

  // ---- server half (present when `binauth` is given)
  /** The server: a createBinauth() instance, or its options. */
  binauth?: Binauth | BinauthOptions;
  /** Authorized client public keys, hex (any case) or raw 32-byte Buffers. */
  authorizedKeys?: Iterable<string | Buffer>;
  /** A (maybe async) check of the client's hex public key; truthy authorizes. With `authorizedKeys`, both must agree. */
  authorize?: BinauthAuthorize;
  /** Answer a rejected token with RESULT 02 and run a challenge round (default true); false: RESULT 01 and close. */
  tokenFallback?: boolean;

  // ---- client half (present when `privateKey` or `token` is given)
  /** The client's Ed25519 private key: the 32-byte seed (64-byte seed || public key also accepted). */
  privateKey?: Buffer;
  /** A token held from an earlier connection: tried first (fast path). */
  token?: Buffer;
  /** Called with every new token the server issues, e.g. to cache it on disk. */
  onToken?: (token: Buffer) => void;
  /** Prefix the server's id when signing, so the signature is worthless to any other server. */
  serverId?: string;
}

function normalizeKey(k: string | Buffer): string {
  const hexText = Buffer.isBuffer(k) ? k.toString('hex') : String(k).trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hexText)) throw new LocalProtocolError('authorized keys are 32-byte Ed25519 public keys (64 hex digits)');
  return hexText;
}

export function binauth(options: BinauthMethodOptions = {}): AuthMethod<string> {
  const code = options.code ?? BINAUTH_METHOD_CODE;
  if (!Number.isInteger(code) || code < Method.PrivateFirst || code > Method.PrivateLast) {
    throw new LocalProtocolError('binauth method code must be a private method code, 0x80 to 0xFE');
  }
  const maxMessage = options.maxMessage ?? BINAUTH_DEFAULT_MAX_MESSAGE;
  if (!Number.isInteger(maxMessage) || maxMessage < HEADER + 1 + BINAUTH_TOKEN_LENGTH || maxMessage > HEADER + 0xffff) {
    throw new LocalProtocolError(`binauth maxMessage must be an integer from ${HEADER + 1 + BINAUTH_TOKEN_LENGTH} to ${HEADER + 0xffff}`);
  }

  let server: ((ctx: ServerAuthContext) => ServerAuthSession<string>) | undefined;
  let knows: ((identity: unknown) => boolean) | undefined;
  if (options.binauth) {
    const auth: Binauth = typeof (options.binauth as Binauth).getChallenge === 'function' ? (options.binauth as Binauth) : createBinauth(options.binauth as BinauthOptions);
    const keys = options.authorizedKeys ? new Set([...options.authorizedKeys].map(normalizeKey)) : undefined;
    if (!keys && !options.authorize) throw new LocalProtocolError('binauth server needs authorizedKeys or authorize');
    if (HEADER + 64 + BINAUTH_TOKEN_LENGTH + Buffer.byteLength(auth.serverId) > maxMessage) {
      throw new LocalProtocolError('binauth maxMessage is too small for a signed challenge with this serverId');
    }
    const config: ServerConfig = { code, maxMessage, auth, keys, authorize: options.authorize, fallback: options.tokenFallback !== false };
    server = (ctx) => new BinauthServerSession(config, ctx);
    // Static keys only: an `authorize` callback is asked at login, not here.
    if (keys && !options.authorize) knows = (identity) => typeof identity === 'string' && keys.has(identity);
  }

  let client: (() => ClientAuthSession) | undefined;
  if (options.privateKey || options.token) {
    const config: ClientConfig = {
      code,
      maxMessage,
      privateKey: options.privateKey,
      publicKey: options.privateKey ? binauthPublicKey(options.privateKey) : undefined,
      serverId: options.serverId,
      onToken: options.onToken,
      held: { token: options.token ? Buffer.from(options.token) : undefined },
    };
    client = () => new BinauthClientSession(config);
  }

  return { code, name: 'binauth', server, client, knows };
}

// ------------------------------------------------------------------ server

interface ServerConfig {
  code: number;
  maxMessage: number;
  auth: Binauth;
  keys: Set<string> | undefined;
  authorize: BinauthAuthorize | undefined;
  /** Answer a rejected token with RESULT 02 (a challenge round follows). */
  fallback: boolean;
}

/** first: TOKEN or HELLO; hello: HELLO (after RESULT 02); signed: SIGNED; done. */
type ServerState = 'first' | 'hello' | 'signed' | 'done';

/** One server connection's binauth exchange: one handler per state. */
class BinauthServerSession implements ServerAuthSession<string> {
  readonly maxMessage: number;
  private state: ServerState = 'first';
  /** The key under consideration (HELLO, or the one a valid token names). */
  private key: Buffer | undefined;
  /** What the pending authorize() check is for. */
  private pending: 'hello' | 'token' | undefined;
  private readonly handlers: Record<ServerState, (type: number, body: Buffer) => AuthStep<string>> = {
    first: (type, body) => (type === BinauthFrame.Token ? this.onToken(body) : this.onHello(type, body)),
    hello: (type, body) => this.onHello(type, body),
    signed: (type, body) => this.onSigned(type, body),
    done: () => {
      throw new LocalProtocolError('binauth session used after done');
    },
  };

  constructor(
    private readonly config: ServerConfig,
    private readonly ctx: ServerAuthContext,
  ) {
    this.maxMessage = config.maxMessage;
  }

  receive(input: ByteQueue): AuthStep<string> {
    if (this.pending) return { kind: 'more' };
    let frame;
    try {
      frame = takeBinauthFrame(input, this.maxMessage);
    } catch (err) {
      return this.fail(BinauthStatus.BadMessage, (err as Error).message, err);
    }
    if (!frame) return { kind: 'more' };
    try {
      return this.handlers[this.state](frame.type, frame.body);
    } catch (err) {
      return this.fail(BinauthStatus.ServerError, `internal error: ${(err as Error).message}`, err);
    }
  }

  verified(outcome: VerifyResult): AuthStep<string> {
    const path = this.pending;
    this.pending = undefined;
    if (!path) throw new LocalProtocolError('binauth verified() without a pending check');
    if (!outcome.ok) {
      debug('authorize() threw for %s', this.key!.toString('hex'));
      return this.fail(BinauthStatus.ServerError, 'the authorization check failed', outcome.error);
    }
    if (!outcome.value) return this.fail(BinauthStatus.NotAuthorized, `key ${this.key!.toString('hex')} is not authorized`);
    try {
      return this.authorized(path);
    } catch (err) {
      return this.fail(BinauthStatus.ServerError, `internal error: ${(err as Error).message}`, err);
    }
  }

  /** TOKEN (first frame only): a valid token skips the challenge round. */
  private onToken(body: Buffer): AuthStep<string> {
    try {
      this.key = this.config.auth.verifyToken(body);
    } catch (err) {
      if (!(err instanceof BinauthError)) throw err;
      debug('token rejected (%s)%s', err.message, this.config.fallback ? ', asking for a challenge round' : '');
      if (!this.config.fallback) return this.fail(BinauthStatus.Failure, err.message, err);
      this.state = 'hello';
      return { kind: 'more', write: result(BinauthStatus.Retry) };
    }
    return this.check('token');
  }

  /** HELLO: the client's public key; once authorized, a challenge for it. */
  private onHello(type: number, body: Buffer): AuthStep<string> {
    if (type !== BinauthFrame.Hello) {
      return this.fail(BinauthStatus.BadMessage, `unexpected frame type 0x${hex(type)} (want ${this.state === 'first' ? 'HELLO or TOKEN' : 'HELLO'})`);
    }
    if (body.length !== 32) return this.fail(BinauthStatus.BadMessage, `HELLO carries ${body.length} bytes, not a 32-byte key`);
    this.key = body;
    return this.check('hello');
  }

  /** SIGNED: the signed challenge; success issues a token. */
  private onSigned(type: number, body: Buffer): AuthStep<string> {
    if (type !== BinauthFrame.Signed) return this.fail(BinauthStatus.BadMessage, `unexpected frame type 0x${hex(type)} (want SIGNED)`);
    const key = this.key!;
    let token: Buffer;
    try {
      token = this.config.auth.getToken(key, body);
    } catch (err) {
      if (!(err instanceof BinauthError)) throw err;
      debug('signed challenge rejected for %s: %s', key.toString('hex'), err.message);
      return this.fail(BinauthStatus.Failure, err.message, err);
    }
    this.state = 'done';
    debug('challenge round passed for %s', key.toString('hex'));
    return { kind: 'done', identity: key.toString('hex'), write: result(BinauthStatus.Success, token) };
  }

  /** The key list first, then authorize() (maybe async) when configured. */
  private check(path: 'hello' | 'token'): AuthStep<string> {
    const id = this.key!.toString('hex');
    const { keys, authorize } = this.config;
    if (keys && !keys.has(id)) {
      debug('key %s not authorized', id);
      return this.fail(BinauthStatus.NotAuthorized, `key ${id} is not authorized`);
    }
    if (!authorize) return this.authorized(path);
    this.pending = path;
    return { kind: 'verify', check: () => authorize(id, this.ctx) };
  }

  /** Authorization passed: continue the path we are on. */
  private authorized(path: 'hello' | 'token'): AuthStep<string> {
    const id = this.key!.toString('hex');
    if (path === 'token') {
      this.state = 'done';
      debug('token accepted for %s', id);
      return { kind: 'done', identity: id, write: result(BinauthStatus.Success) };
    }
    this.state = 'signed';
    return { kind: 'more', write: encodeBinauthFrame(BinauthFrame.Challenge, this.config.auth.getChallenge(this.key!)) };
  }

  /** RESULT `status` and close; a SocksError cause (not a BinauthError) is kept as is. */
  private fail(status: number, message: string, cause?: unknown): AuthStep<string> {
    const error = cause instanceof SocksError && !(cause instanceof BinauthError) ? cause : new AuthError(`binauth: ${message}`, this.config.code, { cause });
    return { kind: 'fail', error, write: result(status) };
  }
}

// ------------------------------------------------------------------ client

interface ClientConfig {
  code: number;
  maxMessage: number;
  privateKey: Buffer | undefined;
  publicKey: Buffer | undefined;
  serverId: string | undefined;
  onToken: ((token: Buffer) => void) | undefined;
  /** The freshest token this method object knows; shared by its connections. */
  held: { token: Buffer | undefined };
}

/** token: a TOKEN was sent; challenge: a HELLO was sent; result: SIGNED was sent; done. */
type ClientState = 'token' | 'challenge' | 'result' | 'done';

/** One client connection's binauth exchange: a handler per frame the proxy may send. */
class BinauthClientSession implements ClientAuthSession {
  readonly maxMessage: number;
  private state: ClientState = 'token';

  constructor(private readonly config: ClientConfig) {
    this.maxMessage = config.maxMessage;
  }

  start(): AuthStep {
    const held = this.config.held.token;
    if (held) {
      this.state = 'token';
      return { kind: 'more', write: encodeBinauthFrame(BinauthFrame.Token, held) };
    }
    return { kind: 'more', write: this.hello() };
  }

  receive(input: ByteQueue): AuthStep {
    let frame;
    try {
      frame = takeBinauthFrame(input, this.maxMessage);
    } catch (err) {
      return { kind: 'fail', error: err as SocksError };
    }
    if (!frame) return { kind: 'more' };
    const { type, body } = frame;
    if (type === BinauthFrame.Result) return this.onResult(body);
    if (type === BinauthFrame.Challenge && this.state === 'challenge') return this.onChallenge(body);
    return { kind: 'fail', error: new RemoteProtocolError(`binauth: unexpected frame type 0x${hex(type)} in state ${this.state}`) };
  }

  /** RESULT: success (maybe with a new token), 02 after a TOKEN (do a challenge round), or a refusal. */
  private onResult(body: Buffer): AuthStep {
    if (body.length < 1) return this.fail('empty RESULT');
    const status = body[0]!;
    if (status === BinauthStatus.Success) {
      if (this.state === 'challenge') return this.fail('RESULT success before the challenge round');
      if (this.state === 'result') {
        if (body.length !== 1 + BINAUTH_TOKEN_LENGTH) return this.fail('RESULT success without a token after a challenge round');
        this.keep(body.subarray(1));
      } else if (body.length !== 1 && body.length !== 1 + BINAUTH_TOKEN_LENGTH) {
        return this.fail(`RESULT of ${body.length} bytes`);
      } else if (body.length > 1) {
        this.keep(body.subarray(1));
      }
      this.state = 'done';
      return { kind: 'done', identity: this.identity() };
    }
    if (status === BinauthStatus.Retry && this.state === 'token') {
      this.config.held.token = undefined; // do not offer it again on later connections
      if (!this.config.publicKey) return this.fail('the proxy did not accept the token and no privateKey is configured');
      debug('token not accepted; doing a challenge round');
      return { kind: 'more', write: this.hello() };
    }
    return this.fail(`proxy answered ${binauthStatusText(status)} (status 0x${hex(status)})`);
  }

  /** CHALLENGE: sign it, but only if it is a challenge for our own key. */
  private onChallenge(body: Buffer): AuthStep {
    const info = inspectBinauthToken(body);
    if (!info || info.type !== BINAUTH_TYPE_CHALLENGE || !info.publicKey.equals(this.config.publicKey!)) {
      return this.fail('the proxy sent a malformed challenge or one for another key');
    }
    this.state = 'result';
    return { kind: 'more', write: encodeBinauthFrame(BinauthFrame.Signed, signBinauthChallenge(body, this.config.privateKey!, this.config.serverId)) };
  }

  private hello(): Buffer {
    if (!this.config.publicKey) throw new LocalProtocolError('binauth client needs privateKey to answer a challenge');
    this.state = 'challenge';
    return encodeBinauthFrame(BinauthFrame.Hello, this.config.publicKey);
  }

  /** A token the proxy issued: kept for later connections and handed to onToken. */
  private keep(token: Buffer): void {
    this.config.held.token = Buffer.from(token);
    this.config.onToken?.(Buffer.from(token));
  }

  private identity(): string {
    return (this.config.publicKey ?? inspectBinauthToken(this.config.held.token ?? Buffer.alloc(0))?.publicKey ?? Buffer.alloc(0)).toString('hex');
  }

  private fail(message: string): AuthStep {
    return { kind: 'fail', error: new AuthError(`binauth: ${message}`, this.config.code) };
  }
}
