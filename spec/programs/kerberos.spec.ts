/**
 * The Kerberos flags of the programs against a real MIT KDC on loopback:
 * sockskit-proxy --gssapi-keytab FILE [--gssapi-service NAME] (also
 * SOCKSKIT_GSSAPI_KEYTAB and gssapi-keytab: in the config file) with
 * sockskit-connect --gssapi-kerberos (KRB5CCNAME), 300 KB byte for byte;
 * --check and start-up refusing an unreadable keytab, a keytab without the
 * service's principal, and a file that is not a keytab.
 */
import { expect } from 'chai';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PROGRAM } from '../support/paths.js';
import { cleanEnv, listeningPort, runProgram, spawnDaemon, stopAll } from '../support/interop.js';
import { BODY, kerberosEchoSuite } from '../support/kerberos.js';

describe('sockskit-proxy --gssapi-keytab / sockskit-connect --gssapi-kerberos (real KDC)', function () {
  this.timeout(40000);
  const k = kerberosEchoSuite(stopAll);

  const env = (extra: Record<string, string> = {}) => cleanEnv({ ...k.fx.kdc.env, KRB5CCNAME: k.fx.ccache, KRB5RCACHETYPE: 'none', DEBUG: '', ...extra });

  async function proxy(args: string[], extraEnv: Record<string, string> = {}): Promise<{ port: number; output(): string }> {
    const d = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', ...args], { env: env(extraEnv) });
    return { port: await listeningPort(d), output: d.output };
  }

  const tunnel = (port: number, extra: string[] = []) =>
    runProgram(process.execPath, [PROGRAM.connect, '--proxy', `socks5h://localhost:${port}`, '--gssapi-kerberos', ...extra, '127.0.0.1', String(k.echo.port)], { input: BODY, env: env(), timeout: 20000 });

  for (const level of ['integrity', 'confidentiality', 'selective'] as const) {
    it(`tunnels 300 KB byte for byte at ${level}; the listening line names the principals`, async () => {
      const p = await proxy(['--gssapi-keytab', k.fx.keytab, '--gssapi-protection', level]);
      expect(p.output()).to.match(/GSS-API Kerberos \(rcmd\/localhost@SOCKSKIT\.TEST, rcmd\/127\.0\.0\.1@SOCKSKIT\.TEST\)/);
      const r = await tunnel(p.port, ['--gssapi-protection', level]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdoutBytes.equals(BODY)).to.equal(true);
    });
  }

  it('SOCKSKIT_GSSAPI_KEYTAB and a config file work the same; the access log names alice', async () => {
    const viaEnv = await proxy([], { SOCKSKIT_GSSAPI_KEYTAB: k.fx.keytab });
    let r = await tunnel(viaEnv.port);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdoutBytes.equals(BODY)).to.equal(true);
    const conf = path.join(k.fx.kdc.dir, 'proxy.yaml');
    writeFileSync(conf, `gssapi-keytab: ${k.fx.keytab}\ngssapi-service: rcmd\n`);
    const viaFile = await proxy(['--config', conf]);
    r = await tunnel(viaFile.port);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdoutBytes.equals(BODY)).to.equal(true);
    // The access log is written in batches (at most 50 ms late).
    for (let i = 0; i < 40 && !/alice@SOCKSKIT\.TEST/.test(viaFile.output()); i++) await new Promise((res) => setTimeout(res, 50));
    expect(viaFile.output()).to.match(/alice@SOCKSKIT\.TEST/);
  });

  it('a client without a ticket fails with a readable line and exit code, nothing relayed', async () => {
    const p = await proxy(['--gssapi-keytab', k.fx.keytab]);
    const before = k.echo.connections;
    const r = await runProgram(process.execPath, [PROGRAM.connect, '--proxy', `socks5h://localhost:${p.port}`, '--gssapi-kerberos', '127.0.0.1', String(k.echo.port)], { input: 'x', env: env({ KRB5CCNAME: `FILE:${k.fx.kdc.dir}/none.ccache` }), timeout: 20000 });
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/^sockskit-connect: .*Kerberos.*(No credentials|not found)/im);
    expect(r.stderr).to.not.match(/at .*\.js:\d+/); // no stack trace
    expect(k.echo.connections).to.equal(before);
  });

  describe('--check and start-up', () => {
    const check = (args: string[]) => runProgram(process.execPath, [PROGRAM.proxy, '--check', ...args], { env: env(), timeout: 10000 });

    it('a good keytab: configuration OK', async () => {
      const r = await check(['--gssapi-keytab', k.fx.keytab]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/configuration OK/);
    });

    it('an unreadable or missing keytab: exit 2 with the reason', async () => {
      let r = await check(['--gssapi-keytab', path.join(k.fx.kdc.dir, 'no-such.keytab')]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/--gssapi-keytab .*no-such\.keytab: cannot read it \(no such file\)/);
      const locked = path.join(k.fx.kdc.dir, 'locked.keytab');
      writeFileSync(locked, Buffer.from([5, 2]));
      chmodSync(locked, 0o000);
      if (process.getuid?.() !== 0) {
        r = await check(['--gssapi-keytab', locked]);
        expect(r.code).to.equal(2);
        expect(r.stderr).to.match(/permission denied/);
      }
    });

    it('a keytab without the service principal, and a file that is not a keytab: exit 2 naming what is there', async () => {
      let r = await check(['--gssapi-keytab', k.fx.keytab, '--gssapi-service', 'sockd']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/no sockd\/HOST principal in it \(it holds rcmd\/localhost@SOCKSKIT\.TEST, rcmd\/127\.0\.0\.1@SOCKSKIT\.TEST\)/);
      const junk = path.join(k.fx.kdc.dir, 'junk.keytab');
      writeFileSync(junk, 'not a keytab\n');
      r = await check(['--gssapi-keytab', junk]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/not an MIT keytab/);
    });

    it('--gssapi-service without --gssapi-keytab, and psk with keytab, are usage errors', async () => {
      let r = await check(['--gssapi-service', 'rcmd']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/--gssapi-service needs --gssapi-keytab/);
      const key = path.join(k.fx.kdc.dir, 'psk.key');
      writeFileSync(key, 'ab'.repeat(32));
      chmodSync(key, 0o600);
      r = await check(['--gssapi-keytab', k.fx.keytab, '--gssapi-psk', key]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/choose one/);
    });
  });
});

