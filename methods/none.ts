/**
 * Method 0x00, NO AUTHENTICATION REQUIRED (RFC 1928 §3): no sub-negotiation.
 * The identity is `null`.
 */
import type { AuthMethod } from '../lib/protocol/method.js';
import { NO_AUTH } from '../lib/protocol/no-auth.js';

/** A fresh method object each call (callers may extend it); the sessions are shared and stateless. */
export function none(): AuthMethod<null> {
  return { ...NO_AUTH };
}
