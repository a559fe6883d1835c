/**
 * The sockskit-keys program (examples/keys.ts): generate, public, authorize,
 * and one-line errors with the documented exit codes.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadKeyFile } from '../../methods/binauth/keyfile.js';
import { binauthPublicKey } from '../../methods/binauth/core.js';
import { PROGRAM } from '../support/paths.js';
import { runProgram } from '../support/interop.js';

const KEYS = PROGRAM.keys;

async function runKeys(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runProgram(process.execPath, [KEYS, ...args], { timeout: 10_000 });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

describe('sockskit-keys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts with a shebang', () => {
    expect(readFileSync(KEYS, 'utf8').split('\n')[0]).to.equal('#!/usr/bin/env node');
  });

  it('generate writes a 0600 key and prints its public key; public prints it again', async () => {
    const f = path.join(dir, 'client.key');
    const g = await runKeys(['generate', f]);
    expect(g.code).to.equal(0);
    expect(g.stderr).to.equal('');
    expect(g.stdout).to.match(/^[0-9a-f]{64}\n$/);
    expect(statSync(f).mode & 0o777).to.equal(0o600);
    const seed = loadKeyFile(f);
    expect(g.stdout.trim()).to.equal(binauthPublicKey(seed).toString('hex'));
    expect(g.stdout).not.to.include(seed.toString('hex'));
    const p = await runKeys(['public', f]);
    expect(p).to.deep.equal({ code: 0, stdout: g.stdout, stderr: '' });
  });

  it('refuses to overwrite without --force', async () => {
    const f = path.join(dir, 'k');
    await runKeys(['generate', f]);
    const before = readFileSync(f, 'utf8');
    const again = await runKeys(['generate', f]);
    expect(again.code).to.not.equal(0);
    expect(again.stdout).to.equal('');
    expect(again.stderr).to.equal(`sockskit-keys: ${f}: already exists (use --force to overwrite)\n`);
    expect(readFileSync(f, 'utf8')).to.equal(before);
    const forced = await runKeys(['generate', '--force', f]);
    expect(forced.code).to.equal(0);
    expect(readFileSync(f, 'utf8')).not.to.equal(before);
  });

  it('--help, and one-line errors with a non-zero exit', async () => {
    const h = await runKeys(['--help']);
    expect(h.code).to.equal(0);
    expect(h.stdout).to.match(/^Usage: sockskit-keys generate FILE/);
    // Usage errors exit 2, failures exit 1.
    const cases: [string[], RegExp, number][] = [
      [[], /^sockskit-keys: missing command/, 2],
      [['frobnicate', 'x'], /^sockskit-keys: unknown command "frobnicate"/, 2],
      [['public'], /^sockskit-keys: public needs a FILE/, 2],
      [['public', path.join(dir, 'missing')], /^sockskit-keys: .*missing: cannot read the key file: no such file\n$/, 1],
      [['generate', path.join(dir, 'no', 'such', 'dir', 'k')], /^sockskit-keys: .*k: cannot write: no such directory\n$/, 1],
      [['--bogus'], /^sockskit-keys: Unknown option '--bogus'/, 2],
    ];
    for (const [args, re, code] of cases) {
      const r = await runKeys(args);
      expect(r.code, args.join(' ')).to.equal(code);
      expect(r.stderr, args.join(' ')).to.match(re);
      expect(r.stdout, args.join(' ')).to.equal('');
    }
  });
});
