/**
 * The native binding (native/kerberos) against a real MIT KDC on loopback:
 * names, credentials from an explicit keytab and cache, a context both ways
 * in memory (init ⇄ accept), wrap/unwrap with the conf flag in and out,
 * MICs, replay/reorder detection bits, wrap_size_limit, inquire_context,
 * explicit release, and errors with major/minor status and the library's
 * message.
 */
import { expect } from 'chai';
import { loadNative, GSS_C_MUTUAL_FLAG, GSS_S_DUPLICATE_TOKEN, GSS_S_GAP_TOKEN, GSS_S_UNSEQ_TOKEN, type NativeGss, type NativeSecurityContext } from '../../methods/gssapi/kerberos/native.js';
import { INITIATOR_FLAGS } from '../../methods/gssapi/kerberos/context.js';
import { kerberosFixture, type KerberosFixture } from '../support/kerberos.js';

describe('Kerberos binding (MIT GSS-API, real KDC)', function () {
  this.timeout(20000);
  let fx: KerberosFixture;
  let gss: NativeGss;
  before(async function () {
    fx = await kerberosFixture(this);
    gss = loadNative();
  });
  after(async () => fx?.kdc.stop());

  /** alice → rcmd@localhost, in memory. */
  async function pair(): Promise<{ client: NativeSecurityContext; server: NativeSecurityContext; release(): void }> {
    const icred = await gss.acquireCredential({ usage: 'initiate', ccache: fx.ccache });
    const aname = new gss.Name('rcmd', 'hostbased');
    const acred = await gss.acquireCredential({ usage: 'accept', name: aname, keytab: fx.keytab, rcache: 'none:' });
    const target = new gss.Name('rcmd@localhost', 'hostbased');
    const client = new gss.SecurityContext();
    const server = new gss.SecurityContext();
    let c = await client.initSecContext(icred, target, INITIATOR_FLAGS, null);
    let rounds = 0;
    for (;;) {
      expect(++rounds).to.be.below(5);
      const s = await server.acceptSecContext(acred, c.token);
      if (s.complete) expect(s.peer).to.equal(fx.principal('alice'));
      if (s.token.length) c = await client.initSecContext(icred, target, INITIATOR_FLAGS, s.token);
      if (s.complete && c.complete) break;
    }
    expect(c.flags & GSS_C_MUTUAL_FLAG).to.equal(GSS_C_MUTUAL_FLAG);
    expect(c.peer).to.equal(fx.principal('rcmd/localhost'));
    return {
      client,
      server,
      release: () => [client, server, icred, acred, aname, target].forEach((o) => o.release()),
    };
  }

  it('establishes a context with mutual authentication; names both peers', async () => {
    const p = await pair();
    const info = p.server.inquire();
    expect(info).to.include({ srcName: fx.principal('alice'), targName: fx.principal('rcmd/localhost'), open: true, locallyInitiated: false });
    expect(p.client.inquire()).to.include({ locallyInitiated: true, open: true });
    p.release();
  });

  it('wrap/unwrap report the conf flag both ways; tampering throws with GSS status', async () => {
    const p = await pair();
    const sealed = p.client.wrap(Buffer.from('secret payload'), true);
    expect(sealed.confidential).to.equal(true);
    expect(sealed.token.includes(Buffer.from('secret payload'))).to.equal(false);
    expect(p.server.unwrap(sealed.token)).to.deep.include({ confidential: true, supplementary: 0 });
    const signed = p.client.wrap(Buffer.from('visible payload'), false);
    expect(signed.confidential).to.equal(false);
    expect(signed.token.includes(Buffer.from('visible payload'))).to.equal(true);
    const opened = p.server.unwrap(signed.token);
    expect(opened.data.toString()).to.equal('visible payload');
    expect(opened.confidential).to.equal(false);
    const bad = p.client.wrap(Buffer.from('x'.repeat(40)), false).token;
    bad[bad.length - 20]! ^= 1;
    const err = (() => { try { p.server.unwrap(bad); return undefined; } catch (e) { return e as Record<string, unknown>; } })();
    expect(err).to.include({ code: 'ERR_GSS' });
    expect(err!.major).to.be.a('number').above(0);
    expect(String(err!.message)).to.match(/^gss_unwrap: /);
    p.release();
  });

  it('reports a replayed token and a gap as supplementary bits', async () => {
    const p = await pair();
    const t1 = p.client.wrap(Buffer.from('one'), true).token;
    const t2 = p.client.wrap(Buffer.from('two'), true).token;
    const t3 = p.client.wrap(Buffer.from('three'), true).token;
    expect(p.server.unwrap(t1).supplementary).to.equal(0);
    expect(p.server.unwrap(t1).supplementary & GSS_S_DUPLICATE_TOKEN).to.equal(GSS_S_DUPLICATE_TOKEN);
    expect(p.server.unwrap(t3).supplementary & GSS_S_GAP_TOKEN).to.equal(GSS_S_GAP_TOKEN);
    expect(p.server.unwrap(t2).supplementary & GSS_S_UNSEQ_TOKEN).to.equal(GSS_S_UNSEQ_TOKEN);
    p.release();
  });

  it('getMic/verifyMic; wrapSizeLimit keeps tokens under the limit', async () => {
    const p = await pair();
    const mic = p.server.getMic(Buffer.from('message'));
    expect(p.client.verifyMic(Buffer.from('message'), mic)).to.equal(0);
    expect(() => p.client.verifyMic(Buffer.from('messagf'), mic)).to.throw(/gss_verify_mic/);
    for (const conf of [true, false]) {
      const limit = p.client.wrapSizeLimit(conf, 65535);
      expect(limit).to.be.within(65000, 65535);
      expect(p.client.wrap(Buffer.alloc(limit), conf).token.length).to.be.at.most(65535);
    }
    p.release();
  });

  it('errors carry major, minor and the library message: unknown service, released objects', async () => {
    const icred = await gss.acquireCredential({ usage: 'initiate', ccache: fx.ccache });
    const ctx = new gss.SecurityContext();
    const target = new gss.Name('nosuch@localhost', 'hostbased');
    const err = await ctx.initSecContext(icred, target, INITIATOR_FLAGS, null).then(() => undefined, (e: Record<string, unknown>) => e);
    expect(err).to.include({ code: 'ERR_GSS' });
    expect(err!.minor).to.be.a('number').above(0);
    expect(String(err!.message)).to.match(/gss_init_sec_context: .*Server .*not found in Kerberos database/);
    expect(gss.displayStatus(err!.major as number, err!.minor as number)).to.match(/not found in Kerberos database/);
    ctx.release();
    expect(() => ctx.wrap(Buffer.from('x'), true)).to.throw(/released/);
    ctx.release(); // twice is fine
    target.release();
    icred.release();
    const missing = await gss.acquireCredential({ usage: 'accept', keytab: `${fx.kdc.dir}/no-such.keytab` }).then(() => undefined, (e: Error) => e);
    expect(missing?.message).to.match(/^gss_acquire_cred_from: /);
  });

  it('a context busy in a step refuses other calls; release during a step waits for it', async () => {
    const icred = await gss.acquireCredential({ usage: 'initiate', ccache: fx.ccache });
    const ctx = new gss.SecurityContext();
    const target = new gss.Name('rcmd@localhost', 'hostbased');
    const step = ctx.initSecContext(icred, target, INITIATOR_FLAGS, null);
    expect(() => ctx.wrap(Buffer.from('x'), true)).to.throw(/still running/);
    ctx.release();
    icred.release();
    const r = await step;
    expect(r.token.length).to.be.above(100);
    expect(() => ctx.inquire()).to.throw(/released/);
    target.release();
  });
});
