// The declarations again, under dist/cjs/ with {"type": "commonjs"}, for the
// `require` export condition: a CommonJS TypeScript consumer (module node16)
// reads them as a CommonJS module's and compiles `require('sockskit')`, which
// Node >= 20.19 / 22.12 serves from the one ESM build (require(esm)): one copy
// of the code, so one SocksError class whichever way it was loaded
// (docs/decisions.md, "CommonJS"). Same text as the ESM declarations; no deps.
import { readdirSync, rmSync, mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'cjs');

function copy(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) copy(p);
    else if (e.name.endsWith('.d.ts')) {
      const to = path.join(out, path.relative(dist, p));
      mkdirSync(path.dirname(to), { recursive: true });
      copyFileSync(p, to);
    }
  }
}

rmSync(out, { recursive: true, force: true });
for (const d of ['lib', 'methods']) copy(path.join(dist, d));
writeFileSync(path.join(out, 'package.json'), '{ "type": "commonjs" }\n');
