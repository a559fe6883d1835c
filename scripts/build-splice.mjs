#!/usr/bin/env node
/**
 * Builds the splice(2) relay addon in native/splice with node-gyp
 * (scripts/native-build.mjs does the building). Linux only.
 *
 *   node scripts/build-splice.mjs             part of the package's `install` step: best effort,
 *                                             one line of outcome, ALWAYS exits 0
 *   node scripts/build-splice.mjs --required  `npm run build:splice`: fails loudly
 *
 * Needs a C compiler, make and python3 (Node's own headers, no library).
 * SOCKSKIT_SKIP_SPLICE_BUILD=1 skips the best-effort build.
 */
import { buildAddon, missingToolchain } from './native-build.mjs';

buildAddon({
  dir: 'splice',
  title: 'splice relay addon',
  built: 'splice relay addon built (native/splice/build/Release/sockskit_splice.node)',
  skipEnv: 'SOCKSKIT_SKIP_SPLICE_BUILD',
  lacking: () => [...(process.platform === 'linux' ? [] : [`Linux (this is ${process.platform})`]), ...missingToolchain()],
  unavailable: (message) =>
    `sockskit: ${message}; tunnels are relayed in JavaScript (--splice auto|off), everything works. ` +
    'To add it: install a C compiler, make and python3, then run `npm run build:splice`.',
});
