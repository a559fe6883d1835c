// What `npm pack` ships, made from the built tree (prepack, after `npm run
// build`): the JavaScript again without comments (the declarations keep
// theirs: they are what an editor shows), and only the declarations an
// export reaches. The package's size goal (docs/decisions.md, "What the
// package ships") is what this buys. dist/.tsbuildinfo is removed, so the
// next `npm run build` emits everything again, comments and source maps
// included. Uses this checkout's TypeScript; no other dependency.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.pack.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
rmSync(path.join(dist, '.tsbuildinfo'), { force: true });

/** Every .d.ts under `dir`. */
function declarations(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) declarations(p, out);
    else if (e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// The roots: each `types` of package.json's exports, a pattern's files included.
const roots = [];
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
(function collect(v) {
  if (typeof v === 'string') {
    if (!v.endsWith('.d.ts')) return;
    if (!v.includes('*')) return void roots.push(path.join(root, v));
    const dir = path.join(root, path.dirname(v));
    for (const f of readdirSync(dir)) if (f.endsWith('.d.ts')) roots.push(path.join(dir, f));
  } else if (v && typeof v === 'object') for (const x of Object.values(v)) collect(x);
})(pkg.exports);

// Their closure: relative specifiers of import/export ... from, import(), references.
const reached = new Set();
const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|<reference\s+path=)["']([^"']+)["']/g;
for (const stack = [...roots]; stack.length; ) {
  const f = stack.pop();
  if (reached.has(f)) continue;
  if (!existsSync(f)) throw new Error(`${path.relative(root, f)}: a declaration an export needs is missing`);
  reached.add(f);
  for (const [, s] of readFileSync(f, 'utf8').matchAll(SPEC)) {
    if (s.startsWith('.')) stack.push(path.resolve(path.dirname(f), s.replace(/\.js$/, '.d.ts')));
  }
}

let removed = 0;
for (const d of ['lib', 'methods', 'cjs']) {
  for (const f of declarations(path.join(dist, d))) if (!reached.has(f)) (rmSync(f), removed++);
}
console.log(`pack-build: JavaScript without comments; ${reached.size} declarations kept, ${removed} unreached removed`);
