/**
 * The request hook's context: what the application sees once a client is
 * authenticated and has sent its request, and the four decisions it can
 * make. One object per request with its methods on the prototype (no
 * closure per connection); call them on the context (`ctx.accept()`), not
 * detached. The socket-bearing types live here, in the server layer, not in
 * the sans-I/O protocol core.
 */
import type { Duplex } from 'node:stream';
import { Reply } from '../protocol/constants.js';
import { LocalProtocolError } from '../protocol/errors.js';
import type { SocksAddress } from '../protocol/codec/address.js';
import type { SocksRequest } from '../protocol/server-handshake.js';

export interface RequestContext {
  readonly request: SocksRequest;
  readonly source: SocksAddress;
  readonly local: SocksAddress;
  /** The default behaviour for the command (CONNECT: dial and relay). */
  accept(): Promise<void>;
  /** Refuse with an exact reply code (SOCKS5 REP; SOCKS4 gets 5B, or 5C/5D as given). */
  deny(reply?: number): void;
  /** Take the connection over. With `reply`, that reply is written first. */
  handoff(options?: { reply?: number; bound?: SocksAddress }): { socket: Duplex; head: Buffer };
  /** Answer success and relay to a stream the application opened itself. */
  relay(upstream: Duplex, bound?: SocksAddress): void;
  /**
   * After handoff(): the application's own work for this connection failed
   * (its backend did not answer): the connection's record (the access log,
   * the error counters) shows the error's class instead of a success.
   */
  failed(error: unknown): void;
}

/** What a context drives: the connection's own decisions. */
export interface Decider {
  readonly request: SocksRequest;
  readonly source: SocksAddress;
  readonly local: SocksAddress;
  accept(): Promise<void>;
  deny(reply: number, error?: unknown): void;
  handoff(options?: { reply?: number; bound?: SocksAddress }): { socket: Duplex; head: Buffer };
  relayTo(upstream: Duplex, bound: SocksAddress | undefined): void;
  /** After a hand-off: the application reports its own failure for the record. */
  handoffFailed(error: unknown): void;
  readonly socket: Duplex;
  /** The hook threw or rejected: deny if it had not decided (`settled`), count it either way. */
  hookFailed(settled: boolean, err: unknown): void;
  /** A failure in our own continuation: the connection ends, never the process. */
  crashed(err: unknown): void;
}

/**
 * Runs the request hook on `conn`: its decision, or accept() when it returns
 * (or resolves) without deciding; a throw or rejection before deciding denies
 * with the reply its errno maps to.
 */
export function runHook(hook: (ctx: RequestContext) => void | Promise<void>, conn: Decider): void {
  const ctx = new HookContext(conn);
  let result: unknown;
  try {
    result = hook(ctx);
  } catch (err) {
    return conn.hookFailed(ctx.settled, err);
  }
  if (!result || typeof (result as Promise<void>).then !== 'function') {
    if (!ctx.settled) void conn.accept();
    return;
  }
  // Promise.resolve() adopts any thenable in a job of its own: a then()
  // that throws or calls back twice becomes one settled promise.
  Promise.resolve(result as Promise<void>)
    .then(
      () => {
        if (!ctx.settled && !conn.socket.destroyed) void conn.accept();
      },
      (err) => conn.hookFailed(ctx.settled, err),
    )
    .catch((err) => conn.crashed(err));
}

/** The context handed to `onRequest`: one decision per request. */
class HookContext implements RequestContext {
  /** A decision was made (a second one would race the first and drive a finished engine). */
  settled = false;
  constructor(private readonly conn: Decider) {}

  get request(): SocksRequest {
    return this.conn.request;
  }
  get source(): SocksAddress {
    return this.conn.source;
  }
  get local(): SocksAddress {
    return this.conn.local;
  }
  accept(): Promise<void> {
    this.decide('accept()');
    return this.conn.accept();
  }
  deny(reply: number = Reply.NotAllowedByRuleset): void {
    this.decide('deny()');
    this.conn.deny(reply);
  }
  handoff(options?: { reply?: number; bound?: SocksAddress }): { socket: Duplex; head: Buffer } {
    this.decide('handoff()');
    return this.conn.handoff(options);
  }
  relay(upstream: Duplex, bound?: SocksAddress): void {
    this.decide('relay()');
    this.conn.relayTo(upstream, bound);
  }
  failed(error: unknown): void {
    this.conn.handoffFailed(error);
  }

  private decide(what: string): void {
    if (this.settled) throw new LocalProtocolError(`${what}: the request was already decided`);
    this.settled = true;
  }
}
