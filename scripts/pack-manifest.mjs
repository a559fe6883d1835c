// npm pack / npm publish: the packed package.json without the `prepare`
// script. `prepare` builds dist/ on `npm install` in a clone (npm runs it only
// for the root project and git dependencies), but npm lists any such script
// of a dependency as an install script, so a user installing the tarball
// would be told the package runs scripts when it runs none. `prepack` calls
// this with "strip" after building, `postpack` with "restore"; the original
// bytes are kept in package.json.prepack meanwhile (gitignored), and a
// leftover copy (an interrupted pack) is restored first. No dependencies.
import { readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const file = path.join(root, 'package.json');
const saved = path.join(root, 'package.json.prepack');

function restore() {
  if (existsSync(saved)) renameSync(saved, file);
}

const what = process.argv[2];
if (what === 'restore') restore();
else if (what === 'strip') {
  restore();
  const text = readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  if (pkg.scripts?.prepare === undefined) process.exit(0);
  writeFileSync(saved, text);
  delete pkg.scripts.prepare;
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
} else {
  process.stderr.write('usage: node scripts/pack-manifest.mjs strip|restore\n');
  process.exit(2);
}
