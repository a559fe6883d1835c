/**
 * Moves bytes both ways between two streams until both directions end.
 * Half-close is propagated (a FIN on one side ends writing on the other),
 * backpressure is respected (a slow reader pauses the fast writer, so memory
 * per tunnel stays bounded by the stream high-water marks), and an error or
 * reset on either side destroys both.
 */
import type { Duplex } from 'node:stream';

export interface RelayOptions {
  /** Close both sides after this many ms without traffic (0: never). */
  idleTimeout?: number;
}

export function relay(a: Duplex, b: Duplex, headForB: Buffer, options: RelayOptions = {}): void {
  let closed = false;
  const destroyBoth = () => {
    if (closed) return;
    closed = true;
    a.destroy();
    b.destroy();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.once('close', destroyBoth);
  b.once('close', destroyBoth);
  if (headForB.length) b.write(headForB);
  pipe(a, b);
  pipe(b, a);
  const idle = options.idleTimeout ?? 0;
  if (idle > 0) {
    const sa = a as Duplex & { setTimeout?: (ms: number, cb?: () => void) => void };
    const sb = b as Duplex & { setTimeout?: (ms: number, cb?: () => void) => void };
    sa.setTimeout?.(idle, destroyBoth);
    sb.setTimeout?.(idle, destroyBoth);
  }
}

/** One direction: data with backpressure, then FIN. */
function pipe(from: Duplex, to: Duplex): void {
  const onData = (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  };
  from.on('data', onData);
  from.once('end', () => {
    from.removeListener('data', onData);
    if (!to.destroyed) to.end();
  });
  from.resume();
}
