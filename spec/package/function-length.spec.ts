/**
 * No function in lib/, methods/ or examples/ is over 60 lines (issue 17):
 * scripts/function-lengths.mjs measures them with the TypeScript parser
 * (`node scripts/function-lengths.mjs 40` lists the longest for a reader).
 */
import { expect } from 'chai';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../support/paths.js';

const MAX = 60;

interface Measured { file: string; line: number; name: string; lines: number }
interface Checker {
  functionsOf(file: string, text: string): Measured[];
  longFunctions(max?: number): Measured[];
}

/** A function named `name` whose declaration spans exactly `lines` lines. */
function planted(name: string, lines: number): string {
  const body = Array.from({ length: lines - 2 }, (_, i) => `  const v${i} = ${i};`).join('\n');
  return `// a comment above does not count\nexport function ${name}(): void {\n${body}\n}\n`;
}

describe(`no function over ${MAX} lines in lib/, methods/, examples/`, () => {
  let checker: Checker;
  before(async () => {
    checker = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'function-lengths.mjs')).href)) as Checker;
  });

  it('the tree', () => {
    const long = checker.longFunctions(MAX).map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`);
    expect(long).to.deep.equal([]);
  });

  describe('the checker itself fails on planted faults', () => {
    it('a 61-line function is over, a 60-line one is not', () => {
      const found = checker.functionsOf('x.ts', planted('long', MAX + 1) + planted('fits', MAX));
      expect(found.map((f) => [f.name, f.lines, f.line])).to.deep.equal([['long', 61, 2], ['fits', 60, 64]]);
    });

    it('methods, constructors, accessors, arrows and callbacks are measured and named', () => {
      const text = [
        'export class K {',
        '  constructor() {',
        '    void 0;',
        '  }',
        '  get size(): number {',
        '    return 1;',
        '  }',
        '  run(): void {',
        '    [1].forEach((n) => {',
        '      void n;',
        '    });',
        '  }',
        '}',
        'export const arrow = (): Promise<void> => new Promise((resolve) => {',
        '  resolve();',
        '});',
        'const table = { handler: function () { return 1; } };',
        'void table;',
      ].join('\n');
      expect(checker.functionsOf('k.ts', text).map((f) => `${f.name}:${f.lines}`)).to.deep.equal([
        'K.constructor:3',
        'K.size:3',
        'K.run:5',
        '<callback of [1].forEach>:3',
        'arrow:3',
        '<callback of new Promise>:3',
        'handler:1',
      ]);
    });

    it('a long body nested in a short-looking factory counts for both', () => {
      const inner = planted('inner', MAX + 1).replace('export ', '');
      const found = checker.functionsOf('f.ts', `export function outer() {\n${inner}\n  return inner;\n}\n`);
      expect(found.filter((f) => f.lines > MAX).map((f) => f.name)).to.deep.equal(['outer', 'inner']);
    });
  });
});
