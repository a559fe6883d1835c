/**
 * Failure replies, SOCKS5 and SOCKS4 alike: the one place an error's reply
 * code becomes the bytes a server answers with (errors.ts failureCode picks
 * the code; RFC 1928 §6 and the SOCKS4 protocol note give the layouts).
 */
import { failureCode } from '../errors.js';
import { encodeReply } from './request.js';
import { encodeSocks4Reply } from './socks4.js';

/** The failure reply for `version`: `05 REP 00 01 0…0` or `00 CD 0…0`. */
export function encodeFailureReply(version: 4 | 5, reply: number | undefined): Buffer {
  return version === 4 ? encodeSocks4Reply(failureCode(4, reply)) : encodeReply(failureCode(5, reply));
}
