/**
 * The npm package as a user gets it: `npm pack` (its prepack builds and
 * strips `prepare` from the packed manifest), then an install of the tarball
 * into a fresh project, offline. The project's node_modules is seeded with
 * copies of the runtime dependencies from this checkout, so npm needs
 * neither the network nor its cache (spec/support/consumer.ts). Checks: what
 * the tarball holds (LICENSE, the docs the README names; no specs, no
 * TypeScript sources, no source maps), its size against the goal and the
 * README's figures, that installing builds nothing of sockskit (only the
 * optional Kerberos addon's best-effort install script runs), that every
 * import path the README and docs name loads, and that the bins are
 * installed and run. Slow (npm twice): not part of `npm run test:unit`.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';
import { runProgram } from '../support/interop.js';
import { packOnce, project, type Packed } from '../support/consumer.js';

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
  'sockskit/undici',
];

/** The lifecycle scripts npm runs, or lists as install scripts, when a package is installed. */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

/** README.md and every docs/*.md, as text. */
function userDocs(): { name: string; text: string }[] {
  const docs = readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
  return [{ name: 'README.md', text: readFileSync(path.join(ROOT, 'README.md'), 'utf8') }, ...docs.map((f) => ({ name: `docs/${f}`, text: readFileSync(path.join(ROOT, 'docs', f), 'utf8') }))];
}

describe('the npm package (npm pack, offline install in a fresh project)', function () {
  this.timeout(300_000);
  let packed: Packed;
  let dir: string;
  let installed: string;
  let files: string[];

  before(async () => {
    packed = await packOnce();
    files = packed.files;
    dir = await project('pack-check', { kerberos: true });
    installed = path.join(dir, 'node_modules', pkg.name);
  });

  it('holds LICENSE, README and the man page; the docs it links to are in the repository, not the package; no specs', () => {
    expect(files).to.include.members(['LICENSE', 'README.md', 'package.json', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'man/sockskit-proxy.8']);
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const named = [...new Set(readme.match(/docs\/[a-z0-9-]+\.md/g) ?? [])];
    expect(named.length).to.be.above(3);
    for (const d of named) expect(existsSync(path.join(ROOT, d)), `${d}, named by the README`).to.equal(true);
    expect(files.filter((f) => f.startsWith('docs/'))).to.deep.equal([]);
    expect(files.filter((f) => f.startsWith('spec/') || f.startsWith('dist/spec/'))).to.deep.equal([]);
    // The native addons ship as sources and their build scripts, never as a build.
    expect(files).to.include.members(['native/kerberos/binding.gyp', 'native/kerberos/src/addon.c', 'native/kerberos/src/gk.h', 'scripts/build-kerberos.mjs']);
    expect(files).to.include.members(['native/splice/binding.gyp', 'native/splice/src/addon.c', 'native/splice/src/tunnel.h', 'scripts/build-splice.mjs', 'scripts/native-build.mjs']);
    expect(files.filter((f) => f.startsWith('native/kerberos/build') || f.startsWith('native/splice/build'))).to.deep.equal([]);
  });

  it('installs without building sockskit: prepare not packed, the one install script the native addons\' best effort, no TypeScript, dist the packed one', () => {
    const scripts = packed.manifest.scripts ?? {};
    // The build (prepare) is stripped at pack time; what remains is the optional
    // addons' builds, which always exit 0 (scripts/build-kerberos.mjs, build-splice.mjs).
    expect(Object.keys(scripts).filter((k) => INSTALL_SCRIPTS.includes(k))).to.deep.equal(['install']);
    expect(scripts.install).to.equal('node scripts/build-kerberos.mjs && node scripts/build-splice.mjs');
    expect(existsSync(path.join(dir, 'node_modules', 'typescript'))).to.equal(false);
    expect(readFileSync(path.join(installed, 'dist/lib/index.js'), 'utf8')).to.equal(readFileSync(path.join(ROOT, 'dist/lib/index.js'), 'utf8'));
  });

  it('packing left the checkout\'s package.json as it was (prepare kept: `npm install` in a clone builds)', () => {
    expect(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).to.equal(packed.before);
    expect(existsSync(path.join(ROOT, 'package.json.prepack'))).to.equal(false);
    expect((JSON.parse(packed.before) as { scripts: Record<string, string> }).scripts.prepare).to.be.a('string');
  });

  it('ships no TypeScript sources and no source maps (docs/decisions.md), and CommonJS declarations for `require`', () => {
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).to.deep.equal([]);
    expect(files.filter((f) => f.endsWith('.map'))).to.deep.equal([]);
    expect(files).to.include.members(['dist/cjs/package.json', 'dist/cjs/lib/index.d.ts', 'dist/cjs/lib/undici.d.ts']);
    expect(JSON.parse(readFileSync(path.join(installed, 'dist/cjs/package.json'), 'utf8'))).to.deep.equal({ type: 'commonjs' });
    // The JavaScript without comments, the declarations with theirs, once: the ESM ones re-export the CommonJS text.
    const js = readFileSync(path.join(installed, 'dist/lib/server/server.js'), 'utf8');
    expect(js).to.match(/class SocksServer/);
    expect(js).to.not.match(/\/\*\*|^\s*\/\/ /m);
    expect(readFileSync(path.join(installed, 'dist/cjs/lib/server/server.d.ts'), 'utf8')).to.match(/\/\*\*[^]*class SocksServer/);
    expect(readFileSync(path.join(installed, 'dist/lib/index.d.ts'), 'utf8')).to.equal("export * from '../cjs/lib/index.js';\n");
  });

  it('stays within its size budget, and the README\'s Install note gives npm pack\'s figures (to within 2%: any edit moves them a little)', () => {
    // Issue 21's goal; how the package meets it is in docs/decisions.md ("What the package ships").
    expect(packed.size, `packed size ${packed.size} bytes`).to.be.below(250_000);
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const m = /\*\*([\d.]+) kB\*\* packed, \*\*([\d.]+) kB\*\* unpacked, \*\*(\d+) files\*\*/.exec(readme);
    expect(m, 'the Install note\'s "**N kB** packed, **N kB** unpacked, **N files**"').to.not.equal(null);
    const near = (said: number, real: number, what: string) => expect(Math.abs(said - real) / real, `README says ${said}, npm pack ${real} (${what})`).to.be.below(0.02);
    near(Number(m![1]) * 1000, packed.size, 'packed');
    near(Number(m![2]) * 1000, packed.unpackedSize, 'unpacked');
    near(Number(m![3]), files.length, 'files');
  });

  it('every import path the README and docs name loads, and each is in package.json exports', async () => {
    const named = new Set<string>();
    for (const d of userDocs()) for (const m of d.text.matchAll(/['"`](sockskit(?:\/[a-z0-9/-]+)?)['"`]/g)) named.add(m[1]!);
    expect([...named]).to.include.members(DOCUMENTED);
    const paths = [...new Set([...named, ...DOCUMENTED])].sort();
    for (const p of paths) expect(Object.keys(pkg.exports), p).to.include(p === pkg.name ? '.' : `.${p.slice(pkg.name.length)}`);
    const script = `const out = {};\nfor (const p of ${JSON.stringify(paths)}) out[p] = Object.keys(await import(p));\nconsole.log(JSON.stringify(out));`;
    writeFileSync(path.join(dir, 'check.mjs'), script);
    const r = await runProgram(process.execPath, [path.join(dir, 'check.mjs')], { timeout: 30_000 });
    expect(r.code, r.stderr).to.equal(0);
    const loaded = JSON.parse(r.stdout) as Record<string, string[]>;
    expect(Object.keys(loaded).sort()).to.deep.equal(paths);
    expect(loaded['sockskit']).to.include.members(['SocksServer', 'connect', 'ServerHandshake', 'ClientHandshake', 'binauth', 'gssapi', 'userpass', 'none', 'runCheck', 'squidHelper', 'VerifyQueue', 'LoginThrottle', 'isSocksError', 'ProxyUnreachableError']);
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
    expect(loaded['sockskit/undici']).to.deep.equal(['socksDispatcher']);
  });

  it('installs every bin, and each starts (--help exits 0)', async () => {
    for (const name of Object.keys(pkg.bin)) {
      const bin = path.join(dir, 'node_modules', '.bin', name);
      expect(existsSync(bin), bin).to.equal(true);
      const r = await runProgram(bin, ['--help'], { timeout: 30_000 });
      expect(r.code, `${name} --help: ${r.stderr}`).to.equal(0);
    }
  });
});
