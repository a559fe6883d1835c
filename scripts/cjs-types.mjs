// The declarations for both export conditions, written once. The full text
// lives under dist/cjs/ (with {"type": "commonjs"}) for the `require`
// condition: a CommonJS TypeScript consumer (module node16) reads them as a
// CommonJS module's and compiles `require('sockskit')`, which Node >= 20.19 /
// 22.12 serves from the one ESM build (require(esm)): one copy of the code,
// so one SocksError class whichever way it was loaded (docs/decisions.md,
// "CommonJS"). Each ESM declaration under dist/lib and dist/methods becomes
// one line re-exporting its CommonJS twin: ESM may import CommonJS, while the
// other way round is TS1479 — so the package ships each declaration once
// (the packed size). No module has a default export (`export *` drops one:
// this script refuses it). Idempotent: tsc -b (incremental) re-emits only
// the files that changed; the ones already moved are left as they are.
import { readdirSync, rmSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'cjs');
const THIN = /^export \* from '[./]+cjs\/[^']+\.js';\n$/;

function move(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) move(p);
    else if (e.name.endsWith('.d.ts')) {
      const text = readFileSync(p, 'utf8');
      const to = path.join(out, path.relative(dist, p));
      if (THIN.test(text)) {
        if (!existsSync(to)) throw new Error(`${to} is missing: remove dist/ and build again`);
        continue;
      }
      if (/^export default /m.test(text)) throw new Error(`${p}: a default export (export * would drop it)`);
      mkdirSync(path.dirname(to), { recursive: true });
      writeFileSync(to, text);
      const from = path.relative(path.dirname(p), to).replace(/\.d\.ts$/, '.js').split(path.sep).join('/');
      writeFileSync(p, `export * from '${from}';\n`);
    }
  }
}

// CommonJS twins whose ESM declaration is gone (a moved or deleted source).
function prune(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) prune(p);
    else if (e.name.endsWith('.d.ts') && !existsSync(path.join(dist, path.relative(out, p)))) rmSync(p);
  }
}

mkdirSync(out, { recursive: true });
for (const d of ['lib', 'methods']) move(path.join(dist, d));
prune(out);
writeFileSync(path.join(out, 'package.json'), '{ "type": "commonjs" }\n');
