/**
 * The kernel's view of this network namespace's TCP sockets, read from
 * /proc/net/tcp and /proc/net/tcp6 (what `ss` reads, without spawning it):
 * state, addresses and the pending timer, e.g. to see that keepalive is on.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { ipv6String } from '../../lib/protocol/codec/address.js';

export type TcpState = 'established' | 'syn-sent' | 'syn-recv' | 'fin-wait1' | 'fin-wait2' | 'time-wait' | 'close' | 'close-wait' | 'last-ack' | 'listen' | 'closing';
export type TcpTimer = 'none' | 'retransmit' | 'keepalive' | 'time-wait' | 'probe';

export interface TcpSocketInfo {
  local: { host: string; port: number };
  remote: { host: string; port: number };
  state: TcpState;
  timer: TcpTimer;
  /** Time left on `timer`, in seconds (the kernel counts in 1/100 s). */
  timerSeconds: number;
}

const STATES: TcpState[] = ['established', 'syn-sent', 'syn-recv', 'fin-wait1', 'fin-wait2', 'time-wait', 'close', 'close-wait', 'last-ack', 'listen', 'closing'];
const TIMERS: TcpTimer[] = ['none', 'retransmit', 'keepalive', 'time-wait', 'probe'];
const LITTLE = os.endianness() === 'LE';

/** An address as the kernel prints it: 32-bit words in host byte order, hex. */
function address(hexWords: string): string {
  const b = Buffer.from(hexWords, 'hex');
  if (LITTLE) for (let i = 0; i < b.length; i += 4) b.subarray(i, i + 4).reverse();
  return b.length === 4 ? [...b].join('.') : ipv6String(b);
}

function endpoint(field: string): { host: string; port: number } {
  const [a, p] = field.split(':');
  return { host: address(a), port: parseInt(p, 16) };
}

/** Parses the text of /proc/net/tcp or tcp6. */
export function parseProcNetTcp(text: string): TcpSocketInfo[] {
  const out: TcpSocketInfo[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const [tr, when] = f[5].split(':');
    out.push({
      local: endpoint(f[1]),
      remote: endpoint(f[2]),
      state: STATES[parseInt(f[3], 16) - 1],
      timer: TIMERS[parseInt(tr, 16)] ?? 'none',
      timerSeconds: parseInt(when, 16) / 100,
    });
  }
  return out;
}

/** Every TCP socket (IPv4 and IPv6) of this network namespace. */
export function tcpSockets(): TcpSocketInfo[] {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  return [...parseProcNetTcp(read('/proc/net/tcp')), ...parseProcNetTcp(read('/proc/net/tcp6'))];
}
