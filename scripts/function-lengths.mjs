// Lists the functions (declarations, methods, accessors, constructors, function
// expressions and arrow functions) of lib/, methods/ and examples/ longer than N
// lines, longest first:  node scripts/function-lengths.mjs [N=60] [dir...]
// A function's length runs from its first token (leading comments excluded) to
// its closing brace, both lines included; a nested function counts in its own
// right and inside its parent. Exits 1 when any function is over N lines.
// spec/package/function-length.spec.ts runs the same checker.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIRS = ['lib', 'methods', 'examples'];

/** The name a reader would look for: the declaration's, or that of what holds the function. */
function nameOf(node, sf) {
  if (ts.isConstructorDeclaration(node)) return `${nameOf(node.parent, sf)}.constructor`;
  if (node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name) || ts.isPrivateIdentifier(node.name))) {
    const own = node.name.text;
    const cls = node.parent && (ts.isClassDeclaration(node.parent) || ts.isClassExpression(node.parent)) ? node.parent.name?.text : undefined;
    return cls ? `${cls}.${own}` : own;
  }
  if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) return '<class>';
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && ts.isIdentifier(p.name)) return p.name.text;
  if (p && (ts.isCallExpression(p) || ts.isNewExpression(p))) {
    return `<callback of ${ts.isNewExpression(p) ? 'new ' : ''}${p.expression.getText(sf).slice(0, 40)}>`;
  }
  return '<anonymous>';
}

const IS_FUNCTION = (n) =>
  ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) ||
  ts.isConstructorDeclaration(n) || ts.isGetAccessorDeclaration(n) || ts.isSetAccessorDeclaration(n);

/** Every function of one source text with its length in lines. */
export function functionsOf(file, text) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out = [];
  const visit = (node) => {
    if (IS_FUNCTION(node) && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ file, line: start + 1, name: nameOf(node, sf), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The .ts sources (declarations excluded) under the given directories, as repository paths. */
export function sourceFiles(root = ROOT, dirs = DIRS) {
  const out = [];
  const walk = (rel) => {
    for (const name of readdirSync(path.join(root, rel)).sort()) {
      const child = path.posix.join(rel, name);
      if (statSync(path.join(root, child)).isDirectory()) walk(child);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(child);
    }
  };
  for (const d of dirs) walk(d);
  return out;
}

/** Functions longer than `max` lines in the tree, longest first. */
export function longFunctions(max = 60, root = ROOT, dirs = DIRS) {
  return sourceFiles(root, dirs)
    .flatMap((f) => functionsOf(f, readFileSync(path.join(root, f), 'utf8')))
    .filter((f) => f.lines > max)
    .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file) || a.line - b.line);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const max = Number(process.argv[2] ?? 60);
  if (!Number.isInteger(max) || max < 0) {
    console.error('usage: node scripts/function-lengths.mjs [max-lines] [dir...]');
    process.exit(2);
  }
  const dirs = process.argv.length > 3 ? process.argv.slice(3) : DIRS;
  const long = longFunctions(max, ROOT, dirs);
  for (const f of long) console.log(`${String(f.lines).padStart(4)}  ${f.file}:${f.line}  ${f.name}`);
  process.exit(long.length ? 1 : 0);
}
