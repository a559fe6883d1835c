/**
 * Key files, authorized keys and the token cache (methods/binauth/keyfile.ts);
 * the sockskit-keys program is spec/programs/keys.spec.ts.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, statSync, chmodSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  parsePrivateKey,
  loadKeyFile,
  writeKeyFile,
  parseAuthorizedKeys,
  loadAuthorizedKeys,
  loadTokenCache,
  saveTokenCache,
  KeyFileError,
} from '../../methods/binauth/keyfile.js';
import { generateBinauthKeyPair } from '../../methods/binauth/core.js';

describe('keyfile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a seed as hex + newline with mode 0600 and reads it back', () => {
    const { privateKey } = generateBinauthKeyPair();
    const f = path.join(dir, 'k');
    writeKeyFile(f, privateKey);
    expect(readFileSync(f, 'utf8')).to.equal(`${privateKey.toString('hex')}\n`);
    expect(statSync(f).mode & 0o777).to.equal(0o600);
    expect(loadKeyFile(f)).to.deep.equal(privateKey);
  });

  it('refuses to overwrite unless forced; force resets the mode to 0600', () => {
    const f = path.join(dir, 'k');
    writeFileSync(f, 'old\n', { mode: 0o644 });
    chmodSync(f, 0o644);
    const { privateKey } = generateBinauthKeyPair();
    expect(() => writeKeyFile(f, privateKey)).to.throw(KeyFileError, /already exists \(use --force/);
    expect(readFileSync(f, 'utf8')).to.equal('old\n');
    writeKeyFile(f, privateKey, { force: true });
    expect(statSync(f).mode & 0o777).to.equal(0o600);
    expect(loadKeyFile(f)).to.deep.equal(privateKey);
  });

  it('parses 64 hex digits, or 128 when the halves agree; rejects anything else without echoing it', () => {
    const { privateKey, publicKey } = generateBinauthKeyPair();
    expect(parsePrivateKey(`  ${privateKey.toString('hex').toUpperCase()}\n`)).to.deep.equal(privateKey);
    expect(parsePrivateKey(`# my key\n${privateKey.toString('hex')}${publicKey.toString('hex')}\n`)).to.deep.equal(privateKey);
    expect(() => parsePrivateKey(privateKey.toString('hex') + '00'.repeat(32), 'f')).to.throw(KeyFileError, /not seed \|\| public key/);
    const bad = privateKey.toString('hex').slice(0, 62);
    try {
      parsePrivateKey(bad, 'f');
      expect.fail('no error');
    } catch (err) {
      expect((err as Error).message).to.match(/^f: not a binauth private key/);
      expect((err as Error).message).not.to.include(bad);
    }
  });

  it('warns about a key file others can read', () => {
    const f = path.join(dir, 'k');
    writeKeyFile(f, generateBinauthKeyPair().privateKey);
    const warnings: string[] = [];
    loadKeyFile(f, (w) => warnings.push(w));
    expect(warnings).to.deep.equal([]);
    chmodSync(f, 0o640);
    loadKeyFile(f, (w) => warnings.push(w));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/accessible by others \(mode 0640\)/);
  });

  it('names missing files clearly', () => {
    expect(() => loadKeyFile(path.join(dir, 'nope'))).to.throw(KeyFileError, /nope: cannot read the key file: no such file/);
    expect(() => loadAuthorizedKeys(path.join(dir, 'nope'))).to.throw(KeyFileError, /cannot read the authorized-keys file/);
  });

  it('authorized keys: comments, blank lines, case; a bad line names its number', () => {
    const a = generateBinauthKeyPair().publicKey.toString('hex');
    const b = generateBinauthKeyPair().publicKey.toString('hex');
    const text = `# team keys\n\n${a}\n  ${b.toUpperCase()}   # laptop\r\n\n`;
    expect([...parseAuthorizedKeys(text)]).to.deep.equal([a, b]);
    const f = path.join(dir, 'authorized');
    writeFileSync(f, `${a}\n# ok\n${b.slice(0, 60)}\n`);
    try {
      loadAuthorizedKeys(f);
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(KeyFileError);
      expect((err as KeyFileError).line).to.equal(3);
      expect((err as Error).message).to.equal(`${f} line 3: expected an Ed25519 public key (64 hex digits)`);
    }
    expect(parseAuthorizedKeys('# nobody\n').size).to.equal(0);
  });

  it('token cache: saved 0600 atomically, missing or damaged reads as no token', () => {
    const f = path.join(dir, 'token');
    expect(loadTokenCache(f)).to.equal(undefined);
    const token = Buffer.alloc(101, 0xab);
    saveTokenCache(f, token);
    expect(statSync(f).mode & 0o777).to.equal(0o600);
    expect(loadTokenCache(f)).to.deep.equal(token);
    saveTokenCache(f, Buffer.alloc(101, 0xcd));
    expect(loadTokenCache(f)).to.deep.equal(Buffer.alloc(101, 0xcd));
    expect(readdirSync(dir)).to.deep.equal(['token']);
    writeFileSync(f, 'garbage\n');
    expect(loadTokenCache(f)).to.equal(undefined);
  });
});
