/**
 * What the server and client handshake engines share: the input queue, the
 * parser loop over per-phase handlers, running a method's session (its steps,
 * its async verify, its size bound) and the switch-over to the method's
 * encapsulation. Each engine adds its phases and messages on top; nothing
 * here allocates per connection beyond the queue itself.
 */
import { Limits } from './constants.js';
import { RemoteProtocolError, LocalProtocolError } from './errors.js';
import { ByteQueue } from './codec/byte-queue.js';
import type { AuthMethod, AuthSession, AuthStep, Encapsulation, VerifyResult } from './method.js';

/** The actions both engines emit; each engine's action union includes these. */
type EngineAction = { type: 'write'; data: Buffer } | { type: 'verify'; check: () => unknown };

/** A phase handler: consumes at most one message, returns true when the next phase should run now. */
export type PhaseHandler<E, A> = (engine: E, out: A[]) => boolean;

export abstract class HandshakeEngine<P extends string, A extends { type: string }> {
  protected state: P;
  protected readonly queue = new ByteQueue();
  protected method: AuthMethod<unknown> | undefined;
  protected session: AuthSession<unknown> | undefined;
  protected encapsulation: Encapsulation | undefined;

  protected constructor(initial: P) {
    this.state = initial;
  }

  /** Runs the handler of the current phase (a static table, so no closures per connection). */
  protected abstract runPhase(out: A[]): boolean;
  /** The method's session finished: go on to the request (server) or send it (client). */
  protected abstract authDone(out: A[], identity: unknown): void;
  /** The method's session failed. */
  protected abstract authFailed(out: A[], error: AuthStep & { kind: 'fail' }): void;
  /** Any error becomes this engine's failure output; the engine is then closed. */
  protected abstract fail(out: A[], err: unknown): void;
  /** The error text for a message that outgrew `max` bytes. */
  protected abstract tooLong(max: number): string;

  /** Bytes from the peer: queued (unwrapped once the method protects data), then parsed. */
  receive(chunk: Buffer): A[] {
    if (this.isFinal()) return [];
    const out: A[] = [];
    try {
      this.queue.push(this.encapsulation ? this.encapsulation.unwrap(chunk) : chunk);
      this.advance(out);
    } catch (err) {
      this.fail(out, err);
    }
    return out;
  }

  protected isFinal(): boolean {
    return this.state === 'closed' || this.state === 'done';
  }

  /**
   * The parser loop: runs the current phase's handler until one needs more
   * input (or waits for the adapter).
   */
  protected advance(out: A[]): void {
    while (this.runPhase(out)) {
      /* next phase */
    }
  }

  /** Starts the selected method's session (state `auth`). */
  protected startSession(out: A[], method: AuthMethod<unknown>, session: AuthSession<unknown>): void {
    this.method = method;
    this.session = session;
    this.state = 'auth' as P;
    if (session.start) this.step(out, session.start());
  }

  /** One round of the method's sub-negotiation. */
  protected onAuth(out: A[]): boolean {
    const before = this.queue.length;
    this.step(out, this.session!.receive(this.queue));
    if (this.state === 'auth' && this.queue.length === before) return this.needMoreWithin(this.session!.maxMessage ?? Limits.userpass);
    return true;
  }

  /** The outcome of the session's `verify` check (state `auth-verify`). */
  protected verifiedAuth(out: A[], result: VerifyResult): void {
    const session = this.session!;
    if (!session.verified) throw new LocalProtocolError(`method ${this.method!.name} returned verify without verified()`);
    this.state = 'auth' as P;
    this.step(out, session.verified(result));
  }

  /** Applies a method step. */
  protected step(out: A[], s: AuthStep): void {
    if (s.write) this.write(out, s.write);
    switch (s.kind) {
      case 'more':
        return;
      case 'verify':
        this.state = 'auth-verify' as P;
        this.emit(out, { type: 'verify', check: s.check });
        return;
      case 'done':
        if (s.encapsulation) {
          this.encapsulation = s.encapsulation;
          // What came with the last auth message is already wrapped.
          const rest = this.queue.takeAll();
          if (rest.length) this.queue.push(s.encapsulation.unwrap(rest));
        }
        this.authDone(out, s.identity);
        return;
      case 'fail':
        this.authFailed(out, s);
        return;
    }
  }

  /**
   * The current message is incomplete: wait for more bytes unless what is
   * buffered already fills `max`, the largest legal message of this phase.
   * Returns false (stop).
   */
  protected needMoreWithin(max: number): false {
    if (this.queue.length >= max) throw new RemoteProtocolError(this.tooLong(max), { code: 'ERR_SOCKS_BUFFER_LIMIT' });
    return false;
  }

  /** Writes to the peer, wrapped once the method protects data. */
  protected write(out: A[], data: Buffer): void {
    this.emit(out, { type: 'write', data: this.encapsulation ? this.encapsulation.wrap(data) : data });
  }

  private emit(out: A[], action: EngineAction): void {
    (out as unknown as EngineAction[]).push(action);
  }
}
