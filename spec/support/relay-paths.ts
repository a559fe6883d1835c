/**
 * The relay specs run once per relay path: the JavaScript relay (splice
 * 'off') and the native splice relay addon (splice 'on', every tunnel handed
 * over as soon as it can be). Where the addon is not built the native run
 * skips visibly, and fails under SOCKSKIT_INTEROP_REQUIRED=1 (CI builds it).
 */
import { expect } from 'chai';
import type { SocksServerOptions } from '../../lib/server/types.js';
import { spliceAvailable } from '../../lib/transport/splice.js';
import { splicesStarted } from '../../lib/transport/spliced.js';
import { interopRequired } from './interop.js';
import { setServerDefaults } from './socks-server.js';

export interface RelayPath {
  name: string;
  native: boolean;
  /** Server options for this path. */
  server: SocksServerOptions;
  /** RelayOptions.spliceAfter for relay() called directly. */
  spliceAfter: number | undefined;
}

export const RELAY_PATHS: readonly RelayPath[] = [
  { name: 'JavaScript relay', native: false, server: { splice: 'off' }, spliceAfter: undefined },
  { name: 'splice relay', native: true, server: { splice: 'on', spliceAfter: 0 }, spliceAfter: 0 },
];

/** Why the splice relay cannot run here, or undefined. */
export function spliceMissing(): string | undefined {
  if (process.platform !== 'linux') return 'the splice relay is Linux only';
  return spliceAvailable() ? undefined : 'the splice relay addon is not built (npm run build:splice)';
}

/** Skips the suite or test (fails under SOCKSKIT_INTEROP_REQUIRED=1) when the addon is missing. */
export function requireSplice(ctx: Mocha.Context): void {
  const why = spliceMissing();
  if (!why) return;
  if (interopRequired()) throw new Error(`${why} (SOCKSKIT_INTEROP_REQUIRED=1)`);
  console.log(`      (skipped: ${why})`);
  ctx.skip();
}

/**
 * `body` once per relay path, each in its own describe; servers started
 * meanwhile (startSocksServer) get the path's options. The native run checks
 * that the splice relay really carried tunnels.
 */
export function eachRelayPath(body: (p: RelayPath) => void): void {
  for (const p of RELAY_PATHS) {
    describe(p.name, function () {
      let before0 = 0;
      before(function () {
        if (p.native) requireSplice(this);
        before0 = splicesStarted();
        setServerDefaults(p.server);
      });
      after(function () {
        setServerDefaults({});
        if (p.native && !spliceMissing()) expect(splicesStarted(), 'tunnels handed over to the splice relay').to.be.above(before0);
      });
      body(p);
    });
  }
}
