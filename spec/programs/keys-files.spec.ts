/**
 * sockskit-keys writes key files safely: `psk` makes 32 bytes of hex (mode
 * 0600) that loadPskKey accepts; --force replaces a symlink instead of
 * writing through it. (Moved from spec/methods: unit specs spawn nothing.)
 */
import { expect } from 'chai';
import { lstatSync, readFileSync, statSync, symlinkSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { loadPskKey } from '../../methods/gssapi/index.js';
import { PROGRAM } from '../support/paths.js';
import { runProgram, tempDir } from '../support/interop.js';

describe('sockskit-keys: key files', function () {
  this.timeout(20000);
  const tmp = tempDir('sockskit-keys-');
  after(() => tmp.cleanup());

  it('sockskit-keys psk FILE writes 32 bytes of hex with mode 0600 that loadPskKey accepts; --force does not write through a symlink', async () => {
    const file = path.join(tmp.dir, 'gss.key');
    const r = await runProgram(process.execPath, [PROGRAM.keys, 'psk', file], { timeout: 10000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(readFileSync(file, 'utf8')).to.match(/^[0-9a-f]{64}\n$/);
    expect(loadPskKey(file)).to.have.length(32);
    const again = await runProgram(process.execPath, [PROGRAM.keys, 'psk', file], { timeout: 10000 });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/already exists/);
    const target = tmp.write('other', 'keep\n');
    const link = path.join(tmp.dir, 'gss-link.key');
    symlinkSync(target, link);
    const forced = await runProgram(process.execPath, [PROGRAM.keys, 'psk', link, '--force'], { timeout: 10000 });
    expect(forced.code, forced.stderr).to.equal(0);
    expect(readFileSync(target, 'utf8')).to.equal('keep\n');
    expect(lstatSync(link).isSymbolicLink()).to.equal(false);
  });

  it('sockskit-keys generate --force through a symlink leaves the target alone', async () => {
    const target = tmp.write('precious2', 'do not touch\n');
    chmodSync(target, 0o644);
    const link = path.join(tmp.dir, 'id.key');
    symlinkSync(target, link);
    const r = await runProgram(process.execPath, [PROGRAM.keys, 'generate', link, '--force'], { timeout: 10000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(readFileSync(target, 'utf8')).to.equal('do not touch\n');
    expect(statSync(target).mode & 0o777).to.equal(0o644);
  });
});
