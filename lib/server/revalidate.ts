/**
 * After a reconfigure: is the identity an open connection authenticated
 * with still one the server would accept? The method it used must still be
 * offered, and a method that can tell (static users, authorized keys:
 * AuthMethod.knows) must still know the identity. Open UDP associations ask
 * this and end when the answer is no; open TCP tunnels finish (documented).
 */
import type { AuthMethod } from '../protocol/method.js';
import type { SocksRequest } from '../protocol/server-handshake.js';

export function stillKnown(methods: readonly AuthMethod<unknown>[], request: SocksRequest): boolean {
  const used = request.method;
  // SOCKS4 (no method): its identity, if any, came from the identify policy; nothing to ask.
  if (request.version !== 5 || !used) return true;
  const now = methods.find((m) => m.code === used.code && m.name === used.name);
  if (!now) return false;
  return now.knows ? now.knows(request.identity) : true;
}
