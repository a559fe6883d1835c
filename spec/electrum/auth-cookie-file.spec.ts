/**
 * --auth-cookie / --token-file trust only a file that is really the user's
 * secret: no symlink, owned by the user, not readable by group or others, and
 * a token at least as strong as a generated one. Each refusal says why in one line.
 */
import { expect } from 'chai';
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadOrCreateCookie, readTokenFile, generateToken } from '../../lib/electrum/token.js';

describe('auth cookie / token files are checked before they are trusted', function () {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-cookie-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const both = [
    ['loadOrCreateCookie', (f: string) => loadOrCreateCookie(f).token],
    ['readTokenFile', (f: string) => readTokenFile(f)],
  ] as const;

  for (const [name, load] of both) {
    it(`${name}: a symlink is refused, even to a good token file`, () => {
      const real = path.join(dir, 'real');
      writeFileSync(real, generateToken(), { mode: 0o600 });
      const link = path.join(dir, 'link');
      symlinkSync(real, link);
      expect(() => load(link)).to.throw(/symbolic link/);
      const host = path.join(dir, 'hostname');
      symlinkSync('/etc/hostname', host);
      expect(() => load(host)).to.throw(/symbolic link/);
    });

    it(`${name}: a file readable by group or others is refused, with the chmod to run`, () => {
      const f = path.join(dir, 'cookie');
      writeFileSync(f, generateToken(), { mode: 0o600 });
      chmodSync(f, 0o644);
      expect(() => load(f)).to.throw(/accessible by group or others \(mode 0644\).*chmod 600/);
      chmodSync(f, 0o640);
      expect(() => load(f)).to.throw(/mode 0640/);
      chmodSync(f, 0o600);
      expect(load(f)).to.have.length(25);
    });

    it(`${name}: a file owned by another user is refused`, function () {
      if (process.getuid?.() !== 0) this.skip(); // only root can give a file away
      const f = path.join(dir, 'cookie');
      writeFileSync(f, generateToken(), { mode: 0o600 });
      chownSync(f, 65534, 65534);
      expect(() => load(f)).to.throw(/owned by uid 65534/);
    });

    it(`${name}: a token weaker than a generated one (1 character, short, digits only) is refused`, () => {
      const f = path.join(dir, 'cookie');
      for (const weak of ['x', 'given0token1', '1234567890123456789012345']) {
        writeFileSync(f, weak, { mode: 0o600 });
        expect(() => load(f), weak).to.throw(/too weak/);
      }
      for (const strong of [generateToken(), 'Hand-Written Secret, long enough: 7f3a9c', '0123456789abcdefghijklmno']) {
        writeFileSync(f, strong, { mode: 0o600 });
        expect(load(f), strong).to.equal(strong);
      }
    });
  }
});
