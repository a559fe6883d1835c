/**
 * A small FIFO of received bytes for resumable parsers. Decoders peek at the
 * front and consume only once a whole message is there, so input may be split
 * anywhere and several messages may arrive in one chunk.
 *
 * The common case (one chunk holds one whole message) never copies: the chunk
 * is kept by reference until consumed.
 */
export class ByteQueue {
  private buf: Buffer = EMPTY;
  private off = 0;

  get length(): number {
    return this.buf.length - this.off;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.length === 0) {
      this.buf = chunk;
      this.off = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.off), chunk]);
      this.off = 0;
    }
  }

  /** Byte at position i from the front (caller checks length). */
  at(i: number): number {
    return this.buf[this.off + i]!;
  }

  /** A view of the first n bytes without consuming them. */
  peek(n: number = this.length): Buffer {
    return this.buf.subarray(this.off, this.off + n);
  }

  /** Removes and returns the first n bytes (a view; copy it if you keep it long). */
  take(n: number): Buffer {
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    if (this.off >= this.buf.length) this.clear();
    return out;
  }

  skip(n: number): void {
    this.off += n;
    if (this.off >= this.buf.length) this.clear();
  }

  /** Removes and returns everything buffered. */
  takeAll(): Buffer {
    const out = this.buf.subarray(this.off);
    this.clear();
    return out;
  }

  clear(): void {
    this.buf = EMPTY;
    this.off = 0;
  }
}

const EMPTY = Buffer.alloc(0);
