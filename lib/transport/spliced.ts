/**
 * The hand-over of a tunnel from the JavaScript relay to the splice relay
 * addon (splice.ts), and the native tunnel's side in JavaScript: its counts,
 * its stop, and the idle timeout while JavaScript sees no traffic.
 *
 * A hand-over happens only at a moment when no byte is in JavaScript's hands:
 * both sockets plain TCP sockets, open both ways, nothing read and not yet
 * delivered, nothing queued for writing. Reading stops on both (their
 * handles' readStop, and a hold that no drain or throttle timer lifts), and
 * the addon reads from the kernel from there on: no byte is lost or
 * reordered.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { hold, release, NATIVE } from './hold.js';
import { loadSplice, SPLICE_PIPE, type NativeSplice } from './splice.js';

type Handle = { fd?: number; reading?: boolean; readStop?: () => number; constructor?: { name?: string } } | null | undefined;
type Internals = { _handle?: Handle; _readableState?: { ended?: boolean; length?: number } };

/** A TCP socket whose bytes are all in the kernel: none read and undelivered, none queued, no FIN seen or sent. */
function quiet(s: Duplex): s is net.Socket {
  if (!(s instanceof net.Socket) || s.destroyed || s.connecting || s.pending) return false;
  const { _handle: h, _readableState: r } = s as unknown as Internals;
  if (!h || h.constructor?.name !== 'TCP' || typeof h.fd !== 'number' || h.fd < 0 || typeof h.readStop !== 'function') return false;
  if (!r || r.ended || r.length !== 0) return false;
  return !s.writableEnded && s.writableLength === 0 && !s.writableNeedDrain;
}

/** Node reads this socket no more (pause() alone would let a plain socket read ahead up to its highWaterMark). */
function stopReading(s: net.Socket): void {
  hold(s, NATIVE);
  const h = (s as unknown as Internals)._handle!;
  if (h.reading) {
    h.reading = false;
    h.readStop!();
  }
}

let started = 0;

/** @internal Tunnels handed over to the splice relay so far (specs check the native path really ran). */
export function splicesStarted(): number {
  return started;
}

/** A tunnel in the splice relay. */
export class Spliced {
  private idle: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly native: NativeSplice,
    private readonly h: object,
  ) {}

  /** Reads and writes that moved bytes so far (the linger's traffic). */
  moves(): number {
    return this.done ? 0 : this.native.counts(this.h)[2];
  }

  /**
   * Destroys the tunnel after `ms` without traffic, as the sockets' own
   * timeouts do in JavaScript (they see nothing now): checked every quarter
   * of it, so within 1.25 × ms.
   */
  watchIdle(ms: number, onIdle: () => void): void {
    let seen = -1;
    let since = Date.now();
    this.idle = setInterval(() => {
      const m = this.moves();
      const now = Date.now();
      if (m !== seen) {
        seen = m;
        since = now;
      } else if (now - since >= ms) onIdle();
    }, Math.max(1, Math.floor(ms / 4)));
  }

  /** Stops the native tunnel (closing its descriptors now) and returns [bytes up, bytes down, moves]. Once. */
  finish(): [number, number, number] {
    if (this.idle) clearInterval(this.idle);
    this.idle = undefined;
    if (this.done) return [0, 0, 0];
    const c = this.native.counts(this.h);
    this.native.stop(this.h);
    this.done = true;
    return c;
  }
}

/**
 * Moves a ⇄ b to the addon, `onEvent(kind, errno)` then tells what happens.
 * 'later': not at a safe moment now (try again on more traffic); 'never':
 * not a pair of TCP sockets, or the addon could not start (descriptors,
 * pipes: both sockets read on in JavaScript).
 */
export function handOver(a: Duplex, b: Duplex, onEvent: (kind: number, errno: number) => void): Spliced | 'later' | 'never' {
  if (!(a instanceof net.Socket) || !(b instanceof net.Socket)) return 'never';
  if (!quiet(a) || !quiet(b)) return 'later';
  const native = loadSplice();
  stopReading(a);
  stopReading(b);
  try {
    const fd = (s: net.Socket) => (s as unknown as Internals)._handle!.fd!;
    const s = new Spliced(native, native.start(fd(a), fd(b), onEvent, SPLICE_PIPE));
    started++;
    return s;
  } catch {
    release(a, NATIVE);
    release(b, NATIVE);
    return 'never';
  }
}
