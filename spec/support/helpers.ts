/** Shared test helpers: spaced-hex fixtures, split feeding, bounded waits. */
import type { Duplex } from 'node:stream';

/** hex('05 01 00') → Buffer; whitespace ignored. */
export function hex(s: string): Buffer {
  const clean = s.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex fixture: ${s}`);
  return Buffer.from(clean, 'hex');
}

export function toHex(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Every way to cut `buf` that the engine must survive: whole, every two-way
 * split, and byte by byte. Each entry is a list of chunks.
 */
export function splits(buf: Buffer): { name: string; chunks: Buffer[] }[] {
  const out: { name: string; chunks: Buffer[] }[] = [{ name: 'whole', chunks: [buf] }];
  for (let i = 1; i < buf.length; i++) {
    out.push({ name: `split@${i}`, chunks: [buf.subarray(0, i), buf.subarray(i)] });
  }
  const bytes: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
  out.push({ name: 'byte-by-byte', chunks: bytes });
  return out;
}

/** A small deterministic PRNG (mulberry32) for seeded random tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resolves after ms; for bounded waits in tests. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until true; throws after `timeout` ms, naming `what`. */
export async function waitFor(cond: () => boolean, timeout = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Reads until `n` bytes arrived (or the end, or `ms`: a rejection), after `head`. */
export function readN(s: Duplex, n: number, head: Buffer = Buffer.alloc(0), ms = 10000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = head.length ? [head] : [];
    let len = head.length;
    const done = () => { clearTimeout(t); s.off('data', onData); resolve(Buffer.concat(got)); };
    const onData = (d: Buffer) => { got.push(d); len += d.length; if (len >= n) done(); };
    const t = setTimeout(() => reject(new Error(`timeout after ${len}/${n} bytes`)), ms);
    if (len >= n) return done();
    s.on('data', onData);
    s.once('end', done);
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}
