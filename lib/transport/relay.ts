/**
 * Moves bytes both ways between two streams until both directions end.
 * Half-close is propagated (a FIN on one side ends writing on the other),
 * backpressure is respected (a slow reader pauses the fast writer, so memory
 * per tunnel stays bounded by the stream high-water marks), and an error or
 * reset on either side destroys both.
 *
 * Every tunnel runs through here, so it registers as few listeners and
 * closures as it can: one state object, plain `on` (no `once` wrappers).
 */
import type { Duplex } from 'node:stream';

export interface RelayOptions {
  /** Close both sides after this many ms without traffic (0: never). */
  idleTimeout?: number;
  /**
   * After one side has closed cleanly, how long the other may take to flush
   * what it still has queued before it is destroyed (default 30 000; 0:
   * wait forever). Bounds a peer that never reads.
   */
  lingerTimeout?: number;
  /** Byte counters, updated as data moves (a → b is `up`), and why the relay tore both sides down, if it did. */
  counter?: RelayCounter;
}

/** Filled in by relay(): bytes each way, and `end` when the relay destroyed the tunnel (idle timeout, error or reset, linger). */
export interface RelayCounter {
  up: number;
  down: number;
  end?: 'idle' | 'reset' | 'linger';
}

type Timeoutable = Duplex & { setTimeout?: (ms: number, cb?: () => void) => void };

export function relay(a: Duplex, b: Duplex, headForB: Buffer, options: RelayOptions = {}): void {
  let closed = false;
  const counter = options.counter;
  const destroyBoth = (why: 'idle' | 'reset' | 'linger' = 'reset'): void => {
    if (closed) return;
    closed = true;
    if (counter && !counter.end) counter.end = why;
    a.destroy();
    b.destroy();
  };
  // A side that closed after a clean end both ways leaves the other to flush
  // what it still has queued (end() was already called on it, and it has read
  // its FIN): destroying it now would drop those bytes. But a peer that never
  // reads would keep it open forever, so it gets lingerTimeout to finish.
  let linger: NodeJS.Timeout | undefined;
  const onClose = (x: Duplex): void => {
    if (linger) clearTimeout(linger);
    if (!(x.readableEnded && x.writableFinished)) return destroyBoth();
    const ms = options.lingerTimeout ?? 30000;
    if (ms > 0 && !closed && !(x === a ? b : a).destroyed) linger = setTimeout(destroyBoth, ms, 'linger');
  };
  const onError = (): void => destroyBoth('reset');
  a.on('error', onError);
  b.on('error', onError);
  a.on('close', () => onClose(a));
  b.on('close', () => onClose(b));
  // A side that is already gone (the client reset while the hook decided) emits no more 'close'.
  if (a.destroyed || b.destroyed) {
    destroyBoth();
    return;
  }
  if (headForB.length) {
    if (counter) counter.up += headForB.length;
    b.write(headForB);
  }
  pipe(a, b, counter, 'up');
  pipe(b, a, counter, 'down');
  const idle = options.idleTimeout ?? 0;
  if (idle > 0) {
    const onIdle = (): void => destroyBoth('idle');
    (a as Timeoutable).setTimeout?.(idle, onIdle);
    (b as Timeoutable).setTimeout?.(idle, onIdle);
  }
}

/** One direction: data with backpressure, then FIN. */
function pipe(from: Duplex, to: Duplex, counter: RelayCounter | undefined, way: 'up' | 'down'): void {
  from.on('data', (chunk: Buffer) => {
    if (counter) counter[way] += chunk.length;
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  const onEnd = (): void => {
    if (!to.destroyed) to.end();
  };
  // A FIN that arrived while the handshake was being decided (a client that
  // half-closes right after its request) has already emitted 'end'.
  if (from.readableEnded) onEnd();
  else from.on('end', onEnd);
  from.resume();
}
