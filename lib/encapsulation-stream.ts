/**
 * Puts a method's Encapsulation (e.g. GSS-API MTYP 03 frames) around a
 * stream: what the application writes is wrapped, what the peer sends is
 * unwrapped. The relay and hand-off use this so a protecting method needs no
 * special case anywhere else.
 */
import { Duplex } from 'node:stream';
import type { Encapsulation } from '../methods/types.js';

export function encapsulate(inner: Duplex, enc: Encapsulation, head?: Buffer): Duplex {
  let reading = true;
  const outer = new Duplex({
    allowHalfOpen: true,
    read() {
      if (!reading) {
        reading = true;
        inner.resume();
      }
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
      inner.end();
      cb();
    },
    destroy(err, cb) {
      inner.destroy(err ?? undefined);
      cb(err);
    },
  });
  const onData = (wire: Buffer) => {
    let plain: Buffer;
    try {
      plain = enc.unwrap(wire);
    } catch (err) {
      outer.destroy(err as Error);
      return;
    }
    if (plain.length && !outer.push(plain)) {
      reading = false;
      inner.pause();
    }
  };
  inner.on('data', onData);
  inner.on('end', () => outer.push(null));
  inner.on('error', (err) => outer.destroy(err));
  inner.on('close', () => {
    if (!outer.destroyed) outer.destroy();
  });
  if (head && head.length) outer.push(head);
  return outer;
}
