/**
 * sockskit/undici against undici 6, 7 and 8, each installed from the npm
 * registry into a cache (spec/support/consumer.ts: a second run is offline).
 * Per major: a TypeScript consumer (strict, no skipLibCheck) compiles
 * `undici.fetch(url, { dispatcher })`, the Agent/Dispatcher assignments and
 * the global `fetch(url, { dispatcher })` form against that undici's own
 * types; and spec/interop/fetch.spec.js runs with that undici in place of
 * this checkout's (a tree of symlinks run with --preserve-symlinks, so both
 * the spec's and sockskit's `undici` resolve to it). A major this Node cannot
 * load (undici 8 needs Node >= 22.19) skips its runtime half visibly.
 * Slow (npm, tsc): not part of `npm run test:unit`.
 */
import path from 'node:path';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { ROOT } from '../support/paths.js';
import { runProgram, tempDir, interopRequired } from '../support/interop.js';
import { project, tsc, undiciMajor, versionOf, nodeAtLeast } from '../support/consumer.js';

/** The Node each major needs (its package.json "engines"), for the runtime half. */
const NEEDS: Record<number, string> = { 6: '18.17.0', 7: '20.18.1', 8: '22.19.0' };

const CONSUMER = `
import { fetch as undiciFetch, Agent, type Dispatcher } from 'undici';
import { socksDispatcher, type SocksDispatcherOptions, type SocksDispatcher } from 'sockskit/undici';

const options: SocksDispatcherOptions = { connectTimeout: 5000, tls: { rejectUnauthorized: true }, agent: { connections: 4 } };
const dispatcher: SocksDispatcher = socksDispatcher('socks5h://127.0.0.1:1080', options);
export const asAgent: Agent = dispatcher;
export const asDispatcher: Dispatcher = dispatcher;
export async function viaUndici(url: string): Promise<string> {
  return (await undiciFetch(url, { dispatcher })).text();
}
// Node's global fetch, typed by @types/node (no DOM lib: its RequestInit has no dispatcher).
export async function viaGlobalFetch(url: string): Promise<string> {
  return (await fetch(url, { dispatcher })).text();
}
export const closed: Promise<void> = dispatcher.close();
`;

/** A tree where everything is this checkout's but node_modules/undici, which is `undici`. */
function swapTree(dir: string, undici: string): void {
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  symlinkSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'));
  for (const e of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (e !== 'undici') symlinkSync(path.join(ROOT, 'node_modules', e), path.join(dir, 'node_modules', e));
  }
  symlinkSync(undici, path.join(dir, 'node_modules', 'undici'));
}

for (const major of [6, 7, 8]) {
  describe(`undici ${major} with sockskit/undici`, function () {
    this.timeout(300_000);
    let undici = '';
    const tmp = tempDir(`sockskit-undici${major}-`);
    after(() => tmp.cleanup());

    before(async function () {
      try {
        undici = await undiciMajor(major);
      } catch (err) {
        if (interopRequired()) throw err;
        console.log(`      (skipped: undici ${major} could not be installed: ${(err as Error).message.split('\n')[0]})`);
        this.skip();
      }
      expect(versionOf(undici).split('.')[0]).to.equal(String(major));
    });

    it(`compiles undici.fetch(url, { dispatcher }) and the global fetch(url, { dispatcher }) against undici ${major}'s types`, async () => {
      const dir = await project(`undici-${major}`, { undici, link: ['@types/node', 'undici-types'] });
      writeFileSync(path.join(dir, 'consumer.ts'), CONSUMER);
      writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', lib: ['ES2022'], strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, types: ['node'], noEmit: true },
        files: ['consumer.ts'],
      }));
      const r = await tsc(dir);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
    });

    it(`runs spec/interop/fetch.spec.js on undici ${major}`, async function () {
      if (!nodeAtLeast(NEEDS[major]!)) {
        console.log(`      (skipped: undici ${major} needs Node >= ${NEEDS[major]}; this is ${process.versions.node})`);
        this.skip();
      }
      swapTree(tmp.dir, undici);
      const mocha = path.join(tmp.dir, 'node_modules', 'mocha', 'bin', 'mocha.js');
      const spec = path.join(tmp.dir, 'dist', 'spec', 'interop', 'fetch.spec.js');
      const r = await runProgram(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', mocha, '--no-config', '--exit', '--timeout', '20000', spec], {
        timeout: 240_000,
        env: { ...process.env, SOCKSKIT_UNDICI_MAJOR: String(major) },
      });
      const out = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
      expect(r.code, out + r.stderr).to.equal(0);
      expect(out).to.match(/undici's own fetch\(\) takes the dispatcher too/);
      expect(Number(/(\d+) passing/.exec(out)?.[1] ?? 0), out).to.be.at.least(interopRequired() ? 9 : 1);
    });
  });
}
