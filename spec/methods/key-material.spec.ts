/**
 * Key files hold key material, not passwords, and are written safely:
 * the GSS-API PSK needs ≥ 32 bytes of key (hex, or raw binary), never a
 * passphrase (the server's proof allows offline guessing); writing with
 * --force replaces a symlink instead of writing through it and chmodding its
 * target. sockskit-keys, which writes them: spec/programs/keys-files.spec.ts.
 */
import { expect } from 'chai';
import { lstatSync, readFileSync, statSync, symlinkSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parsePskKey } from '../../methods/gssapi/index.js';
import { writeKeyFile } from '../../methods/binauth/keyfile.js';
import { tempDir } from '../support/interop.js';

describe('key material for GSS-API PSK and key files', function () {
  this.timeout(20000);
  const tmp = tempDir('sockskit-keys-');
  after(() => tmp.cleanup());

  it('parsePskKey: 16 bytes of hex and a text passphrase are refused; 32 bytes of hex or raw binary are keys', () => {
    expect(() => parsePskKey(Buffer.from('00112233445566778899aabbccddeeff\n'))).to.throw(/at least 32 bytes/);
    expect(() => parsePskKey(Buffer.from('correct horse battery staple and some more words\n'))).to.throw(/passphrase/);
    const hexKey = randomBytes(32);
    expect(parsePskKey(Buffer.from(`${hexKey.toString('hex')}\n`))).to.deep.equal(hexKey);
    const raw = randomBytes(32);
    raw[0] = 0x00; // binary, as `head -c 32 /dev/urandom` gives
    expect(parsePskKey(raw)).to.deep.equal(raw);
  });

  it('writeKeyFile --force through a symlink: the link is replaced, its target untouched (content and mode)', () => {
    const target = tmp.write('precious', 'do not touch\n');
    chmodSync(target, 0o644);
    const link = path.join(tmp.dir, 'server.key');
    symlinkSync(target, link);
    writeKeyFile(link, randomBytes(32), { force: true });
    expect(readFileSync(target, 'utf8')).to.equal('do not touch\n');
    expect(statSync(target).mode & 0o777).to.equal(0o644);
    expect(lstatSync(link).isSymbolicLink()).to.equal(false);
    expect(lstatSync(link).mode & 0o777).to.equal(0o600);
    expect(readFileSync(link, 'utf8')).to.match(/^[0-9a-f]{64}\n$/);
    // Without --force an existing name (a symlink too, even dangling) is refused.
    const dangling = path.join(tmp.dir, 'dangling.key');
    symlinkSync(path.join(tmp.dir, 'nowhere'), dangling);
    expect(() => writeKeyFile(dangling, randomBytes(32))).to.throw(/already exists/);
  });
});
