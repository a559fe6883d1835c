/**
 * lib/service/yaml-subset.ts against the `yaml` package (a devDependency,
 * kept for this comparison): the shipped example configs (as they are, and
 * with every commented key uncommented), the yaml blocks of the docs, and a
 * corpus of edge cases must parse to what `yaml` parses them to; what lies
 * outside the subset, or is broken YAML, must throw YamlSubsetError with the
 * right line. Each refusal also records whether `yaml` accepts the text
 * (outside the subset) or refuses it too (broken), and the spec checks that.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import YAML from 'yaml';
import { parseYamlSubset, YamlSubsetError } from '../../lib/service/yaml-subset.js';
import { ROOT } from '../support/paths.js';

const reference = (text: string): unknown => YAML.parse(text, { uniqueKeys: true });

function sameAsYaml(name: string, text: string): void {
  const want = reference(text);
  const got = parseYamlSubset(text).value;
  expect(got, name).to.deep.equal(want);
}

function sameOrBothRefuse(name: string, text: string): void {
  let want: unknown;
  let line: number | undefined;
  try {
    want = reference(text);
  } catch (e) {
    line = (e as { linePos?: { line: number }[] }).linePos?.[0]?.line ?? -1;
  }
  if (line === undefined) return sameAsYaml(name, text);
  expect(() => parseYamlSubset(text), `${name}: yaml refuses it at line ${line}`).to.throw(YamlSubsetError);
  try {
    parseYamlSubset(text);
  } catch (e) {
    expect((e as YamlSubsetError).line, name).to.equal(line);
  }
  void want;
}

/** The example configs, and the yaml blocks of README.md and docs/*.md. */
function shippedYaml(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const f of readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'))) out.push({ name: `examples/${f}`, text: readFileSync(path.join(ROOT, 'examples', f), 'utf8') });
  const docs = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  for (const d of docs) {
    const md = readFileSync(path.join(ROOT, d), 'utf8');
    let n = 0;
    for (const m of md.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)) out.push({ name: `${d} yaml block ${++n}`, text: m[1]! });
  }
  return out;
}

/** Every "# key: value" (and its "#   - item" lines) made live. */
function uncommented(text: string): string {
  return text.split('\n').map((l) => l.replace(/^# ([a-z][a-z0-9-]*:(?: .*)?)$/, '$1').replace(/^#(   - .*)$/, '$1')).join('\n');
}

const ACCEPTED: [string, string][] = [
  ['numbers', 'a: 1\nb: -2\nc: +3\nd: 1.5\ne: 1e3\nf: .5\ng: 0x1F\nh: 0o17\ni: 007\nj: 1_000\nk: 1.2.3\n'],
  ['booleans and nulls (YAML 1.2: yes/off are strings)', 'a: true\nb: False\nc: TRUE\nd: yes\ne: off\nf: ~\ng: null\nh:\ni: NULL\n'],
  ['quoted scalars', `a: 'it''s # not a comment'\nb: "tab\\tnew\\nline \\u00e9 \\x41 \\"q\\""\nc: "#x"\nd: ''\ne: "true"\nf: '12'\n`],
  ['comments', 'a: b # comment\nc: d#e\n# full line\n  # indented comment\ne: f   \n'],
  ['block sequences, also at the key\'s column', 'l:\n  - a\n  - 1\n  -   spaced out\nm:\n- x\n- y\n'],
  ['nested mappings', 'a:\n  b:\n    c: 1\n  d: [1, 2]\ne: 2\n'],
  ['a sequence of mappings', 'l:\n  - name: x\n    port: 1\n  - name: y\n  -\n    name: z\n'],
  ['nested sequences', 'l:\n  - - a\n    - b\n  - c\n'],
  ['a sequence at the top', '- a\n- b: 1\n- [c]\n'],
  ['flow collections', 'r: [ {a: 1, b: [x, "y, z"]}, {}, [] , { c: }, {d: "e"} ]\n'],
  ['flow scalars with colons and slashes', 'a: [127.0.0.1:1080, "[::1]:1080", http://x/y, 10.0.0.0/8]\nb: { to: .internal, port: "8000-8100" }\n'],
  ['a trailing comma in a flow sequence', 'a: [1, 2, ]\n'],
  ['CRLF line ends', 'a: 1\r\nb: [2]\r\n'],
  ['quoted keys', '"a b": 1\n\'c\': 2\n"": 3\n'],
  ['plain scalars with blanks and colons', 'user: alice:correct horse battery staple\npath: /etc/sockskit/users\ntoken: ...\n'],
  ['a byte-order mark, non-ASCII', '\uFEFFa: é\nb: "ü"\n'],
  ['empty document', ''],
  ['only comments', '# nothing\n   \n# here\n'],
  ['a scalar document', 'just text\n'],
  ['keys that look like other types', 'true: 1\n1: 2\nnull: 3\n'],
];

/** [name, text, line, does `yaml` accept it?] */
const REFUSED: [string, string, number, boolean][] = [
  ['an anchor and an alias', 'a: &x 1\nb: *x\n', 1, true],
  ['a tag', 'a: 1\nb: !!str 1\n', 2, true],
  ['a literal block scalar', 'a: |\n  text\n', 1, true],
  ['a folded block scalar', 'x: 1\na: >\n  t\n', 2, true],
  ['a plain scalar over two lines', 'a: b\n  c\n', 2, true],
  ['a flow sequence over two lines', 'a: [1,\n  2]\n', 1, true],
  ['a quoted scalar over two lines', 'a: "b\n  c"\n', 1, true],
  ['a document marker', '---\na: 1\n', 1, true],
  ['a directive', '%YAML 1.2\n---\na: 1\n', 1, true],
  ['a complex key', '? a\n: b\n', 1, true],
  ['a duplicate key', 'a: 1\nb: 2\na: 3\n', 3, false],
  ['a duplicate key in a flow mapping', 'r: [{a: 1, a: 2}]\n', 1, false],
  ['an unclosed flow sequence', 'listen: [127.0.0.1:1\nfoo: 1\n', 1, false],
  ['an unterminated quoted scalar', 'a: 1\nb: "x\n', 2, false],
  ['a tab in indentation', 'a:\n\tb: 1\n', 2, false],
  ['a mapping after a sequence at the same level', '- a\nb: 1\n', 2, false],
  ['a compact nested mapping', 'a: b: c\n', 1, false],
  ['deeper indentation after a value', 'a: 1\n  b: 2\n', 2, false],
  ['text after a flow collection', 'a: [1] x\n', 1, false],
  ['a bad escape', 'a: "\\q"\n', 1, false],
  ['text after a quoted scalar', "a: 'x' y\n", 1, false],
];

describe('service: the YAML subset parser, against the yaml package', () => {
  it('parses every shipped example config and docs yaml block as yaml does', () => {
    const all = shippedYaml();
    expect(all.map((f) => f.name)).to.include.members(['examples/sockskit-proxy.yaml', 'examples/electrum-gateway.yaml']);
    for (const f of all) sameAsYaml(f.name, f.text);
  });

  it('and with every commented key uncommented, one at a time (both parse it alike, or both refuse it at the same line)', () => {
    for (const f of shippedYaml().filter((f) => f.name.startsWith('examples/'))) {
      const lines = f.text.split('\n');
      let tried = 0;
      for (let i = 0; i < lines.length; i++) {
        const live = uncommented(lines[i]!);
        if (live === lines[i]) continue;
        // The key and its "#   - item" lines.
        const text = [...lines.slice(0, i), live, ...lines.slice(i + 1).map((l, j) => (lines.slice(i + 1, i + 1 + j + 1).every((x) => /^#   - /.test(x)) ? uncommented(l) : l))].join('\n');
        tried++;
        sameOrBothRefuse(`${f.name} with line ${i + 1} uncommented`, text);
      }
      expect(tried, f.name).to.be.above(5);
    }
  });

  for (const [name, text] of ACCEPTED) {
    it(`edge case: ${name}`, () => sameAsYaml(name, text));
  }

  it('gives the line of each top-level key', () => {
    const doc = parseYamlSubset('# head\nlisten:\n  - 127.0.0.1:1080\n\nrules: [{ action: block }]\n');
    expect([...doc.keyLines]).to.deep.equal([['listen', 2], ['rules', 5]]);
  });

  for (const [name, text, line, yamlAccepts] of REFUSED) {
    it(`refuses ${name}: YamlSubsetError at line ${line} (${yamlAccepts ? 'outside the subset: yaml reads it' : 'broken: yaml refuses it too'})`, () => {
      let ok = true;
      try {
        reference(text);
      } catch {
        ok = false;
      }
      expect(ok, 'what yaml does with it').to.equal(yamlAccepts);
      let err: unknown;
      try {
        parseYamlSubset(text);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(YamlSubsetError);
      expect((err as YamlSubsetError).line, (err as Error).message).to.equal(line);
      expect((err as YamlSubsetError).code).to.equal('ERR_YAML_SUBSET');
      expect((err as Error).message).to.match(new RegExp(`^line ${line}: `));
    });
  }

  it('bounded: deep nesting is refused, a large flat file is linear', () => {
    const deep = `a: ${'['.repeat(100)}${']'.repeat(100)}\n`;
    expect(() => parseYamlSubset(deep)).to.throw(YamlSubsetError, /nested deeper than 64/);
    const big = Array.from({ length: 20000 }, (_, i) => `k${i}: [${i}, "v${i}"]`).join('\n');
    const t0 = Date.now();
    expect(Object.keys(parseYamlSubset(big).value as object)).to.have.length(20000);
    expect(Date.now() - t0).to.be.below(2000);
  });
});
