/**
 * Moves bytes both ways between two streams until both directions end.
 * Half-close is propagated (a FIN on one side ends writing on the other),
 * backpressure is respected (a slow reader pauses the fast writer, so memory
 * per tunnel stays bounded), and an error or reset on either side destroys
 * both.
 *
 * A direction that reads a socket goes through a SocketReader (reused read
 * buffers, no allocation per read: socket-reader.ts); any other stream is
 * read through 'data' events.
 *
 * Every tunnel runs through here, so it registers as few listeners and
 * closures as it can: one state object, plain `on` (no `once` wrappers).
 */
import type { Duplex } from 'node:stream';
import { SocketReader, adopt, dialledReader, ReaderEvents } from './socket-reader.js';
import { BACKPRESSURE, THROTTLE, hold, release } from './hold.js';
import { handOver, type Spliced } from './spliced.js';
import { SPLICE_DONE, SPLICE_ERROR } from './splice.js';

export interface RelayOptions {
  /** Close both sides after this many ms without traffic (0: never). */
  idleTimeout?: number;
  /**
   * Once one side has ended (sent FIN) or closed cleanly, how long the tunnel
   * may go without traffic before both sides are destroyed (default 30 000;
   * 0: wait forever). Frees half-open tunnels whose other side stays silent,
   * and bounds a peer that never reads; a half-closed tunnel that still
   * carries data is not cut.
   */
  lingerTimeout?: number;
  /** Byte counters, updated as data moves (a → b is `up`), and why the relay tore both sides down, if it did. */
  counter?: RelayCounter;
  /**
   * A rate limit: told of every read (`up`: read from a), it answers how many
   * ms that direction should pause (0: none). The reader is paused that long;
   * the bytes already read are written.
   */
  throttle?: (way: 'up' | 'down', n: number) => number;
  /**
   * Moves a tunnel of two TCP sockets to the native splice relay (splice.ts)
   * once it has carried this many bytes, both ways together (0: as soon as
   * it can). Undefined: never. The caller checks the addon is there
   * (useSplice()); a throttled tunnel is never moved.
   */
  spliceAfter?: number | undefined;
}

/** Filled in by relay(): bytes each way, and `end` when the relay destroyed the tunnel (idle timeout, error or reset, linger). */
export interface RelayCounter {
  up: number;
  down: number;
  end?: 'idle' | 'reset' | 'linger' | undefined;
}

type Timeoutable = Duplex & { setTimeout?: (ms: number, cb?: () => void) => void };

/**
 * Each side's Tunnel. The sides' listeners are shared functions that find
 * their tunnel here (the emitter is `this`), not closures made per tunnel.
 */
const kTunnel = Symbol('sockskit.tunnel');
type Side = Duplex & { [kTunnel]: Tunnel };
function onSideError(this: Side): void {
  this[kTunnel].destroyBoth('reset');
}
function onSideClose(this: Side): void {
  this[kTunnel].onClose(this);
}
function onSideEnd(this: Side): void {
  this[kTunnel].onEnd(this);
}
function trySplice(t: Tunnel): void {
  t.trySplice();
}

class Tunnel implements ReaderEvents {
  private closed = false;
  private closes = 0;
  /** The directions read through a SocketReader (two fields, not an array: thousands of idle tunnels). */
  private reader1: SocketReader | undefined;
  private reader2: SocketReader | undefined;
  /** Counts reads and completed writes, for the linger check. */
  private traffic = 0;
  private seen = 0;
  private linger: NodeJS.Timeout | undefined;
  private readonly lingerMs: number;
  private readonly counter: RelayCounter | undefined;
  private readonly throttle: RelayOptions['throttle'];
  /** A direction paused by the throttle, until its timer fires. */
  private throttled: { up?: NodeJS.Timeout; down?: NodeJS.Timeout } | undefined;
  /** Bytes (both ways) before the hand-over to the splice relay; -1: never, or done. */
  private spliceAfter: number;
  private carried = 0;
  private spliceTick = false;
  /** The splice relay carries the tunnel now. */
  private spliced: Spliced | undefined;
  private readonly idleMs: number;

  constructor(
    private readonly a: Duplex,
    private readonly b: Duplex,
    options: RelayOptions,
  ) {
    this.lingerMs = options.lingerTimeout ?? 30000;
    this.counter = options.counter;
    this.throttle = options.throttle;
    this.idleMs = options.idleTimeout ?? 0;
    this.spliceAfter = options.throttle || options.spliceAfter === undefined ? -1 : options.spliceAfter;
  }

  /** `from` sent FIN: end writing on the other side. */
  onEnd(from: Duplex): void {
    const to = from === this.a ? this.b : this.a;
    if (!to.destroyed) to.end();
    this.startLinger();
  }

  destroyBoth(why: 'idle' | 'reset' | 'linger'): void {
    if (this.closed) return;
    this.closed = true;
    // The addon's dups would keep both connections open: closed first.
    this.unsplice();
    this.stopLinger();
    if (this.throttled) for (const t of [this.throttled.up, this.throttled.down]) if (t) clearTimeout(t);
    if (this.counter && !this.counter.end) this.counter.end = why;
    this.a.destroy();
    this.b.destroy();
  }

  received(way: 'up' | 'down', n: number): void {
    this.traffic++;
    if (this.counter) this.counter[way] += n;
    if (this.throttle) this.slowDown(way, this.throttle(way, n));
    else if (this.spliceAfter >= 0 && (this.carried += n) >= this.spliceAfter) this.wantSplice();
  }

  private slowDown(way: 'up' | 'down', ms: number): void {
    const t = (this.throttled ??= {});
    if (ms <= 0 || t[way] || this.closed) return;
    const from = way === 'up' ? this.a : this.b;
    hold(from, THROTTLE);
    t[way] = setTimeout(() => {
      t[way] = undefined;
      // Still held if its destination is full: the drain resumes it then.
      if (!this.closed) release(from, THROTTLE);
    }, Math.ceil(ms));
  }

  activity(): void {
    this.traffic++;
    if (this.spliceAfter >= 0 && this.carried >= this.spliceAfter) this.wantSplice();
  }

  /** Tries the hand-over once the current I/O callback is over (and its write callbacks have run). */
  wantSplice(): void {
    if (this.spliceTick) return;
    this.spliceTick = true;
    process.nextTick(trySplice, this);
  }

  trySplice(): void {
    this.spliceTick = false;
    if (this.closed || this.spliceAfter < 0) return;
    const s = handOver(this.a, this.b, (kind, errno) => this.fromNative(kind, errno));
    if (s === 'later') return;
    this.spliceAfter = -1;
    if (s === 'never') return;
    this.spliced = s;
    // Nothing reads into them now.
    this.reader1?.closed();
    this.reader2?.closed();
    if (this.idleMs > 0) {
      // The sockets see no traffic now: the addon's counts decide.
      (this.a as Timeoutable).setTimeout?.(0);
      (this.b as Timeoutable).setTimeout?.(0);
      s.watchIdle(this.idleMs, () => this.destroyBoth('idle'));
    }
  }

  /** The splice relay: a FIN went on (the linger starts, as at 'end'), both directions finished, or a socket failed. */
  private fromNative(kind: number, _errno: number): void {
    if (this.closed) return;
    if (kind !== SPLICE_DONE && kind !== SPLICE_ERROR) return this.startLinger();
    this.unsplice();
    if (kind === SPLICE_ERROR) return this.destroyBoth('reset');
    // Both FINs went on and everything was written: a clean end, as when both sides close in JavaScript.
    this.closed = true;
    this.stopLinger();
    this.a.destroy();
    this.b.destroy();
  }

  /** Ends the native tunnel, its counts added to ours (exact at the end: the access log reads them). */
  private unsplice(): void {
    const s = this.spliced;
    if (!s) return;
    this.spliced = undefined;
    const [up, down, moves] = s.finish();
    this.traffic += moves;
    if (this.counter) {
      this.counter.up += up;
      this.counter.down += down;
    }
  }

  /** Traffic so far, the splice relay's included. */
  private trafficNow(): number {
    return this.traffic + (this.spliced ? this.spliced.moves() : 0);
  }

  /**
   * A side closed. Unless it finished cleanly both ways, destroy the other. A
   * clean close leaves the other side to flush what it still has queued (end()
   * was already called on it, and it has read its FIN): destroying it now would
   * drop those bytes; the linger bounds a peer that never reads.
   */
  onClose(x: Duplex): void {
    // Somebody destroyed a side (server.close(), a limit, a reload): the addon lets go at once.
    this.unsplice();
    if (++this.closes === 2) {
      this.stopLinger();
      if (this.throttled) for (const t of [this.throttled.up, this.throttled.down]) if (t) clearTimeout(t);
      this.reader1?.closed();
      this.reader2?.closed();
      return;
    }
    if (!(x.readableEnded && x.writableFinished)) return this.destroyBoth('reset');
    this.startLinger();
  }

  /** A FIN or a clean close: from now on a tunnel without traffic for lingerTimeout is freed. */
  startLinger(): void {
    if (this.linger || this.closed || this.lingerMs <= 0) return;
    this.seen = this.trafficNow();
    // Created here, not per tunnel: most tunnels never linger.
    this.linger = setTimeout(() => this.checkLinger(), this.lingerMs);
  }

  private checkLinger(): void {
    if (this.closed) return;
    const traffic = this.trafficNow();
    if (traffic !== this.seen) {
      this.seen = traffic;
      this.linger!.refresh();
      return;
    }
    this.destroyBoth('linger');
  }

  private stopLinger(): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = undefined;
  }

  /** One direction: data with backpressure, then FIN. */
  pipe(from: Duplex, to: Duplex, way: 'up' | 'down'): void {
    // A FIN that arrived while the handshake was being decided (a client that
    // half-closes right after its request) has already emitted 'end'.
    if (from.readableEnded) this.onEnd(from);
    else from.on('end', onSideEnd);
    const dialled = dialledReader(from);
    if (dialled) return this.read(dialled, to, way);
    const reader = new SocketReader();
    if (adopt(from, reader)) return this.read(reader, to, way);
    from.on('data', (chunk: Buffer) => {
      this.received(way, chunk.length);
      if (!to.write(chunk)) hold(from, BACKPRESSURE);
    });
    to.on('drain', () => {
      this.activity();
      release(from, BACKPRESSURE);
    });
    release(from, BACKPRESSURE);
  }

  private read(reader: SocketReader, to: Duplex, way: 'up' | 'down'): void {
    if (this.reader1) this.reader2 = reader;
    else this.reader1 = reader;
    reader.attach(to, this, way);
  }
}

export function relay(a: Duplex, b: Duplex, headForB: Buffer, options: RelayOptions = {}): void {
  const t = new Tunnel(a, b, options);
  (a as Side)[kTunnel] = t;
  (b as Side)[kTunnel] = t;
  a.on('error', onSideError);
  b.on('error', onSideError);
  a.on('close', onSideClose);
  b.on('close', onSideClose);
  // A side that is already gone (the client reset while the hook decided) emits no more 'close'.
  if (a.destroyed || b.destroyed) {
    t.destroyBoth('reset');
    return;
  }
  if (headForB.length) {
    if (options.counter) options.counter.up += headForB.length;
    b.write(headForB);
  }
  t.pipe(a, b, 'up');
  t.pipe(b, a, 'down');
  if (options.spliceAfter === 0) t.wantSplice();
  const idle = options.idleTimeout ?? 0;
  if (idle > 0) {
    const onIdle = (): void => t.destroyBoth('idle');
    (a as Timeoutable).setTimeout?.(idle, onIdle);
    (b as Timeoutable).setTimeout?.(idle, onIdle);
  }
}
