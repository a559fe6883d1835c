/**
 * Puts a method's Encapsulation (e.g. GSS-API MTYP 03 frames) around a
 * stream: what the application writes is wrapped, what the peer sends is
 * unwrapped. The relay and hand-off use this so a protecting method needs no
 * special case anywhere else.
 *
 * Errors are typed: a frame that fails to unwrap (tampered, replayed,
 * reordered) destroys the stream with the method's SocksError
 * (ERR_SOCKS_ENCAPSULATION for GSS-API), and so does an end of input in the
 * middle of a frame (truncation). Memory stays bounded by the method's
 * largest frame: unwrap keeps at most one partial frame, and a paused reader
 * pauses the inner stream.
 */
import { Duplex } from 'node:stream';
import type { Encapsulation } from '../protocol/method.js';
import { SocksError } from '../protocol/errors.js';

export function encapsulate(inner: Duplex, enc: Encapsulation, head?: Buffer): Duplex {
  const outer = wrappingDuplex(inner, enc);
  const onEnd = unwrapInto(outer, inner, enc);
  if (head && head.length) outer.push(head);
  // The peer's FIN may have come before this wrapper (during the handshake).
  if (inner.readableEnded) onEnd();
  return outer;
}

/** The application's side: what it writes goes to `inner` wrapped; ending it ends `inner` once flushed. */
function wrappingDuplex(inner: Duplex, enc: Encapsulation): Duplex {
  return new Duplex({
    allowHalfOpen: true,
    read() {
      // Also starts the flow: the adapter may have paused `inner` during the handshake.
      inner.resume();
    },
    write(chunk: Buffer, _encoding, cb) {
      let wire: Buffer;
      try {
        wire = enc.wrap(chunk);
      } catch (err) {
        cb(err as Error);
        return;
      }
      if (inner.write(wire)) cb();
      else inner.once('drain', () => cb());
    },
    final(cb) {
      // Finish only once `inner` has flushed: the outer stream then closes
      // itself, and its destroy() would discard bytes `inner` still holds.
      if (inner.writableFinished || inner.destroyed) return cb();
      const done = (): void => {
        inner.off('finish', done);
        inner.off('close', done);
        cb();
      };
      inner.on('finish', done);
      inner.on('close', done);
      inner.end();
    },
    destroy(err, cb) {
      inner.destroy(err ?? undefined);
      cb(err);
    },
  });
}

/** The peer's side: `inner`'s frames unwrapped into `outer`. Returns the handler of `inner`'s end. */
function unwrapInto(outer: Duplex, inner: Duplex, enc: Encapsulation): () => void {
  /** The peer's end came after whole frames (outer's end was pushed). */
  let ended = false;
  const onData = (wire: Buffer) => {
    let plain: Buffer;
    try {
      plain = enc.unwrap(wire);
    } catch (err) {
      outer.destroy(err as Error);
      return;
    }
    if (plain.length && !outer.push(plain)) inner.pause();
  };
  inner.on('data', onData);
  const onEnd = (): void => {
    // The peer stopped inside a frame: the tail of the stream was cut off.
    const pending = enc.pending ?? 0;
    if (pending > 0) {
      outer.destroy(new SocksError('ERR_SOCKS_ENCAPSULATION', `stream ended inside an encapsulated frame (${pending} bytes of a truncated frame)`));
      return;
    }
    ended = true;
    outer.push(null);
  };
  inner.on('end', onEnd);
  inner.on('error', (err) => outer.destroy(err));
  inner.on('close', () => {
    if (outer.destroyed) return;
    // Reset, or closed before the peer's end: nothing more will come.
    if (!ended) return void outer.destroy();
    // Closed after the peer's end (a socket without allowHalfOpen closes as
    // soon as it has read the FIN): what is already unwrapped is still
    // delivered, then the wrapper closes itself (autoDestroy).
    if (!outer.writableEnded) outer.end();
  });
  return onEnd;
}
