/** Closing a stream after a failure reply: the reply is flushed, the close is bounded in time. */
import type net from 'node:net';
import type { Duplex } from 'node:stream';

/** Ends the socket after pending writes, then destroys it; after `graceMs` it is destroyed regardless. */
export function endSoon(socket: Duplex, graceMs: number): void {
  const s = socket as net.Socket;
  if (s.destroyed) return;
  if (typeof s.destroySoon === 'function') s.destroySoon();
  else socket.end();
  const t = setTimeout(() => socket.destroy(), graceMs);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}
