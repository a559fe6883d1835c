/**
 * Method negotiation: RFC 1928 §3.
 *
 *   client greeting                 server method selection
 *   +----+----------+----------+    +----+--------+
 *   |VER | NMETHODS | METHODS  |    |VER | METHOD |
 *   +----+----------+----------+    +----+--------+
 *   | 1  |    1     | 1 to 255 |    | 1  |   1    |
 *   +----+----------+----------+    +----+--------+
 *
 * NMETHODS = 0 is outside the RFC but seen; it decodes to an empty list and
 * the server answers 05 FF.
 */
import { SOCKS5_VERSION } from '../constants.js';
import { RemoteProtocolError, LocalProtocolError } from '../errors.js';

export function encodeGreeting(methods: readonly number[]): Buffer {
  if (methods.length < 1 || methods.length > 255) throw new LocalProtocolError('a greeting offers 1 to 255 methods');
  const out = Buffer.allocUnsafe(2 + methods.length);
  out[0] = SOCKS5_VERSION;
  out[1] = methods.length;
  for (let i = 0; i < methods.length; i++) out[2 + i] = methods[i]!;
  return out;
}

/** Returns the offered methods and the message length, or undefined for "need more". */
export function decodeGreeting(buf: Buffer): { methods: number[]; length: number } | undefined {
  if (buf.length < 2) return undefined;
  if (buf[0] !== SOCKS5_VERSION) throw new RemoteProtocolError(`greeting version 0x${buf[0]!.toString(16)}`, { code: 'ERR_SOCKS_BAD_VERSION' });
  const n = buf[1]!;
  if (buf.length < 2 + n) return undefined;
  const methods: number[] = new Array(n);
  for (let i = 0; i < n; i++) methods[i] = buf[2 + i]!;
  return { methods, length: 2 + n };
}

const SELECTIONS: Buffer[] = [];

/** The 2-byte answer; cached, since every connection sends one. */
export function encodeMethodSelection(method: number): Buffer {
  return (SELECTIONS[method] ??= Buffer.from([SOCKS5_VERSION, method]));
}

export function decodeMethodSelection(buf: Buffer): { method: number; length: 2 } | undefined {
  if (buf.length < 2) return undefined;
  if (buf[0] !== SOCKS5_VERSION) throw new RemoteProtocolError(`method selection version 0x${buf[0]!.toString(16)}`, { code: 'ERR_SOCKS_BAD_VERSION' });
  return { method: buf[1]!, length: 2 };
}
