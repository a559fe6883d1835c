#!/usr/bin/env node
/**
 * Builds the Kerberos (MIT GSS-API) binding in native/kerberos with node-gyp
 * (scripts/native-build.mjs does the building).
 *
 *   node scripts/build-kerberos.mjs             part of the package's `install` step: best effort,
 *                                               one line of outcome, ALWAYS exits 0
 *   node scripts/build-kerberos.mjs --required  `npm run build:kerberos`: fails loudly
 *
 * Needs krb5-config (libkrb5-dev), a C compiler, make and python3.
 * SOCKSKIT_SKIP_KERBEROS_BUILD=1 skips the best-effort build.
 */
import { buildAddon, has, missingToolchain } from './native-build.mjs';

buildAddon({
  dir: 'kerberos',
  title: 'Kerberos binding',
  built: 'Kerberos binding built (native/kerberos/build/Release/sockskit_gss.node)',
  skipEnv: 'SOCKSKIT_SKIP_KERBEROS_BUILD',
  lacking: () => [...(has('krb5-config', ['--libs', 'gssapi']) ? [] : ['libkrb5-dev (krb5-config)']), ...missingToolchain()],
  unavailable: (message) =>
    `sockskit: ${message}; Kerberos (gssapiKerberos) is not available, everything else works. ` +
    'To add it: install libkrb5-dev, a C compiler and python3, then run `npm run build:kerberos`.',
});
