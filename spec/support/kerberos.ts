/**
 * The Kerberos fixture shared by the Kerberos specs: a KDC (spec/support/kdc.ts)
 * with a user alice, a second user bob, the service rcmd/localhost and
 * rcmd/127.0.0.1 in a keytab, alice's ticket cache, and skipping with a
 * reason where the binding or the KDC programs are missing (a failure under
 * SOCKSKIT_INTEROP_REQUIRED=1).
 */
import { kerberosAvailable } from '../../methods/gssapi/kerberos/index.js';
import { kdcMissing, skipUnless, startKdc, type Kdc } from './kdc.js';
import { echoServer } from './interop.js';

export const ALICE = 'alice';
export const ALICE_PASSWORD = 'alice-secret-1';
export const BOB = 'bob';
export const BOB_PASSWORD = 'bob-secret-2';

export interface KerberosFixture {
  kdc: Kdc;
  keytab: string;
  /** alice's credentials cache ("FILE:..."). */
  ccache: string;
  principal(name: string): string;
}

/** Why Kerberos specs cannot run here, or undefined. */
export function kerberosMissing(): string | undefined {
  if (!kerberosAvailable()) return 'the Kerberos binding is not built (install libkrb5-dev, then npm run build:kerberos)';
  return kdcMissing();
}

/** Stands the realm up for a suite: call in before(), with fixture.kdc.stop() in after(). */
export async function kerberosFixture(ctx: Mocha.Context): Promise<KerberosFixture> {
  skipUnless(ctx, kerberosMissing());
  const kdc = await startKdc();
  try {
    await kdc.addPrincipal(ALICE, ALICE_PASSWORD);
    await kdc.addPrincipal(BOB, BOB_PASSWORD);
    await kdc.addPrincipal('rcmd/localhost');
    await kdc.addPrincipal('rcmd/127.0.0.1');
    const keytab = await kdc.keytab('proxy.keytab', ['rcmd/localhost', 'rcmd/127.0.0.1']);
    const ccache = await kdc.kinit(ALICE, ALICE_PASSWORD, 'alice.ccache');
    return { kdc, keytab, ccache, principal: (name) => `${name}@${kdc.realm}` };
  } catch (err) {
    await kdc.stop();
    throw err;
  }
}

/**
 * For a describe(): the realm and an echo server, up in before() (skipping
 * as kerberosFixture does), down in after() once `stop` (the suite's own
 * processes) has run. Read `fx` and `echo` inside tests and hooks.
 */
export function kerberosEchoSuite(stop?: () => Promise<void>): { fx: KerberosFixture; echo: Awaited<ReturnType<typeof echoServer>> } {
  const suite = {} as ReturnType<typeof kerberosEchoSuite>;
  before(async function () {
    suite.fx = await kerberosFixture(this);
    suite.echo = await echoServer();
  });
  after(async () => {
    await stop?.();
    await suite.echo?.close();
    await suite.fx?.kdc.stop();
  });
  return suite;
}

/** The body every Kerberos tunnel spec sends: 300 KB, compared byte for byte. */
export const BODY = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) & 0xff));

