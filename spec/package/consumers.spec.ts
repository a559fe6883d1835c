/**
 * The consumer matrix (without undici: spec/package/undici.spec.ts has the
 * undici majors): the packed tarball installed offline into fresh projects
 * and used as ESM, as CommonJS (require(), on the oldest Node line the
 * `engines` field allows), and from TypeScript: node16 ESM, node16 CommonJS
 * and bundler resolution, strict + exactOptionalPropertyTypes, without
 * skipLibCheck and without undici installed (spec/fixtures/consumer/api.ts,
 * with negative checks). Plus: every option object a public signature takes
 * is exported by name. Slow (npm): not part of `npm run test:unit`.
 */
import path from 'node:path';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import ts from 'typescript';
import { ROOT, fixture } from '../support/paths.js';
import { runProgram } from '../support/interop.js';
import { project, tsc } from '../support/consumer.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; exports: Record<string, { import: { types: string } } | string> };

/** Whether `version` satisfies a range made of `^X.Y.Z` and `>=X.Y.Z` joined by `||` (the form `engines` uses). */
export function satisfies(version: string, range: string): boolean {
  const v = version.split('.').map(Number);
  const cmp = (w: number[]) => (v[0]! - w[0]! || v[1]! - w[1]! || v[2]! - w[2]!);
  return range.split('||').some((part) => {
    const m = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`range form not handled: ${part}`);
    const w = [Number(m[2]), Number(m[3]), Number(m[4])];
    return m[1] === '>=' ? cmp(w) >= 0 : cmp(w) >= 0 && v[0] === w[0];
  });
}

const node = (args: string[], cwd: string) => runProgram('sh', ['-c', 'cd "$0" && exec "$@"', cwd, process.execPath, ...args], { timeout: 30_000 });

function tsconfig(dir: string, compilerOptions: Record<string, unknown>): void {
  const base = { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false, types: ['node'], outDir: 'out', target: 'ES2022' };
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, ...compilerOptions }, files: ['api.ts'] }));
  copyFileSync(fixture('consumer/api.ts'), path.join(dir, 'api.ts'));
}

/** What api.ts prints when it runs. */
const EXPECTED = {
  reply: 5,
  agent: true,
  early: 'usage: unsupported proxy scheme ftp:// (use socks5, socks5h, socks4, socks4a or socks)',
  rejected: 'usage: connectTimeout must be a number of ms >= 0, not -1',
  narrowed: ['reply 5 (SOCKS5)', 'auth failed, method undefined', 'ERR_SOCKS_TIMEOUT', 'unreachable socks5://h:1 hop 0'],
  parsed: '127.0.0.1',
  env: null,
};

describe('package consumers (npm pack, offline installs in fresh projects)', function () {
  this.timeout(300_000);

  it('ESM: import() of every entry; the same classes as require() gives (one module instance)', async () => {
    const dir = await project('esm');
    writeFileSync(path.join(dir, 'check.mjs'), `
      import { createRequire } from 'node:module';
      import * as esm from 'sockskit';
      const cjs = createRequire(import.meta.url)('sockskit');
      const err = new cjs.ReplyError(5);
      console.log(JSON.stringify({ same: esm.SocksError === cjs.SocksError && esm.SocksAgent === cjs.SocksAgent, instance: err instanceof esm.SocksError, undici: typeof (await import('sockskit/undici')).socksDispatcher }));
    `);
    const r = await node(['check.mjs'], dir);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ same: true, instance: true, undici: 'function' });
  });

  it('CommonJS: require() works on every Node `engines` allows, and `engines` excludes the Nodes where it cannot', async () => {
    expect(pkg.engines.node).to.equal('^20.19.0 || >=22.12.0');
    // require(esm) without a flag: Node 20.19.0 and 22.12.0 on; 20.0-20.18 need --experimental-require-module.
    for (const v of ['20.19.0', '20.20.2', '22.12.0', '24.0.0']) expect(satisfies(v, pkg.engines.node), v).to.equal(true);
    for (const v of ['20.0.0', '20.18.3', '21.7.0', '22.11.0']) expect(satisfies(v, pkg.engines.node), v).to.equal(false);
    expect(satisfies(process.versions.node, pkg.engines.node), `this Node ${process.versions.node}`).to.equal(true);
    const dir = await project('cjs', { type: 'commonjs' });
    writeFileSync(path.join(dir, 'check.cjs'), `
      const s = require('sockskit');
      const { socksDispatcher } = require('sockskit/undici');
      const { userpass } = require('sockskit/methods/userpass');
      let early;
      try { new s.SocksAgent({ proxy: 'ftp://x' }); } catch (e) { early = e instanceof s.LocalProtocolError && e.code; }
      console.log(JSON.stringify({ agent: typeof s.SocksAgent, dispatcher: typeof socksDispatcher, userpass: typeof userpass, early }));
    `);
    const r = await node(['check.cjs'], dir);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ agent: 'function', dispatcher: 'function', userpass: 'function', early: 'ERR_SOCKS_USAGE' });
    // What Node 20.0-20.18 do (no require(esm) by default): the reason `engines` starts at 20.19.
    const old = await node(['--no-experimental-require-module', 'check.cjs'], dir);
    expect(old.code).to.not.equal(0);
    expect(old.stderr).to.match(/ERR_REQUIRE_ESM/);
  });

  for (const c of [
    { name: 'node16 ESM', type: 'module' as const, options: { module: 'node16', moduleResolution: 'node16' }, run: true },
    { name: 'node16 CommonJS', type: 'commonjs' as const, options: { module: 'node16', moduleResolution: 'node16' }, run: true },
    { name: 'bundler', type: 'module' as const, options: { module: 'esnext', moduleResolution: 'bundler', noEmit: true }, run: false },
  ]) {
    it(`TypeScript ${c.name}: the public API compiles (strict, exactOptionalPropertyTypes, no skipLibCheck, no undici)${c.run ? ' and runs' : ''}`, async () => {
      const dir = await project(`ts-${c.name.replace(/\W+/g, '-')}`, { type: c.type, link: ['@types/node', 'undici-types'] });
      expect(existsSync(path.join(dir, 'node_modules', 'undici')), 'undici must be absent').to.equal(false);
      tsconfig(dir, c.options);
      const r = await tsc(dir);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      if (!c.run) return;
      const js = readFileSync(path.join(dir, 'out', 'api.js'), 'utf8');
      expect(js.includes('require("sockskit")')).to.equal(c.type === 'commonjs');
      const run = await node(['out/api.js'], dir);
      expect(run.code, run.stderr).to.equal(0);
      expect(JSON.parse(run.stdout)).to.deep.equal(EXPECTED);
    });
  }

  it('every option object a public function or constructor takes is exported by name', () => {
    const entries = Object.values(pkg.exports).flatMap((v) => (typeof v === 'object' && !v.import.types.includes('*') ? [path.join(ROOT, v.import.types)] : []));
    const program = ts.createProgram(entries, { strict: true, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, types: [] });
    const checker = program.getTypeChecker();
    const exported = new Set<string>();
    const symbols: ts.Symbol[] = [];
    for (const e of entries) {
      const mod = checker.getSymbolAtLocation(program.getSourceFile(e)!)!;
      for (const s of checker.getExportsOfModule(mod)) {
        exported.add(s.name);
        symbols.push(s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
      }
    }
    const needed = new Map<string, string>();
    const visitType = (where: string, n: ts.Node): void => {
      if (ts.isTypeReferenceNode(n)) {
        const name = n.typeName.getText();
        if (/Options$/.test(name)) needed.set(name, where);
      }
      n.forEachChild((c) => visitType(where, c));
    };
    const visitParams = (where: string, params: ts.NodeArray<ts.ParameterDeclaration>) => params.forEach((p) => p.type && visitType(where, p.type));
    for (const s of symbols) {
      for (const d of s.declarations ?? []) {
        if (ts.isFunctionDeclaration(d)) visitParams(s.name, d.parameters);
        if (ts.isClassDeclaration(d)) {
          for (const m of d.members) {
            const priv = ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected);
            if (!priv && (ts.isConstructorDeclaration(m) || ts.isMethodDeclaration(m))) visitParams(`${s.name}.${m.name?.getText() ?? 'constructor'}`, m.parameters);
          }
        }
      }
    }
    expect(needed.size, 'option types found in public signatures').to.be.above(10);
    const missing = [...needed].filter(([n]) => !exported.has(n)).map(([n, where]) => `${n} (taken by ${where})`);
    expect(missing).to.deep.equal([]);
  });
});
