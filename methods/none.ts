/**
 * Method 0x00, NO AUTHENTICATION REQUIRED (RFC 1928 §3): no sub-negotiation.
 * The identity is `null`.
 */
import { Method } from '../lib/protocol/constants.js';
import type { AuthMethod, AuthStep } from '../lib/protocol/method.js';

const DONE: AuthStep<null> = Object.freeze({ kind: 'done', identity: null }) as AuthStep<null>;
const SESSION = Object.freeze({
  start: () => DONE,
  receive: () => DONE,
});

export function none(): AuthMethod<null> {
  return {
    code: Method.NoAuth,
    name: 'none',
    server: () => SESSION,
    client: () => SESSION,
  };
}
