// Removes compiled files whose source is gone (tsc -b keeps them), so a moved
// or deleted spec never runs from a stale dist/. Walks dist/ once; no deps.
// dist/cjs holds the declarations scripts/cjs-types.mjs moved there (it
// prunes them itself).
import { readdirSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dist = path.join(root, 'dist');
const OUT = /\.(d\.ts\.map|d\.ts|js\.map|js)$/;

function walk(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (p !== path.join(dist, 'cjs')) walk(p);
    }
    else if (OUT.test(e.name)) {
      const rel = path.relative(dist, p).replace(OUT, '');
      if (!existsSync(path.join(root, `${rel}.ts`))) rmSync(p);
    }
  }
}
walk(dist);
