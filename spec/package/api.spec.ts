/**
 * The public surface is written down three times, and the three agree:
 * lib/index.ts (and lib/service/index.ts) list every name explicitly, the
 * layer barrels they draw on add nothing the index forgets, and docs/api.md
 * has one line per public name. Read from the sources, so type-only names
 * count too.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The names a module re-exports with `export { ... } from` / `export type { ... } from` (the public name of `a as b` is b). */
function parseExportNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const part of m[1].split(',')) {
      const name = part.trim().split(/\s+as\s+/).pop()!.trim();
      if (name) names.add(name);
    }
  }
  return names;
}

const exportedNames = (file: string) => parseExportNames(read(file));

/** The names docs/api.md documents: the backticked word that opens each list item. */
function documentedNames(): string[] {
  return [...read('docs/api.md').matchAll(/^- `([A-Za-z_$][\w$]*)`/gm)].map((m) => m[1]);
}

const ROOT_INDEX = 'lib/index.ts';
const SERVICE_INDEX = 'lib/service/index.ts';
/** sockskit/undici: its own entry because its declarations name undici's types. */
const UNDICI_INDEX = 'lib/undici.ts';
/** Barrels whose every name the root index must also export. */
const LAYER_BARRELS = [
  'lib/protocol/index.ts',
  'lib/protocol/codec/index.ts',
  'lib/server/index.ts',
  'lib/client/index.ts',
  'lib/electrum/index.ts',
  'methods/binauth/index.ts',
  'methods/gssapi/index.ts',
  'methods/ident/index.ts',
];

describe('the public surface (lib/index.ts, the layer barrels, docs/api.md)', () => {
  it('no `export *` in the index or the barrels it draws on: every public name is listed', () => {
    for (const file of [ROOT_INDEX, SERVICE_INDEX, UNDICI_INDEX, ...LAYER_BARRELS]) {
      expect(read(file), file).not.to.match(/^export (type )?\*/m);
    }
  });

  it('every name a layer barrel exports is also exported by the root index', () => {
    const root = exportedNames(ROOT_INDEX);
    for (const file of LAYER_BARRELS) {
      const missing = [...exportedNames(file)].filter((n) => !root.has(n));
      expect(missing, `${file} exports names that lib/index.ts does not`).to.deep.equal([]);
    }
  });

  it('docs/api.md documents each public name once, and nothing else', () => {
    const documented = documentedNames();
    const dupes = documented.filter((n, i) => documented.indexOf(n) !== i);
    expect(dupes, 'documented twice').to.deep.equal([]);
    const expected = new Set([...exportedNames(ROOT_INDEX), ...exportedNames(SERVICE_INDEX), ...exportedNames(UNDICI_INDEX)]);
    const doc = new Set(documented);
    expect([...expected].filter((n) => !doc.has(n)), 'public but not in docs/api.md').to.deep.equal([]);
    expect(documented.filter((n) => !expected.has(n)), 'in docs/api.md but not public').to.deep.equal([]);
  });

  it('the parser reads renamed and multi-line export lists (a planted index)', () => {
    const text = "export {\n  a, b as c,\n} from './x.js';\nexport type { T } from './y.js';\nexport const z = 1;\n";
    const names = parseExportNames(text);
    expect([...names]).to.deep.equal(['a', 'c', 'T']);
  });
});
