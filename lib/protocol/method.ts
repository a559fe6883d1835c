/**
 * The method plugin interface: one object per authentication method, with a
 * server half and a client half. Both halves are sans-I/O state machines:
 * they read from a ByteQueue, return an AuthStep, and never touch a socket,
 * a timer or DNS. Work that must wait (a password database, identd, a KDC)
 * is returned as a `verify` step whose `check` the adapter runs and whose
 * result comes back through `verified()`.
 *
 *   engine ──receive(queue)──▶ session ──▶ { more | verify | done | fail }
 *   adapter runs verify.check() ──verified(result)──▶ session ──▶ step
 *
 * A method that protects the data after authentication (GSS-API, RFC 1961)
 * returns an `encapsulation` with `done`: from then on the engine and the
 * adapters pass every byte, both ways, through it.
 */
import type { ByteQueue } from './codec/byte-queue.js';
import type { SocksAddress } from './codec/address.js';
import type { SocksError } from './errors.js';

/** Per-message protection negotiated by a method (GSS-API's MTYP 03 frames). */
export interface Encapsulation {
  /** Wraps outgoing plaintext into wire bytes (one or more frames). */
  wrap(plain: Buffer): Buffer;
  /**
   * Feeds received wire bytes and returns the plaintext they complete
   * (possibly empty). Keeps partial frames. Throws a SocksError on a tampered,
   * replayed or malformed frame.
   */
  unwrap(wire: Buffer): Buffer;
  /** Bytes of incomplete frames held right now (for bounded-memory checks). */
  readonly pending?: number;
  /** Whole-datagram protection for UDP ASSOCIATE. */
  wrapDatagram?(plain: Buffer): Buffer;
  unwrapDatagram?(wire: Buffer): Buffer;
}

export type VerifyResult = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Runs a `verify` action's check and resolves with its outcome, ready for
 * the engine's verified(). The check may return a value or a promise; a
 * throw counts as a rejection. Never rejects. The server and client adapters
 * and the specs all run checks through this one function.
 */
export function runCheck(check: () => unknown): Promise<VerifyResult> {
  let p: Promise<unknown>;
  try {
    p = Promise.resolve(check());
  } catch (err) {
    p = Promise.reject(err);
  }
  return p.then(
    (value): VerifyResult => ({ ok: true, value }),
    (error: unknown): VerifyResult => ({ ok: false, error }),
  );
}

export type AuthStep<Id = unknown> =
  /** Need more input; `write` (if any) goes to the peer first. */
  | { kind: 'more'; write?: Buffer }
  /** Run `check` (may be async) and pass its outcome to `verified()`. */
  | { kind: 'verify'; check: () => unknown; write?: Buffer }
  /** Authenticated. `identity` flows into the request hook. */
  | { kind: 'done'; identity: Id; write?: Buffer; encapsulation?: Encapsulation }
  /** Failed: write `write` (the method's failure status), then close. */
  | { kind: 'fail'; error: SocksError; write?: Buffer };

/** What a server session knows about the connection. */
export interface ServerAuthContext {
  /** The client's address as the server sees it. */
  readonly source?: SocksAddress;
  /** The local address the client reached. */
  readonly local?: SocksAddress;
  /**
   * Aborted when the client connection closes (the client left, or
   * server.close()): async checks (ident, a password database) stop with it.
   */
  readonly signal?: AbortSignal;
  /**
   * When the handshake deadline closes the connection (a Date.now() value):
   * async checks end before it, so that their failure can still be answered.
   */
  readonly deadline?: number;
}

/** What a client session knows about the hop it authenticates to. */
export interface ClientAuthContext {
  /** The proxy being authenticated to, when known. */
  readonly proxy?: SocksAddress;
  /** The destination that will be requested after authentication. */
  readonly destination?: SocksAddress;
  /**
   * Aborted when the connection to the proxy closes (success or failure):
   * a method holding native resources (a Kerberos context) releases them.
   */
  readonly signal?: AbortSignal;
}

export interface AuthSession<Id> {
  /** Called once right after the method is selected: a method that speaks first writes here. */
  start?(): AuthStep<Id>;
  /** Consume what the method needs from `input`; leave the rest. */
  receive(input: ByteQueue): AuthStep<Id>;
  /** Outcome of the last `verify` step's check. */
  verified?(result: VerifyResult): AuthStep<Id>;
  /** The most bytes this method may ever need buffered before it can make progress. */
  readonly maxMessage?: number;
}

export type ServerAuthSession<Id = unknown> = AuthSession<Id>;
export type ClientAuthSession = AuthSession<unknown>;

export interface AuthMethod<Id = unknown> {
  /** 0x00 none, 0x01 GSS-API, 0x02 username/password, 0x80–0xFE private. */
  readonly code: number;
  /** For debug output and errors. */
  readonly name: string;
  /** A fresh server session per connection. Absent: the method cannot serve. */
  server?(ctx: ServerAuthContext): ServerAuthSession<Id>;
  /** A fresh client session per connection. Absent: the method cannot be offered. */
  client?(ctx: ClientAuthContext): ClientAuthSession;
  /** Counters of the method's own (attempts, failures, ...), summed into the server's stats().auth. */
  stats?(): object;
  /**
   * Whether an identity this method established is still one it would
   * accept (a user still listed, a key still authorized). Asked after a
   * server reconfigure about the identities of open UDP associations: false
   * ends the association. Absent: the method cannot tell, and they go on.
   */
  knows?(identity: unknown): boolean;
}
