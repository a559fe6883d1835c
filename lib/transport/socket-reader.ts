/**
 * Reading a socket without allocating per read, for the relay.
 *
 * Node's default read path allocates a fresh 64 KiB buffer for every read and
 * shrinks it to what arrived. Node's `onread` option (net.Socket / net.connect)
 * reads into a buffer the caller supplies instead, and calls back with the
 * byte count; the buffer is reused by the next read as soon as the callback
 * returns. Two kinds of buffer are used here:
 *
 * - a quiet reader reads into one buffer shared by every socket, and what
 *   lands there is copied out at once (a small copy, the common case for
 *   interactive traffic; an idle tunnel holds no buffer of its own);
 * - once a read shows data streaming, the reader gets a buffer of its own
 *   (from a small pool) and writes views of it to the other socket without a
 *   copy. A write the kernel does not take at once still points into that
 *   buffer, so the buffer is set aside until that write completes (writes
 *   complete in order) and reading goes on into another one; reading stops
 *   only when more than 64 KiB wait in the writable (backpressure). A buffer
 *   is therefore never refilled while a write still holds it. A read that
 *   does not fill the buffer (the socket had nothing more) gives it back, so
 *   a tunnel that goes quiet returns to holding none.
 *
 * Sockets we dial get `onread` at creation (dial()). Accepted sockets cannot
 * (net.Server has no such option in Node 20), so adopt() switches an accepted
 * socket to the same path through Node's own onread machinery (the fields the
 * `onread` option sets, and the handle's useUserBuffer). That is not public
 * API: adopt() checks for every piece it needs and declines otherwise, and the
 * relay then reads the socket through 'data' events as before.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { BACKPRESSURE, hold, release } from './hold.js';

const SIZE = 64 * 1024;
/** Read buffer of every quiet reader: copied out by the callback, so reusable by the next read of any socket. */
const SHARED = Buffer.allocUnsafeSlow(SIZE);
/** A read at least this large into the shared buffer means data is streaming: take a buffer of our own. */
const STREAMING = 16 * 1024;
/**
 * A read that fills a 64 KiB buffer of its own shows more queued in the
 * socket: the next read goes into a buffer this large (one read and one
 * write per 256 KiB instead of per 64 KiB, a sixth less CPU per byte in our
 * measurements). A read that does not fill it goes back to 64 KiB.
 */
const BIG = 256 * 1024;
/** Own buffers given back and kept for the next streaming reader, by size. */
const spare: Buffer[] = [];
const SPARE_MAX = 16;
const spareBig: Buffer[] = [];
const SPARE_BIG_MAX = 4;
let inUse = 0;

const tuning = { adopt: true, zeroCopy: true, queue: 64 * 1024, big: true };

/**
 * @internal For specs and measurements: `adopt: false` reads accepted sockets
 * through 'data' events (the fallback path), `zeroCopy: false` copies every
 * read (no own buffers), `queue` is how many bytes may wait in the writable
 * before reading stops (0: stop at every write the kernel does not take at
 * once, i.e. pause until drained), `big: false` keeps every read at 64 KiB.
 * Returns the previous settings.
 */
export function readerTuning(t: Partial<typeof tuning>): typeof tuning {
  const before = { ...tuning };
  Object.assign(tuning, t);
  return before;
}

/** @internal Own read buffers currently held by readers (quiet tunnels hold none). */
export function readBuffersInUse(): number {
  return inUse;
}

/** What a reader tells the relay. */
export interface ReaderEvents {
  /** `n` bytes were read for direction `way` (the tunnel is not quiet). */
  received(way: 'up' | 'down', n: number): void;
  /** A write completed (the tunnel is not quiet). */
  activity(): void;
}

/**
 * One direction, from a socket read through `onread` to any writable. Created
 * before the socket exists for dial(); attached to a destination by the relay.
 */
export class SocketReader {
  from!: net.Socket;
  private to: Duplex | undefined;
  private events: ReaderEvents | undefined;
  private way: 'up' | 'down' = 'up';
  /** The buffer the next read goes to (what `onread.buffer()` returns). */
  private next: Buffer = SHARED;
  /** Our own buffer while data streams (the next read goes there). */
  private own: Buffer | undefined;
  /** Own buffers that writes still point into, with the number of that write (writes complete in order). */
  private held: Buffer[] | undefined;
  private heldUntil: number[] | undefined;
  private writes = 0;
  private done = 0;
  /** Data read before the relay was attached (copied). */
  private early: Buffer[] | undefined;
  /** Reading is stopped until `to` has written everything. */
  private waiting = false;
  /** `to` is a socket: a completed write holds no reference, so views of our buffers can be written. */
  private direct = false;

  /**
   * The write callback, made when a write starts and dropped when every write
   * has completed: a quiet tunnel holds none (a closure and its context per
   * direction), a busy one makes it once per burst.
   */
  private cb: ((err?: Error | null) => void) | undefined;
  private get written(): (err?: Error | null) => void {
    return (this.cb ??= (err) => this.completed(err));
  }

  private completed(err: Error | null | undefined): void {
    this.done++;
    if (this.done === this.writes) this.cb = undefined;
    this.events?.activity();
    const until = this.heldUntil;
    while (until !== undefined && until.length > 0 && until[0] <= this.done) {
      until.shift();
      giveBack(this.held!.shift()!);
    }
    if (!this.waiting || err || this.to!.writableLength > 0) return;
    this.waiting = false;
    // Not while the rate throttle holds it (hold.ts).
    release(this.from, BACKPRESSURE);
  }

  /** @internal The buffer the socket reads into next. */
  get nextBuffer(): Buffer {
    return this.next;
  }

  /** Keeps bytes read before attach() (they are written first). */
  keep(chunk: Buffer): void {
    (this.early ??= []).push(chunk);
  }

  /** Starts relaying to `to`: what was read early first, then reading resumes. */
  attach(to: Duplex, events: ReaderEvents, way: 'up' | 'down'): void {
    this.to = to;
    this.events = events;
    this.way = way;
    this.direct = tuning.zeroCopy && isPlainSocket(to);
    const early = this.early;
    this.early = undefined;
    if (early) {
      for (const chunk of early) {
        events.received(way, chunk.length);
        this.writes++;
        to.write(chunk, this.written);
      }
    }
    if (to.writableLength > tuning.queue) this.waiting = true;
    else release(this.from, BACKPRESSURE);
  }

  /** @internal `n` bytes arrived in `buf` (the socket's onread callback, through onSocketRead). */
  read(n: number, buf: Buffer): boolean {
    const to = this.to;
    if (buf !== this.own) {
      // The shared buffer: copy out now, the next read of any socket reuses it.
      const chunk = Buffer.allocUnsafe(n);
      buf.copy(chunk, 0, 0, n);
      if (!to) {
        (this.early ??= []).push(chunk);
        return this.stop();
      }
      // Data is streaming: read into a buffer of our own from now on.
      if (this.direct && n >= STREAMING) this.next = this.own = takeBuffer(false);
      this.writes++;
      to.write(chunk, this.written);
    } else {
      this.writes++;
      to!.write(buf.subarray(0, n), this.written);
      if (to!.writableLength > 0) {
        // The kernel did not take it all: the queued write points into this
        // buffer, so it is kept until that write completes and reading goes on
        // into another one (or the shared one, if the socket had no more).
        (this.held ??= []).push(buf);
        (this.heldUntil ??= []).push(this.writes);
        // (None when reading is about to stop: a stalled direction holds only what its queued writes point into.)
        this.own = n < buf.length || to!.writableLength > tuning.queue ? undefined : takeBuffer(true);
        this.next = this.own ?? SHARED;
      } else if (n < buf.length) {
        // The socket had nothing more: perhaps the end of a burst; a quiet reader holds no buffer.
        this.own = undefined;
        this.next = SHARED;
        giveBack(buf);
      } else if (buf.length < BIG && tuning.big) {
        // A full read: more is queued, read more at a time.
        giveBack(buf);
        this.next = this.own = takeBuffer(true);
      }
    }
    this.events!.received(this.way, n);
    if (to!.writableLength <= tuning.queue) return true;
    this.waiting = true;
    return this.stop();
  }

  /** Pauses the socket (which stops its reads, as returning false would, and shows in isPaused()). */
  private stop(): boolean {
    hold(this.from, BACKPRESSURE);
    return false;
  }

  /** Both sockets have closed: nothing reads into or writes from our buffers any more. */
  closed(): void {
    this.next = SHARED;
    if (this.own) giveBack(this.own);
    this.own = undefined;
    if (this.held) for (const b of this.held) giveBack(b);
    this.held = this.heldUntil = undefined;
  }
}

/** `big`: the last read filled its buffer (more is queued). */
function takeBuffer(big: boolean): Buffer {
  inUse++;
  if (big && tuning.big) return spareBig.pop() ?? Buffer.allocUnsafeSlow(BIG);
  return spare.pop() ?? Buffer.allocUnsafeSlow(SIZE);
}

function giveBack(b: Buffer): void {
  inUse--;
  if (b.length === BIG) {
    if (spareBig.length < SPARE_BIG_MAX) spareBig.push(b);
  } else if (spare.length < SPARE_MAX) spare.push(b);
}

/**
 * Every socket's reader is found through this symbol: Node calls the onread
 * callback as a method of the socket, so one shared function serves all
 * readers (no closures per reader: thousands of idle tunnels keep them).
 */
const kReader = Symbol('sockskit.reader');
type ReadSocket = net.Socket & { [kReader]?: SocketReader };
/**
 * Node asks for the next buffer (plain call, no `this`) right after the
 * callback: the callback leaves the answer here. Anything else (the first
 * buffer of a dialled socket) gets the shared one, which is where every reader
 * starts.
 */
let answer: Buffer = SHARED;
function onSocketRead(this: ReadSocket, n: number, buf: Buffer): boolean {
  const reader = this[kReader]!;
  const more = reader.read(n, buf);
  answer = reader.nextBuffer;
  return more;
}
function nextReadBuffer(): Buffer {
  const b = answer;
  answer = SHARED;
  return b;
}

/**
 * net.connect() with reads through a SocketReader: once relay()ed, the socket
 * reads into reused buffers. Until then, whatever arrives is kept (copied)
 * and reading stops. Use it only for a socket that goes to relay() (it emits
 * no 'data' events).
 */
export function dial(options: net.TcpNetConnectOpts): net.Socket {
  const reader = new SocketReader();
  answer = SHARED;
  const socket: ReadSocket = net.connect({ ...options, onread: { buffer: nextReadBuffer, callback: onSocketRead } });
  reader.from = socket;
  socket[kReader] = reader;
  return socket;
}

/** The reader of a socket from dial(), if it is one. */
export function dialledReader(s: Duplex): SocketReader | undefined {
  return s instanceof net.Socket ? (s as ReadSocket)[kReader] : undefined;
}

interface OnreadFields {
  buf: symbol;
  cb: symbol;
  gen: symbol;
}
let fields: OnreadFields | null | undefined;

/** The private fields Node's `onread` option sets on a socket (Node 12+), found once by name. */
function onreadFields(s: net.Socket): OnreadFields | null {
  if (fields !== undefined) return fields;
  const own = Object.getOwnPropertySymbols(s);
  const find = (name: string) => own.find((k) => k.description === name);
  const buf = find('kBuffer');
  const cb = find('kBufferCb');
  const gen = find('kBufferGen');
  fields = buf && cb && gen ? { buf, cb, gen } : null;
  return fields;
}

type Handle = { useUserBuffer?: (b: Uint8Array) => void; constructor?: { name?: string } } | null | undefined;

function handleOf(s: Duplex): Handle {
  return (s as unknown as { _handle?: Handle })._handle;
}

/** A net.Socket on a TCP or pipe handle (not TLS, not a user Duplex). */
function isPlainSocket(s: Duplex): boolean {
  if (!(s instanceof net.Socket)) return false;
  const name = handleOf(s)?.constructor?.name;
  return name === 'TCP' || name === 'Pipe';
}

/**
 * Switches an accepted socket to read through `reader`, as if it had been
 * created with `onread`. Data already buffered by the stream goes first (when
 * the reader is attached). Returns false (and changes nothing) when the socket is not a
 * plain TCP socket in 'data' mode or this Node does not have what is needed.
 */
export function adopt(s: Duplex, reader: SocketReader): boolean {
  if (!tuning.adopt || !isPlainSocket(s)) return false;
  const sock = s as net.Socket;
  const k = onreadFields(sock);
  const handle = handleOf(sock);
  const rec = sock as unknown as Record<symbol, unknown>;
  if (!k || !handle || typeof handle.useUserBuffer !== 'function' || rec[k.buf] !== null || rec[k.gen] !== null || rec[k.cb] !== null) return false;
  // Bytes read before the switch (pipelined behind the request) go first.
  for (let chunk = sock.read() as Buffer | null; chunk !== null; chunk = sock.read() as Buffer | null) reader.keep(chunk);
  reader.from = sock;
  (sock as ReadSocket)[kReader] = reader;
  rec[k.cb] = onSocketRead;
  rec[k.gen] = nextReadBuffer;
  rec[k.buf] = SHARED;
  handle.useUserBuffer(SHARED);
  return true;
}
