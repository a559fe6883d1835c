/**
 * TCP keepalive, armed late. With an idle time of D, the kernel sends the
 * first probe after D without a segment, counted from the last one; arming
 * SO_KEEPALIVE with the same D on a socket younger than D therefore changes
 * nothing a peer can see (the idle time already spent counts). Most tunnels
 * (a web request, an RPC) end long before D, and never pay the four system
 * calls libuv makes to arm it (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_KEEPCNT).
 *
 * A socket is only marked (one property: no set, listener or closure per
 * socket); whoever already keeps the open sockets (the server's registry of
 * tunnels) calls armMarked() every D/3, so each is armed within D/3.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';

/** Below this D arming is not worth deferring: done at once. */
export const KEEPALIVE_LATER_MIN = 3000;

const kWants = Symbol('sockskit.keepAliveLater');
type Marked = Duplex & { [kWants]?: boolean; setKeepAlive?: net.Socket['setKeepAlive'] };

/** TCP keepalive with idle time `delayMs` on `socket`: now below 3 s, else marked for armMarked(). */
export function keepAliveLater(socket: net.Socket, delayMs: number): void {
  if (delayMs < KEEPALIVE_LATER_MIN) socket.setKeepAlive(true, delayMs);
  else (socket as Marked)[kWants] = true;
}

/** Whether `s` waits to be armed. */
export function waitsForKeepAlive(s: Duplex): boolean {
  return (s as Marked)[kWants] === true;
}

/** Arms keepalive (idle `delayMs`) on the marked sockets among `sockets`, once each; returns how many. */
export function armMarked(sockets: Iterable<Duplex>, delayMs: number): number {
  let n = 0;
  for (const s of sockets) {
    const m = s as Marked;
    if (m[kWants] !== true) continue;
    m[kWants] = false;
    if (!m.destroyed && m.setKeepAlive) m.setKeepAlive(true, delayMs), n++;
  }
  return n;
}
