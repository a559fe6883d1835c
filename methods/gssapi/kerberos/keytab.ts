/**
 * Reads the principals of an MIT keytab file (format version 0x0502; 0x0501
 * too), in TypeScript, so that a program can check its keytab at start and
 * under --check without the native binding and without a KDC:
 *
 *   keytab  = 05 02 entry*
 *   entry   = SIZE(int32; < 0: a hole of -SIZE bytes) then SIZE bytes of
 *             NCOMP(u16) REALM(counted) COMPONENT(counted)*NCOMP NAMETYPE(u32)
 *             TIMESTAMP(u32) VNO8 KEYTYPE(u16) KEY(counted) [VNO32]
 *   counted = LEN(u16) bytes
 * (0x0501 counts the realm among the components and has no name type.)
 */
import { readFileSync } from 'node:fs';
import { LocalProtocolError } from '../../../lib/protocol/errors.js';

export interface KeytabEntry {
  /** e.g. 'rcmd/proxy.example.org@EXAMPLE.ORG' */
  principal: string;
  /** The service (first component) and host (second), when there are two components. */
  service: string;
  host: string | undefined;
  realm: string;
  kvno: number;
}

function bad(what: string): LocalProtocolError {
  return new LocalProtocolError(`keytab: ${what}`);
}

/** One entry's principal (the key itself is not kept). */
function readEntry(b: Buffer, start: number, end: number, v1: boolean): KeytabEntry {
  let o = start;
  const need = (n: number) => {
    if (o + n > end) throw bad('truncated entry');
  };
  const u16 = () => (need(2), (o += 2), b.readUInt16BE(o - 2));
  const counted = () => {
    const n = u16();
    need(n);
    o += n;
    return b.toString('utf8', o - n, o);
  };
  let count = u16();
  if (v1) count -= 1;
  const realm = counted();
  const parts = Array.from({ length: count }, counted);
  if (!v1) need(4), (o += 4); // name type
  need(5);
  o += 4; // timestamp
  let kvno = b[o++]!;
  u16(); // key type
  counted(); // key
  if (end - o >= 4) {
    const vno32 = b.readUInt32BE(o);
    if (vno32 !== 0) kvno = vno32;
  }
  return { principal: `${parts.join('/')}@${realm}`, service: parts[0] ?? '', host: parts.length === 2 ? parts[1] : undefined, realm, kvno };
}

/** The entries of keytab bytes; throws LocalProtocolError on a file that is not a keytab. */
export function parseKeytab(b: Buffer): KeytabEntry[] {
  if (b.length < 2 || b[0] !== 0x05 || (b[1] !== 0x02 && b[1] !== 0x01)) throw bad('not an MIT keytab (no 05 02 header)');
  const v1 = b[1] === 0x01;
  const out: KeytabEntry[] = [];
  for (let o = 2; o + 4 <= b.length; ) {
    const size = b.readInt32BE(o);
    o += 4;
    if (size === 0) break;
    const len = Math.abs(size);
    if (o + len > b.length) throw bad('truncated entry');
    if (size > 0) out.push(readEntry(b, o, o + len, v1));
    o += len;
  }
  return out;
}

/** Reads a keytab file (FILE: prefix allowed). */
export function readKeytab(file: string): KeytabEntry[] {
  return parseKeytab(readFileSync(file.replace(/^(FILE|WRFILE):/, '')));
}
