/**
 * TCP keepalive, armed late. With an idle time of D, the kernel sends the
 * first probe after D without a segment, counted from the last one; arming
 * SO_KEEPALIVE with the same D on a socket younger than D therefore changes
 * nothing a peer can see (the idle time already spent counts). Most tunnels
 * (a web request, an RPC) end long before D, and never pay the four system
 * calls libuv makes to arm it (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_KEEPCNT).
 *
 * Sockets wait in two sets per D; a timer every D/3 arms the older set and
 * ages the younger, so each socket is armed between D/3 and 2D/3 after it
 * was given here (well before D, even with a late timer). A socket that
 * closes first leaves both sets at its 'close' (one shared listener, no
 * closure per socket); the timer is unref'd and stops while nothing waits.
 */
import type net from 'node:net';

/** Below this D a timer is not worth it: armed at once. */
const SOON = 3000;

class Waiting {
  private young = new Set<net.Socket>();
  private old = new Set<net.Socket>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly delay: number) {}

  get size(): number {
    return this.young.size + this.old.size;
  }

  add(s: net.Socket): void {
    this.young.add(s);
    s.on('close', forget);
    this.timer ??= setInterval(this.tick, Math.floor(this.delay / 3)).unref();
  }

  remove(s: net.Socket): void {
    if (!this.young.delete(s)) this.old.delete(s);
  }

  private readonly tick = (): void => {
    for (const s of this.old) {
      s.removeListener('close', forget);
      if (!s.destroyed) s.setKeepAlive(true, this.delay);
    }
    this.old.clear();
    [this.old, this.young] = [this.young, this.old];
    if (this.old.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  };
}

/** The sets by delay (a reload may change it; each delay has its own timer). */
const waiting = new Map<number, Waiting>();
/** A waiting socket closed: out of its set (there is one delay, or very few). */
function forget(this: net.Socket): void {
  for (const w of waiting.values()) w.remove(this);
}

/** Arms TCP keepalive with idle time `delayMs` on `socket`, before `delayMs` has passed (at once below 3 s). */
export function keepAliveLater(socket: net.Socket, delayMs: number): void {
  if (delayMs < SOON) return void socket.setKeepAlive(true, delayMs);
  let w = waiting.get(delayMs);
  if (!w) waiting.set(delayMs, (w = new Waiting(delayMs)));
  w.add(socket);
}

/** Sockets waiting to be armed (for specs). */
export function keepAliveWaiting(): number {
  let n = 0;
  for (const w of waiting.values()) n += w.size;
  return n;
}
