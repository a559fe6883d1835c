/**
 * HTTP clients (http.Agent, undici) call a few net.Socket methods on their
 * connections (ref/unref, setKeepAlive, setNoDelay, setTimeout). A tunnel
 * whose method encapsulates data is a plain Duplex: give it harmless ones.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export function asSocket(stream: Duplex): Socket {
  const s = stream as Socket & Record<string, unknown>;
  for (const name of ['ref', 'unref', 'setKeepAlive', 'setNoDelay', 'setTimeout'] as const) {
    if (typeof s[name] !== 'function') s[name] = () => s;
  }
  return s;
}
