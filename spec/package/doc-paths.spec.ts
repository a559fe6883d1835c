/**
 * docs/architecture.md names files and folders in backticks; each must
 * exist, so that the map cannot drift from the tree unnoticed. A name with a
 * slash is a path from the repository root or from a folder the page has
 * just named (`codec/greeting.ts` under lib/protocol): it must be the end of
 * some path in the tree. A bare file name (`options.ts` in the service
 * table) must be the name of some file.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';

const PAGE = 'docs/architecture.md';
const TOP = ['lib', 'methods', 'examples', 'spec', 'scripts', 'docs', '.ci', 'package.json', 'README.md', 'LICENSE'];

/** Every file and folder under the top-level entries, as root-relative paths (folders end in '/'). */
function tree(): string[] {
  const out: string[] = [];
  const walk = (rel: string, depth: number) => {
    if (depth > 8) return;
    for (const e of readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.push(p + '/');
        walk(p, depth + 1);
      } else {
        out.push(p);
      }
    }
  };
  for (const t of TOP) {
    try {
      walk(t, 0);
      out.push(t + '/');
    } catch {
      out.push(t);
    }
  }
  return out;
}

/** Backticked words of the page that look like a file or folder name. */
export function pathsNamed(markdown: string): string[] {
  const names = new Set<string>();
  for (const m of markdown.matchAll(/`([^`\s]+)`/g)) {
    const t = m[1];
    if (t.startsWith('sockskit') || t.startsWith('dist/') || /[*<>]/.test(t)) continue; // import paths, build output, patterns
    if (/^[\w.-]+(\/[\w.-]+)*\/?$/.test(t) && (/\.(ts|mjs|js|md|json|yaml)$/.test(t) || (t.endsWith('/') && t.length > 1))) names.add(t);
  }
  return [...names];
}

describe(`every file ${PAGE} names exists`, () => {
  it('finds the paths in a planted page, and not import paths or patterns', () => {
    const md = 'see `lib/server/registry.ts`, `codec/`, `options.ts`, `sockskit/service`, `dist/lib`, `methods/*`, `x()`';
    expect(pathsNamed(md)).to.deep.equal(['lib/server/registry.ts', 'codec/', 'options.ts']);
  });

  it('each backticked path is in the tree', () => {
    const all = tree();
    const named = pathsNamed(readFileSync(path.join(ROOT, PAGE), 'utf8'));
    expect(named.length).to.be.greaterThan(40);
    const missing = named.filter((n) => !all.some((p) => p === n || p.endsWith('/' + n)));
    expect(missing, `named in ${PAGE} but not in the tree`).to.deep.equal([]);
  });
});
