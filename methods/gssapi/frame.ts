/**
 * GSS-API method framing: RFC 1961 §3–§5.
 *
 * Every message of the method, both ways, uses one frame:
 *
 *   +------+------+------+.......................+
 *   + ver  | mtyp | len  |       token           |
 *   +------+------+------+.......................+
 *   + 0x01 | 0x01 | 0x02 | up to 2^16 - 1 octets |
 *   +------+------+------+.......................+
 *
 *   mtyp 0x01  authentication: context-establishment tokens (§3.3–§3.7).
 *              A zero-length token from the server (01 01 00 00) means "the
 *              context is established, carry on" (§3.6).
 *   mtyp 0x02  protection-level sub-negotiation (§4.3): the token is
 *              gss_wrap(conf_req = FALSE) of one octet, 1/2/3.
 *   mtyp 0x03  encapsulated user data (§5): gss_wrap() output.
 *
 * The abort message (§3.8) has no length field and no token: exactly 01 FF.
 * LEN is big-endian.
 */
import { RemoteProtocolError, LocalProtocolError } from '../../lib/protocol/errors.js';
import { hex } from '../../lib/protocol/codec/address.js';

export const GSSAPI_VERSION = 0x01;

/** RFC 1961 MTYP values. */
export const GssMessageType = {
  Authentication: 0x01,
  Protection: 0x02,
  Encapsulated: 0x03,
  Abort: 0xff,
} as const;

/** RFC 1961 §4.3 protection levels. */
export const GssProtectionLevel = {
  Integrity: 1,
  Confidentiality: 2,
  Selective: 3,
} as const;

/** Largest token a frame can carry (LEN is 16 bits). */
export const GSS_MAX_TOKEN = 0xffff;
/** Header bytes in front of a token. */
export const GSS_FRAME_HEADER = 4;
/** Largest frame: header plus the largest token. */
export const GSS_MAX_FRAME = GSS_FRAME_HEADER + GSS_MAX_TOKEN;

/** The abort message, 01 FF (RFC 1961 §3.8). */
export const GSS_ABORT: Buffer = Buffer.from([GSSAPI_VERSION, GssMessageType.Abort]);

/** The server's "context established, no token" reply, 01 01 00 00 (§3.6). */
export const GSS_EMPTY_AUTH: Buffer = Buffer.from([GSSAPI_VERSION, GssMessageType.Authentication, 0, 0]);

export type GssFrame =
  | { type: 0x01 | 0x02 | 0x03; token: Buffer; length: number }
  | { type: 0xff; length: 2 };

export function encodeGssFrame(type: 0x01 | 0x02 | 0x03, token: Buffer): Buffer {
  if (token.length > GSS_MAX_TOKEN) throw new LocalProtocolError(`GSS-API token of ${token.length} bytes exceeds ${GSS_MAX_TOKEN}`);
  const out = Buffer.allocUnsafe(GSS_FRAME_HEADER + token.length);
  out[0] = GSSAPI_VERSION;
  out[1] = type;
  out.writeUInt16BE(token.length, 2);
  token.copy(out, GSS_FRAME_HEADER);
  return out;
}

/**
 * Decodes one frame from the front of `buf`; undefined means "need more".
 * `maxToken` (default 65535) rejects a longer LEN as soon as the header is
 * seen, so a peer cannot make the reader buffer more than it allows.
 * The token is a view into `buf`.
 */
export function decodeGssFrame(buf: Buffer, maxToken: number = GSS_MAX_TOKEN): GssFrame | undefined {
  if (buf.length < 2) return undefined;
  if (buf[0] !== GSSAPI_VERSION) {
    throw new RemoteProtocolError(`GSS-API frame version 0x${hex(buf[0]!)} (RFC 1961 wants 0x01)`, { code: 'ERR_SOCKS_BAD_VERSION' });
  }
  const type = buf[1]!;
  if (type === GssMessageType.Abort) return { type: 0xff, length: 2 };
  if (type !== GssMessageType.Authentication && type !== GssMessageType.Protection && type !== GssMessageType.Encapsulated) {
    throw new RemoteProtocolError(`unknown GSS-API message type 0x${hex(type)}`, { code: 'ERR_SOCKS_PROTOCOL' });
  }
  if (buf.length < GSS_FRAME_HEADER) return undefined;
  const len = buf.readUInt16BE(2);
  if (len > maxToken) throw new RemoteProtocolError(`GSS-API token of ${len} bytes exceeds the limit of ${maxToken}`, { code: 'ERR_SOCKS_BUFFER_LIMIT' });
  if (buf.length < GSS_FRAME_HEADER + len) return undefined;
  return { type, token: buf.subarray(GSS_FRAME_HEADER, GSS_FRAME_HEADER + len), length: GSS_FRAME_HEADER + len };
}
