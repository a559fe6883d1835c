/**
 * The optional native splice(2) relay (native/splice, built by
 * `npm run build:splice` or best effort at install): loading it, and whether
 * a server uses it (`splice: 'auto' | 'on' | 'off'`).
 *
 * The addon moves a tunnel's bytes inside the kernel (socket → pipe →
 * socket), through its own duplicates of the two sockets' descriptors,
 * polled on Node's loop. relay.ts hands a tunnel over to it once the tunnel
 * has carried enough to be worth it (see SPLICE_AFTER); when the addon is not
 * built, every tunnel stays in the JavaScript relay.
 */
import { createRequire } from 'node:module';
import { SocksError } from '../protocol/errors.js';

/** What native/splice/src/addon.c exports. */
export interface NativeSplice {
  /** Starts relaying fdA ⇄ fdB (dups them); `cb(kind, errno)`: 1 FIN up, 2 FIN down, 3 done, 4 error. */
  start(fdA: number, fdB: number, cb: (kind: number, errno: number) => void, pipeSize: number): object;
  /** [bytes read from A, bytes read from B, moves (reads and writes that moved bytes)]. */
  counts(h: object): [number, number, number];
  /** Stops polling and closes the dups and pipes at once (idempotent; no callback after it). */
  stop(h: object): void;
}

export const SPLICE_FIN_UP = 1;
export const SPLICE_FIN_DOWN = 2;
export const SPLICE_DONE = 3;
export const SPLICE_ERROR = 4;

/** Whether a server relays through the addon: when it loads (auto), always (on: start-up fails without it), never (off). */
export type SpliceMode = 'auto' | 'on' | 'off';

/**
 * Bytes a tunnel carries (both ways together) in the JavaScript relay before
 * it moves to the splice relay: short connections never pay the dup and pipe
 * system calls of a hand-over (docs/decisions.md).
 */
export const SPLICE_AFTER = 256 * 1024;

/** The pipe size asked for each direction (the kernel's default is 64 KiB; the user's pipe quota may refuse more). */
export const SPLICE_PIPE = 256 * 1024;

/** `splice: 'on'` where the addon is not built or does not load here. */
export class SpliceUnavailableError extends SocksError<'ERR_SOCKS_SPLICE_UNAVAILABLE'> {
  constructor(cause: unknown) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    super(
      'ERR_SOCKS_SPLICE_UNAVAILABLE',
      'the native splice relay is not built: on Linux, install a C compiler (gcc or clang), make and python3, ' +
        `then run \`npm run build:splice\` in the sockskit package; or use splice 'auto' or 'off' (${why})`,
      undefined,
      { cause },
    );
  }
}

/** From dist/lib/transport/ (and lib/transport/) to the package root. */
const ADDON = '../../../native/splice/build/Release/sockskit_splice.node';

let loaded: { native: NativeSplice } | { error: unknown } | undefined;

/**
 * The addon, or SpliceUnavailableError. SOCKSKIT_SPLICE_ADDON names another
 * build (the specs point it at nothing to see the unavailable path).
 */
export function loadSplice(): NativeSplice {
  if (!loaded) {
    try {
      if (process.platform !== 'linux') throw new Error(`splice(2) is Linux only (this is ${process.platform})`);
      loaded = { native: createRequire(import.meta.url)(process.env.SOCKSKIT_SPLICE_ADDON || ADDON) as NativeSplice };
    } catch (error) {
      loaded = { error };
    }
  }
  if ('error' in loaded) throw new SpliceUnavailableError(loaded.error);
  return loaded.native;
}

/** Whether the splice relay addon is built and loads here. */
export function spliceAvailable(): boolean {
  try {
    loadSplice();
    return true;
  } catch {
    return false;
  }
}

/** Whether tunnels go to the splice relay under `mode`; 'on' without the addon throws SpliceUnavailableError. */
export function useSplice(mode: SpliceMode | undefined): boolean {
  if (mode === 'off') return false;
  if (mode === 'on') {
    loadSplice();
    return true;
  }
  return spliceAvailable();
}
