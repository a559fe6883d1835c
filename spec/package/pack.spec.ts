/**
 * The npm package as a user gets it: `npm pack`, then an install of the
 * tarball into a fresh project, offline. The project's node_modules is seeded
 * with copies of the runtime dependencies from this checkout, so npm needs
 * neither the network nor its cache. Checks: what the tarball holds (LICENSE,
 * the docs the README names, the sources the source maps point at, no specs),
 * that installing runs no build (the project has no TypeScript), that every
 * import path the README and docs name loads, and that the bins are installed
 * and run. Slow (npm twice): not part of `npm run test:unit`.
 */
import { expect } from 'chai';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';
import { runProgram, tempDir, cleanEnv } from '../support/interop.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
};

/** The import paths a user is told about. */
const DOCUMENTED = [
  'sockskit',
  'sockskit/service',
  'sockskit/protocol',
  'sockskit/methods/none',
  'sockskit/methods/userpass',
  'sockskit/methods/squid-helper',
  'sockskit/methods/binauth',
  'sockskit/methods/gssapi',
  'sockskit/methods/gssapi-psk',
  'sockskit/methods/gssapi-mechanism',
  'sockskit/methods/gssapi-kerberos',
  'sockskit/methods/ident',
  'sockskit/methods/electrum-token',
  'sockskit/methods/types',
];

/** README.md and every docs/*.md, as text. */
function userDocs(): { name: string; text: string }[] {
  const docs = readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
  return [{ name: 'README.md', text: readFileSync(path.join(ROOT, 'README.md'), 'utf8') }, ...docs.map((f) => ({ name: `docs/${f}`, text: readFileSync(path.join(ROOT, 'docs', f), 'utf8') }))];
}

const npm = (args: string[], cwd: string) =>
  runProgram('sh', ['-c', 'cd "$0" && exec npm "$@"', cwd, ...args], { timeout: 120_000, env: cleanEnv({ npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }) });

describe('the npm package (npm pack, offline install in a fresh project)', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof tempDir>;
  let project: string;
  let installed: string;
  let files: string[];

  before(async () => {
    tmp = tempDir('sockskit-pack-');
    // dist/ is already built (npm test builds first); --ignore-scripts: no second build.
    const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.dir], ROOT);
    expect(packed.code, packed.stderr).to.equal(0);
    const info = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    files = info[0]!.files.map((f) => f.path);
    const tarball = path.join(tmp.dir, info[0]!.filename);

    project = path.join(tmp.dir, 'project');
    mkdirSync(path.join(project, 'node_modules'), { recursive: true });
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, type: 'module' }));
    // The runtime dependencies (and theirs), copied where npm would put them.
    const ls = await npm(['ls', '--omit=dev', '--all', '--parseable'], ROOT);
    const modules = path.join(ROOT, 'node_modules') + path.sep;
    for (const dir of ls.stdout.split('\n').filter((d) => d.startsWith(modules))) {
      cpSync(dir, path.join(project, 'node_modules', dir.slice(modules.length)), { recursive: true });
    }
    const install = await npm(['install', '--offline', '--no-audit', '--no-fund', tarball], project);
    expect(install.code, `npm install of the tarball:\n${install.stderr}`).to.equal(0);
    installed = path.join(project, 'node_modules', pkg.name);
  });
  after(() => tmp?.cleanup());

  it('holds LICENSE, README, the docs the README names, and no specs', () => {
    expect(files).to.include.members(['LICENSE', 'README.md', 'package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts']);
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const named = [...new Set(readme.match(/docs\/[a-z0-9-]+\.md/g) ?? [])];
    expect(named.length).to.be.above(3);
    expect(files).to.include.members(named);
    expect(files.filter((f) => f.startsWith('spec/') || f.startsWith('dist/spec/'))).to.deep.equal([]);
    // The Kerberos binding ships as sources and its build script, never as a build.
    expect(files).to.include.members(['native/kerberos/binding.gyp', 'native/kerberos/src/addon.c', 'native/kerberos/src/gk.h', 'scripts/build-kerberos.mjs']);
    expect(files.filter((f) => f.startsWith('native/kerberos/build'))).to.deep.equal([]);
  });

  it('installs without building: the project has no TypeScript, and dist is the packed one', () => {
    expect(existsSync(path.join(project, 'node_modules', 'typescript'))).to.equal(false);
    expect(readFileSync(path.join(installed, 'dist/lib/index.js'), 'utf8')).to.equal(readFileSync(path.join(ROOT, 'dist/lib/index.js'), 'utf8'));
  });

  it('every source map points at a source file that is in the package', () => {
    const maps = files.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).to.be.above(20);
    const missing: string[] = [];
    for (const m of maps) {
      const map = JSON.parse(readFileSync(path.join(installed, m), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const s of map.sources) {
        const src = path.resolve(path.dirname(path.join(installed, m)), map.sourceRoot ?? '', s);
        if (!existsSync(src)) missing.push(`${m} → ${s}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('every import path the README and docs name loads, and each is in package.json exports', async () => {
    const named = new Set<string>();
    for (const d of userDocs()) for (const m of d.text.matchAll(/['"`](sockskit(?:\/[a-z0-9/-]+)?)['"`]/g)) named.add(m[1]!);
    expect([...named]).to.include.members(DOCUMENTED);
    const paths = [...new Set([...named, ...DOCUMENTED])].sort();
    for (const p of paths) expect(Object.keys(pkg.exports), p).to.include(p === pkg.name ? '.' : `.${p.slice(pkg.name.length)}`);
    const script = `const out = {};\nfor (const p of ${JSON.stringify(paths)}) out[p] = Object.keys(await import(p));\nconsole.log(JSON.stringify(out));`;
    writeFileSync(path.join(project, 'check.mjs'), script);
    const r = await runProgram(process.execPath, [path.join(project, 'check.mjs')], { timeout: 30_000 });
    expect(r.code, r.stderr).to.equal(0);
    const loaded = JSON.parse(r.stdout) as Record<string, string[]>;
    expect(Object.keys(loaded).sort()).to.deep.equal(paths);
    expect(loaded['sockskit']).to.include.members(['SocksServer', 'connect', 'ServerHandshake', 'ClientHandshake', 'binauth', 'gssapi', 'userpass', 'none', 'runCheck', 'squidHelper', 'VerifyQueue', 'LoginThrottle']);
    expect(loaded['sockskit/service']).to.include.members(['runService', 'proxyProgram', 'loadSettings', 'loadConfigFile']);
    expect(loaded['sockskit/protocol']).to.include.members(['ServerHandshake', 'ClientHandshake', 'encodeRequest', 'decodeReply', 'SocksError', 'UdpReassembler']);
    expect(loaded['sockskit/methods/none']).to.include('none');
    expect(loaded['sockskit/methods/userpass']).to.include.members(['userpass', 'VerifyQueue', 'LoginThrottle', 'hashPassword']);
    expect(loaded['sockskit/methods/squid-helper']).to.include('squidHelper');
    expect(loaded['sockskit/methods/binauth']).to.include.members(['binauth', 'createBinauth']);
    expect(loaded['sockskit/methods/gssapi']).to.include.members(['gssapi', 'gssapiPsk']);
    expect(loaded['sockskit/methods/gssapi-psk']).to.include('pskMechanism');
    expect(loaded['sockskit/methods/gssapi-kerberos']).to.include.members(['gssapiKerberos', 'kerberosMechanism', 'KerberosUnavailableError']);
    expect(loaded['sockskit/methods/ident']).to.include('identMethod');
    expect(loaded['sockskit/methods/electrum-token']).to.include('electrumTokenAuth');
    expect(loaded['sockskit/methods/types']).to.include('runCheck');
  });

  it('installs every bin, and each starts (--help exits 0)', async () => {
    for (const name of Object.keys(pkg.bin)) {
      const bin = path.join(project, 'node_modules', '.bin', name);
      expect(existsSync(bin), bin).to.equal(true);
      const r = await runProgram(bin, ['--help'], { timeout: 30_000 });
      expect(r.code, `${name} --help: ${r.stderr}`).to.equal(0);
    }
  });
});
