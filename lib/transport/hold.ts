/**
 * Why a side of a tunnel is not being read. Its backpressure (the other side
 * is full) and the rate throttle both stop reading the same stream; each
 * sets its own bit, and reading resumes only when no bit is left: a drain
 * during a throttle pause does not lift the rate, and the throttle's timer
 * does not restart a reader whose destination is still full.
 *
 * The bits live on the stream under a symbol (a number: nothing allocated
 * per tunnel).
 */
import type { Duplex } from 'node:stream';

/** The other side is full (or the reader has no destination yet). */
export const BACKPRESSURE = 1;
/** The rate throttle's pause. */
export const THROTTLE = 2;
/** The splice relay addon reads the socket now (spliced.ts): never released while it does. */
export const NATIVE = 4;

const kHeld = Symbol('sockskit.held');
type Held = Duplex & { [kHeld]?: number };

/** Stops reading `s` for `why` (until release() of that reason). */
export function hold(s: Duplex, why: number): void {
  (s as Held)[kHeld] = ((s as Held)[kHeld] ?? 0) | why;
  s.pause();
}

/** `why` no longer holds `s`: reading resumes unless another reason still does. */
export function release(s: Duplex, why: number): void {
  const was = (s as Held)[kHeld];
  // Never held (every socket as its relay starts): no property added to it.
  if (was === undefined) {
    if (!s.destroyed) s.resume();
    return;
  }
  const left = was & ~why;
  (s as Held)[kHeld] = left;
  if (left === 0 && !s.destroyed) s.resume();
}

/** Whether `why` (any of its bits) holds `s`. */
export function held(s: Duplex, why: number): boolean {
  return (((s as Held)[kHeld] ?? 0) & why) !== 0;
}
