/**
 * Happy Eyeballs (RFC 8305) for every name the library dials: resolve all
 * addresses, interleave them by family (§4), start one attempt, then the next
 * after a short stagger (§5, default 250 ms) or as soon as an attempt fails;
 * the first to connect wins and every other attempt is destroyed. One
 * deadline covers the whole race, and an AbortSignal cancels it.
 *
 *   lookupAll(name) ─▶ [v6a, v6b, v4a] ─▶ interleave ─▶ [v6a, v4a, v6b]
 *   t=0 dial v6a ─ t=250 dial v4a ─ (v6a refused) dial v6b ─ v4a connects: destroy v6b
 */
import net from 'node:net';
import dns from 'node:dns';

export interface Candidate {
  address: string;
  family: 4 | 6;
}

/**
 * dns.lookup-compatible. Called with `all: true`; a lookup that answers the
 * single form (address, family) is accepted too.
 */
export type AnyLookup = (
  hostname: string,
  options: { family?: number; all?: boolean },
  callback: (err: NodeJS.ErrnoException | null, address: string | readonly { address: string; family: number }[], family?: number) => void,
) => void;

/** RFC 8305 §5 recommends 250 ms between attempts. */
const DEFAULT_ATTEMPT_DELAY = 250;

/** Every address of `host` (an IP literal is its own answer), in the resolver's order. */
export function lookupAll(lookup: AnyLookup | undefined, host: string, family = 0, signal?: AbortSignal): Promise<Candidate[]> {
  const ip = net.isIP(host);
  if (ip) return Promise.resolve([{ address: host, family: ip as 4 | 6 }]);
  const fn = lookup ?? (dns.lookup as unknown as AnyLookup);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    fn(host, { family, all: true }, (err, address, fam) => {
      signal?.removeEventListener('abort', onAbort);
      if (err) return reject(err);
      const list = typeof address === 'string' ? [{ address, family: fam ?? net.isIP(address) }] : address;
      const out: Candidate[] = [];
      for (const a of list) {
        const f = net.isIP(a.address);
        if (f && (!family || f === family)) out.push({ address: a.address, family: f as 4 | 6 });
      }
      if (out.length === 0) {
        const e: NodeJS.ErrnoException = new Error(`${host}: no usable address`);
        e.code = 'ENOTFOUND';
        return reject(e);
      }
      resolve(out);
    });
  });
}

/** RFC 8305 §4: alternate families, starting with the family of the resolver's first answer. */
export function interleave(list: readonly Candidate[]): Candidate[] {
  if (list.length === 0) return [];
  const first = list[0]!.family;
  const a = list.filter((c) => c.family === first);
  const b = list.filter((c) => c.family !== first);
  const out: Candidate[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

/** Options for the sockets of the race (as net.connect takes them). */
export interface SocketOptions {
  /** Local address to bind to; only candidates of its family are dialled. */
  localAddress?: string;
  /** TCP keep-alive (true, or the initial delay in ms). */
  keepAlive?: boolean | number;
  /** Disable Nagle (default true). */
  noDelay?: boolean;
  /** Idle timeout on the connected socket, ms (socket.setTimeout; emits 'timeout'). */
  timeout?: number;
  allowHalfOpen?: boolean;
}

interface RaceOptions extends SocketOptions {
  candidates: readonly Candidate[];
  port: number;
  /** Stagger between attempts, ms (default 250). */
  attemptDelay?: number;
  /** Deadline for the whole race, ms (0 or undefined: none). */
  deadline?: number;
  /** Makes the deadline's error (default: an ETIMEDOUT error). */
  onDeadline?: () => Error;
  signal?: AbortSignal;
  /** Sees every socket the race opens (tests count them). */
  onAttempt?: (socket: net.Socket, candidate: Candidate) => void;
  /** Creates each attempt's socket (default net.connect; the server's relay passes one that reads into reused buffers). */
  connect?: (options: net.TcpNetConnectOpts) => net.Socket;
}

/**
 * Races the candidates in the given order; resolves with the first socket to
 * connect (the others destroyed), rejects with the last attempt's error when
 * all fail, or at the deadline or abort (every attempt destroyed).
 */
export function race(o: RaceOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const localFamily = o.localAddress ? net.isIP(o.localAddress) : 0;
    const queue = localFamily ? o.candidates.filter((c) => c.family === localFamily) : [...o.candidates];
    if (queue.length === 0) {
      const e: NodeJS.ErrnoException = new Error(localFamily ? `no IPv${localFamily} address to reach from ${o.localAddress}` : 'no address to connect to');
      e.code = 'EADDRNOTAVAIL';
      return reject(e);
    }
    if (o.signal?.aborted) return reject(o.signal.reason);
    new Race(o, queue, resolve, reject).start();
  });
}

function deadlineError(o: RaceOptions): Error {
  if (o.onDeadline) return o.onDeadline();
  const e: NodeJS.ErrnoException = new Error(`connect timed out after ${o.deadline} ms`);
  e.code = 'ETIMEDOUT';
  return e;
}

/** One race under way: its attempts, its stagger and deadline timers, settled once. */
class Race {
  private readonly live = new Set<net.Socket>();
  private next = 0;
  private over = false;
  private lastError: unknown;
  private stagger: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: RaceOptions,
    private readonly queue: readonly Candidate[],
    private readonly resolve: (s: net.Socket) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  start(): void {
    const { o } = this;
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (o.deadline && o.deadline > 0) this.deadline = setTimeout(() => this.settle(deadlineError(o)), o.deadline);
    this.attempt();
  }

  private readonly onAbort = (): void => this.settle(this.o.signal!.reason);

  private settle(err: unknown, winner?: net.Socket): void {
    if (this.over) return;
    this.over = true;
    if (this.stagger) clearTimeout(this.stagger);
    if (this.deadline) clearTimeout(this.deadline);
    this.o.signal?.removeEventListener('abort', this.onAbort);
    for (const s of this.live) if (s !== winner) s.destroy();
    this.live.clear();
    if (winner) this.resolve(winner);
    else this.reject(err);
  }

  /** Dials the next candidate (a timer callback, hence bound). */
  private readonly attempt = (): void => {
    const { o, queue, live } = this;
    if (this.stagger) clearTimeout(this.stagger);
    this.stagger = undefined;
    const c = queue[this.next++];
    if (!c) return;
    const sock = (o.connect ?? net.connect)({ host: c.address, port: o.port, family: c.family, localAddress: o.localAddress, allowHalfOpen: o.allowHalfOpen });
    live.add(sock);
    o.onAttempt?.(sock, c);
    const onError = (err: Error) => {
      live.delete(sock);
      sock.destroy();
      this.lastError = err;
      if (this.over) return;
      // §5: a failed attempt starts the next one at once.
      if (this.next < queue.length) this.attempt();
      else if (live.size === 0) this.settle(this.lastError);
    };
    sock.once('error', onError);
    sock.once('connect', () => {
      sock.off('error', onError);
      if (this.over) return;
      sock.setNoDelay(o.noDelay ?? true);
      if (o.keepAlive) sock.setKeepAlive(true, typeof o.keepAlive === 'number' ? o.keepAlive : 0);
      if (o.timeout) sock.setTimeout(o.timeout);
      this.settle(undefined, sock);
    });
    if (this.next < queue.length) this.stagger = setTimeout(this.attempt, this.o.attemptDelay ?? DEFAULT_ATTEMPT_DELAY);
  };
}
