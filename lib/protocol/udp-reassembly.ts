/**
 * UDP fragment reassembly for UDP ASSOCIATE, RFC 1928 §7. Sans-I/O: no
 * timers inside; every call takes the current time (`now`, ms) and the
 * adapter schedules a wake-up at `deadline` to call `expire(now)`.
 *
 *   +----+------+------+----------+----------+----------+
 *   |RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
 *   +----+------+------+----------+----------+----------+
 *
 *   FRAG  0x00         standalone datagram
 *         0x01..0x7F   fragment position within a sequence
 *         0x80 | n     the last fragment (position n) of the sequence
 *
 * RFC 1928 §7: "Each receiver will have a REASSEMBLY QUEUE and a REASSEMBLY
 * TIMER ... The reassembly queue must be reinitialized and the associated
 * fragments abandoned whenever the REASSEMBLY TIMER expires, or a new
 * datagram arrives carrying a FRAG field whose value is less than the
 * highest FRAG value processed for this fragment sequence. The reassembly
 * timer MUST be no less than 5 seconds."
 *
 * One queue per association, as the RFC says. Two orderings:
 *  - 'strict': the RFC rule above (a lower position starts a new sequence,
 *    so any reordering loses the sequence).
 *  - 'tolerant' (default): a lower position that fills a gap is kept, so UDP
 *    reordering does not lose data; a new sequence is recognised by a
 *    position already held, a different destination, or the timer. The cost:
 *    if a sequence loses fragment k and the next sequence's fragment k fills
 *    the gap, the two mix; the destination check and the timer bound that.
 * Memory is bounded by maxFragments and maxBytes per sequence; exceeding
 * either abandons the sequence.
 */
import { LocalProtocolError } from './errors.js';
import type { SocksAddress } from './codec/address.js';

export const FRAG_END = 0x80;
export const FRAG_POSITION = 0x7f;
/** RFC 1928 §7 floor for the reassembly timer. */
export const MIN_REASSEMBLY_TIMEOUT = 5000;

export interface ReassemblyOptions {
  /** Reassembly timer in ms, from the first fragment of a sequence (default and minimum 5000). */
  timeout?: number;
  /** Most payload bytes held for one sequence (default 65507, the largest IPv4 UDP payload). */
  maxBytes?: number;
  /** Most fragments in one sequence, 1..127 (default 127). */
  maxFragments?: number;
  /** 'tolerant' (default) keeps out-of-order fragments that fill gaps; 'strict' is the RFC rule. */
  order?: 'tolerant' | 'strict';
}

export type ReassemblyResult =
  /** A whole datagram: a standalone one, or a sequence just completed. */
  | { type: 'complete'; address: SocksAddress; data: Buffer; fragments: number }
  /** Held; the sequence is not complete yet. */
  | { type: 'pending' }
  /** This fragment (and possibly the sequence it belonged to) was abandoned. */
  | { type: 'dropped'; reason: string };

interface Sequence {
  address: SocksAddress;
  started: number;
  parts: Map<number, Buffer>;
  bytes: number;
  highest: number;
  /** Position of the end-marked fragment, once seen. */
  last: number | undefined;
}

export class UdpReassembler {
  readonly timeout: number;
  readonly maxBytes: number;
  readonly maxFragments: number;
  readonly order: 'tolerant' | 'strict';
  private seq: Sequence | undefined;
  /** Sequences abandoned so far (timer, overflow, reset): for diagnostics. */
  abandoned = 0;

  constructor(options: ReassemblyOptions = {}) {
    this.timeout = options.timeout ?? MIN_REASSEMBLY_TIMEOUT;
    if (!(this.timeout >= MIN_REASSEMBLY_TIMEOUT)) {
      throw new LocalProtocolError(`reassembly timeout must be at least ${MIN_REASSEMBLY_TIMEOUT} ms (RFC 1928 §7), got ${this.timeout}`);
    }
    this.maxBytes = options.maxBytes ?? 65507;
    this.maxFragments = options.maxFragments ?? FRAG_POSITION;
    if (!Number.isInteger(this.maxFragments) || this.maxFragments < 1 || this.maxFragments > FRAG_POSITION) {
      throw new LocalProtocolError(`maxFragments must be 1..127, got ${this.maxFragments}`);
    }
    this.order = options.order ?? 'tolerant';
  }

  /** When the partial sequence (if any) expires; the adapter wakes up then and calls expire(). */
  get deadline(): number | undefined {
    return this.seq ? this.seq.started + this.timeout : undefined;
  }

  /** What is held right now. */
  get pending(): { fragments: number; bytes: number } {
    return { fragments: this.seq?.parts.size ?? 0, bytes: this.seq?.bytes ?? 0 };
  }

  /** Abandons a partial sequence whose timer ran out; true if one was dropped. */
  expire(now: number): boolean {
    if (this.seq && now >= this.seq.started + this.timeout) {
      this.abandon();
      return true;
    }
    return false;
  }

  /** Abandons whatever is held. */
  reset(): void {
    if (this.seq) this.abandon();
  }

  /** Feeds one datagram's FRAG, address and payload. */
  push(frag: number, address: SocksAddress, data: Buffer, now: number): ReassemblyResult {
    if (!Number.isInteger(frag) || frag < 0 || frag > 0xff) throw new LocalProtocolError(`FRAG must be a byte, got ${frag}`);
    if (frag === 0) return { type: 'complete', address, data, fragments: 1 };
    const position = frag & FRAG_POSITION;
    const end = (frag & FRAG_END) !== 0;
    // 0x80 alone names no position: there is no fragment 0.
    if (position === 0) return { type: 'dropped', reason: 'FRAG 0x80 carries no position' };
    this.expire(now);
    if (position > this.maxFragments) {
      this.reset();
      return { type: 'dropped', reason: `fragment position ${position} exceeds ${this.maxFragments}` };
    }
    let seq = this.seq;
    if (seq && this.startsNew(seq, position, address)) {
      this.abandon();
      seq = undefined;
    }
    if (!seq) {
      seq = { address, started: now, parts: new Map(), bytes: 0, highest: 0, last: undefined };
      this.seq = seq;
    }
    if (end) {
      // Fragments already held beyond the end cannot belong to this sequence.
      if (seq.highest > position || (seq.last !== undefined && seq.last !== position)) {
        this.abandon();
        return { type: 'dropped', reason: 'end marker before fragments already held' };
      }
      seq.last = position;
    } else if (seq.last !== undefined && position > seq.last) {
      this.abandon();
      return { type: 'dropped', reason: 'fragment beyond the end of its sequence' };
    }
    if (seq.bytes + data.length > this.maxBytes) {
      this.abandon();
      return { type: 'dropped', reason: `sequence exceeds ${this.maxBytes} bytes` };
    }
    // Copy: the caller's buffer is usually a slice of a reused receive buffer.
    seq.parts.set(position, Buffer.from(data));
    seq.bytes += data.length;
    seq.highest = Math.max(seq.highest, position);
    if (seq.last === undefined || seq.parts.size !== seq.last) return { type: 'pending' };
    const chunks: Buffer[] = [];
    for (let i = 1; i <= seq.last; i++) chunks.push(seq.parts.get(i)!);
    this.seq = undefined;
    return { type: 'complete', address: seq.address, data: Buffer.concat(chunks, seq.bytes), fragments: chunks.length };
  }

  private startsNew(seq: Sequence, position: number, address: SocksAddress): boolean {
    if (this.order === 'strict') return position < seq.highest || seq.parts.has(position) || !sameAddress(seq.address, address);
    return seq.parts.has(position) || !sameAddress(seq.address, address);
  }

  private abandon(): void {
    this.seq = undefined;
    this.abandoned++;
  }
}

function sameAddress(a: SocksAddress, b: SocksAddress): boolean {
  return a.type === b.type && a.host === b.host && a.port === b.port;
}
