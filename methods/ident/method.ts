/**
 * Ident (RFC 1413) as SOCKS policy. The lookup itself is methods/ident/lookup.ts.
 *
 * SOCKS4 (`identSocks4`, a ServerHandshakeOptions.socks4Identify):
 *   off     no check: the identity is null, the USERID only a claim
 *           (request.userId; the access log's `userid=`), which `user:`
 *           rules never match.
 *   verify  the server asks identd on the client host who owns the
 *           connection and grants only when identd's user id equals USERID.
 *           The verified user id becomes the identity.
 *             identd names another user                      → 5D (93)
 *             identd unreachable, refusing, timing out,
 *             answering ERROR (NO-USER, HIDDEN-USER, ...),
 *             a premature close or a malformed reply        → 5C (92)
 *
 * SOCKS5 (`identMethod`): ident as the identity source of a no-auth
 * connection, like Dante's `rfc931` method. It is method 0x00 on the wire (no
 * sub-negotiation bytes), so the client half is plain "none". The server half
 * returns a `verify` step that does the lookup; then `done` with the user id.
 *   required  any ident failure closes the connection (fail);
 *   optional  a failure gives identity null (the request hook decides).
 *
 * User ids are compared as octets: USERID's UTF-8 bytes against identd's user
 * id with surrounding white space removed (see methods/ident/lookup.ts for why). Ident is
 * not authentication (RFC 1413 §6): use it for logging and soft policy.
 */
import createDebug from 'debug';
import { Method } from '../../lib/protocol/constants.js';
import { AuthError } from '../../lib/protocol/errors.js';
import { identLookup, IdentError, IdentLookupOptions, IdentReply } from './lookup.js';
import type { Socks4Identify } from '../../lib/protocol/server-handshake.js';
import type { Socks4Request } from '../../lib/protocol/codec/socks4.js';
import type { AuthMethod, AuthStep, ServerAuthContext, ServerAuthSession, VerifyResult } from '../../lib/protocol/method.js';

const debug = createDebug('sockskit:method:ident');

export type IdentMode = 'off' | 'verify';

export interface IdentOptions {
  /** identd's port on the client host (default 113; tests point it elsewhere). */
  port?: number;
  /**
   * Milliseconds for one lookup (default 10 000), and never past the
   * handshake deadline less a margin (see `identTimeout`): a slow identd
   * gets its 5C answered instead of a silent close.
   */
  timeout?: number;
  /** Replaces the network lookup (tests, caching, a different transport). */
  lookup?: (query: IdentLookupOptions) => Promise<IdentReply>;
}

/** Runs the lookup for a connection; rejects with IdentError (5C) unless identd names a user. */
export async function identUser(ctx: ServerAuthContext, options: IdentOptions = {}): Promise<string> {
  if (!ctx.source || !ctx.local) throw new IdentError('no-address', 'the connection addresses are unknown');
  const lookup = options.lookup ?? identLookup;
  // The client leaving (or server.close()) ends the lookup at once.
  const reply = await lookup({
    client: { host: ctx.source.host, port: ctx.source.port },
    server: { host: ctx.local.host, port: ctx.local.port },
    identPort: options.port,
    timeout: identTimeout(options.timeout, ctx.deadline),
    signal: ctx.signal,
  });
  if (reply.type === 'ERROR') throw new IdentError('error-reply', `identd answered ERROR : ${reply.error}`, reply);
  return reply.user;
}

/** Time kept after the lookup, before the handshake deadline, to write the failure reply. */
const REPLY_MARGIN = 250;
const DEFAULT_TIMEOUT = 10000;

/** The lookup's timeout: the configured one, cut to end REPLY_MARGIN before the deadline (at least 1 ms). */
function identTimeout(timeout: number | undefined, deadline: number | undefined, now = Date.now()): number {
  const t = timeout ?? DEFAULT_TIMEOUT;
  if (deadline === undefined || deadline <= 0) return t;
  return Math.max(1, Math.min(t, deadline - now - REPLY_MARGIN));
}

/** The SOCKS4 identity policy (see the file comment). */
export function identSocks4(options: IdentOptions & { mode?: IdentMode } = {}): Socks4Identify {
  const mode = options.mode ?? 'off';
  if (mode === 'off') return () => ({ identity: null });
  return (request: Socks4Request, ctx: ServerAuthContext) => ({
    check: async () => {
      const user = await identUser(ctx, options);
      const claimed = Buffer.from(request.userId, 'utf8');
      if (!claimed.equals(Buffer.from(user, 'utf8'))) {
        debug('USERID %j does not match identd user %j', request.userId, user);
        throw new IdentError('mismatch', 'identd and the client report different user ids');
      }
      return user;
    },
  });
}

/** SOCKS5 "no authentication" whose identity comes from identd (Dante's rfc931). */
export function identMethod(options: IdentOptions & { policy?: 'required' | 'optional' } = {}): AuthMethod<string | null> {
  const policy = options.policy ?? 'required';
  const server = (ctx: ServerAuthContext): ServerAuthSession<string | null> => {
    const verify: AuthStep<string | null> = { kind: 'verify', check: () => identUser(ctx, options) };
    return {
      start: () => verify,
      receive: () => verify,
      verified(result: VerifyResult): AuthStep<string | null> {
        if (result.ok) return { kind: 'done', identity: String(result.value) };
        if (policy === 'optional') return { kind: 'done', identity: null };
        const cause = result.error;
        const msg = cause instanceof Error ? cause.message : String(cause);
        return { kind: 'fail', error: new AuthError(`ident required: ${msg}`, Method.NoAuth, { cause }) };
      },
    };
  };
  const clientSession = { start: (): AuthStep<null> => ({ kind: 'done', identity: null }), receive: (): AuthStep<null> => ({ kind: 'done', identity: null }) };
  return {
    code: Method.NoAuth,
    name: 'ident',
    server,
    client: () => clientSession,
  };
}
