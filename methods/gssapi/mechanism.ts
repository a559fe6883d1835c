/**
 * The GSS-API mechanism interface used by methods/gssapi/method.ts (RFC 1961).
 *
 * RFC 1961 runs over any GSS-API mechanism; the SOCKS method only moves
 * tokens and frames. This interface is the small part of GSS-API (RFC 2743)
 * that the method needs, so a real mechanism (Kerberos V5 through a native
 * binding, SPNEGO, ...) can be plugged in without touching the method:
 *
 *   GSS-API call                      here
 *   gss_init_sec_context()            initiator.initSecContext(token?)
 *   gss_accept_sec_context()          acceptor.acceptSecContext(token)
 *   gss_wrap(conf_req)                ctx.wrap(data, confidential)
 *   gss_unwrap() → conf_state         ctx.unwrap(token) → { data, confidential }
 *   gss_wrap_size_limit()             ctx.wrapSizeLimit(maxToken, confidential)
 *   src_name / targ_name              ctx.peerName
 *
 * Steps: each call consumes the peer's token and returns `{ token?, complete }`
 * (GSS_S_CONTINUE_NEEDED is `complete: false`, GSS_S_COMPLETE is
 * `complete: true`; an output token, if any, is sent to the peer). A step may
 * return a Promise (a native binding that talks to a KDC); the method turns
 * that into a `verify` step so the engine stays sans-I/O. Any failure is a
 * throw: a SocksError (AuthError for a failed authentication) is passed on as
 * is, anything else becomes an AuthError. The method sends the abort 01 FF.
 *
 * wrap/unwrap: `unwrap` must detect a tampered, replayed, reordered or
 * truncated token and throw (use a SocksError with code
 * ERR_SOCKS_ENCAPSULATION); RFC 1961 asks the client for
 * MUTUAL|REPLAY|SEQUENCE on TCP. Datagram tokens (`{ datagram: true }`, UDP
 * ASSOCIATE) may be lost or reordered, so only replay and tampering are
 * errors there.
 */
import type { ClientAuthContext, ServerAuthContext } from '../../lib/protocol/method.js';

/** One context-establishment step: the token for the peer (if any) and whether the context is complete. */
export interface GssStep {
  token?: Buffer;
  complete: boolean;
}

export type MaybePromise<T> = T | Promise<T>;

export interface GssWrapOptions {
  /** A UDP datagram: protected on its own, may arrive out of order. */
  datagram?: boolean;
}

/** An established (or establishing) security context: the per-message half. */
export interface GssSecurityContext {
  /** gss_wrap: protects `data`; encrypts as well when `confidential`. */
  wrap(data: Buffer, confidential: boolean, options?: GssWrapOptions): Buffer;
  /** gss_unwrap: verifies (and decrypts) a token; throws on any failure. */
  unwrap(token: Buffer, options?: GssWrapOptions): { data: Buffer; confidential: boolean };
  /** gss_wrap_size_limit: the largest `data` whose wrapped token fits in `maxToken` bytes. */
  wrapSizeLimit(maxToken: number, confidential: boolean): number;
  /** The authenticated peer: the client's principal on the acceptor, the server's on the initiator. */
  readonly peerName: string | undefined;
}

export interface GssInitiatorContext extends GssSecurityContext {
  /** First call without a token; then with each token the server sends. */
  initSecContext(token?: Buffer): MaybePromise<GssStep>;
}

export interface GssAcceptorContext extends GssSecurityContext {
  /** Called with each token the client sends. */
  acceptSecContext(token: Buffer): MaybePromise<GssStep>;
}

/** A mechanism: a factory of fresh contexts, one per connection. */
export interface GssMechanism {
  /** For debug output and errors (e.g. 'krb5', 'psk-test'). */
  readonly name: string;
  /** Client half; absent: this mechanism cannot initiate. */
  initiator?(ctx: ClientAuthContext): GssInitiatorContext;
  /** Server half; absent: this mechanism cannot accept. */
  acceptor?(ctx: ServerAuthContext): GssAcceptorContext;
}
