/**
 * Where the Kerberos binding is not built (no libkrb5-dev, no compiler):
 * everything loads, gssapiKerberos() throws KerberosUnavailableError naming
 * what to install, sockskit-proxy --gssapi-keytab says so in one line (exit
 * 2), and the install step of the build script exits 0 without krb5-config.
 * SOCKSKIT_KERBEROS_ADDON points the loader at a file that does not exist.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, PROGRAM } from '../support/paths.js';
import { cleanEnv, runProgram, tempDir } from '../support/interop.js';

describe('Kerberos without the binding', function () {
  this.timeout(20000);
  const tmp = tempDir('sockskit-nokrb-');
  after(() => tmp.cleanup());
  const env = () => cleanEnv({ SOCKSKIT_KERBEROS_ADDON: path.join(tmp.dir, 'missing.node') });

  it('the package loads; gssapiKerberos() throws KerberosUnavailableError saying what to install', async () => {
    const script = tmp.write('use.mjs', `
      const m = await import(${JSON.stringify(path.join(ROOT, 'dist/lib/index.js'))});
      console.log(JSON.stringify({ available: m.kerberosAvailable(), none: typeof m.none() }));
      try { m.gssapiKerberos({}); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, isSocks: e instanceof m.SocksError, message: e.message })); }
    `);
    const r = await runProgram(process.execPath, [script], { env: env() });
    expect(r.code, r.stderr).to.equal(0);
    const [first, second] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).to.deep.equal({ available: false, none: 'object' });
    expect(second).to.include({ name: 'KerberosUnavailableError', code: 'ERR_SOCKS_KERBEROS_UNAVAILABLE', isSocks: true });
    expect(second!.message).to.match(/install libkrb5-dev .*C compiler.*python3, then run `npm run build:kerberos`/);
  });

  it('sockskit-proxy --gssapi-keytab: one line naming what to install, exit 2', async () => {
    const keytab = path.join(tmp.dir, 'k.keytab');
    // A keytab with one rcmd/host entry, written by hand (the reader needs no KDC).
    const entry = (() => {
      const str = (s: string) => Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s)]);
      const body = Buffer.concat([Buffer.from([0, 2]), str('EXAMPLE.ORG'), str('rcmd'), str('proxy'), Buffer.from([0, 0, 0, 3]), Buffer.alloc(4), Buffer.from([1]), Buffer.from([0, 18]), str('k'.repeat(32))]);
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      return Buffer.concat([Buffer.from([5, 2]), size, body]);
    })();
    writeFileSync(keytab, entry);
    const r = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--gssapi-keytab', keytab], { env: env() });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/^sockskit-proxy: Kerberos \(GSS-API\) support is not built: install libkrb5-dev/m);
  });

  it('the install step without krb5-config prints one line and exits 0; build:kerberos fails', async () => {
    const env = cleanEnv({ PATH: path.dirname(process.execPath) === '/usr/bin' ? tmp.dir : path.dirname(process.execPath) });
    const r = await runProgram(process.execPath, [path.join(ROOT, 'scripts/build-kerberos.mjs')], { env });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/^sockskit: the Kerberos binding was not built: missing libkrb5-dev \(krb5-config\)/);
    const strict = await runProgram(process.execPath, [path.join(ROOT, 'scripts/build-kerberos.mjs'), '--required'], { env });
    expect(strict.code).to.equal(1);
  });
});
