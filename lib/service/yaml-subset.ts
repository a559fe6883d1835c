/**
 * A strict parser for the YAML our configuration files use, and nothing
 * more (no dependency; the `yaml` package stays a devDependency that the
 * spec compares against):
 *
 *   key: value            block mappings (keys plain or quoted, unique)
 *   - item                block sequences (of scalars, flow collections, mappings)
 *   [a, b]  { k: v }      flow sequences and mappings on one line, nested
 *   plain, 'single', "double"   scalars; null/~, true/false, numbers as YAML 1.2's core schema
 *   # comment             whole-line and trailing comments
 *
 * Anything else (anchors, aliases, tags, block scalars | >, multi-line plain
 * or quoted scalars, flow collections over several lines, `?` keys,
 * directives and document markers, tabs in indentation) throws a
 * YamlSubsetError with the line number: a config file is either read as the
 * `yaml` package reads it, or refused.
 */

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

/** A document outside the subset, or broken YAML: `line` is 1-based. */
export class YamlSubsetError extends Error {
  readonly code = 'ERR_YAML_SUBSET';
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'YamlSubsetError';
    this.line = line;
  }
}

export interface YamlDocument {
  /** The document's value (null for an empty document). */
  value: YamlValue;
  /** For a mapping at the top: the line of each key. */
  keyLines: Map<string, number>;
}

/** Parses `text`; throws YamlSubsetError on anything outside the subset. */
export function parseYamlSubset(text: string): YamlDocument {
  const lines = tokenize(text);
  const p = new BlockParser(lines);
  if (lines.length === 0) return { value: null, keyLines: new Map() };
  if (lines[0]!.indent !== 0) throw new YamlSubsetError(lines[0]!.no, 'the document must start at column 1');
  const value = p.block(0, 0);
  if (p.i < lines.length) throw new YamlSubsetError(lines[p.i]!.no, 'unexpected indentation');
  return { value, keyLines: p.topKeys };
}

/** One significant line: its indentation and its text without the comment. */
interface Line {
  no: number;
  indent: number;
  text: string;
}

const MAX_DEPTH = 64;

function tokenize(text: string): Line[] {
  const out: Line[] = [];
  const raw = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < raw.length; i++) {
    const no = i + 1;
    const full = raw[i]!;
    const indent = full.length - full.replace(/^ +/, '').length;
    const rest = full.slice(indent);
    const body = stripComment(rest, no).replace(/[ \t]+$/, '');
    if (body.trim() === '') continue;
    if (body.startsWith('\t')) throw new YamlSubsetError(no, 'tab in indentation');
    if (indent === 0 && /^(---|\.\.\.)(\s|$)/.test(body)) throw new YamlSubsetError(no, 'document markers (--- / ...) are outside the subset');
    if (indent === 0 && body.startsWith('%')) throw new YamlSubsetError(no, 'directives are outside the subset');
    out.push({ no, indent, text: body });
  }
  return out;
}

/** The line without its comment: `#` at the start or after a blank, outside quotes. */
function stripComment(s: string, no: number): string {
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) {
        if (quote === "'" && s[i + 1] === "'") i++;
        else quote = '';
      }
    } else if (c === '#' && (i === 0 || s[i - 1] === ' ' || s[i - 1] === '\t')) {
      return s.slice(0, i);
    } else if ((c === '"' || c === "'") && startsScalar(s, i)) {
      quote = c;
    }
  }
  if (quote) throw new YamlSubsetError(no, 'a quoted scalar must end on its line');
  return s;
}

/** Whether a quote at `i` opens a quoted scalar (it does at the start of a token, not inside a plain one). */
function startsScalar(s: string, i: number): boolean {
  const before = s.slice(0, i).replace(/ +$/, '');
  return before === '' || /[-:,[{]$/.test(before);
}

class BlockParser {
  i = 0;
  readonly topKeys = new Map<string, number>();
  constructor(private readonly lines: Line[]) {}

  /** The block node starting at the current line, which has indentation `indent`. */
  block(indent: number, depth: number): YamlValue {
    if (depth > MAX_DEPTH) throw new YamlSubsetError(this.lines[this.i]!.no, `nested deeper than ${MAX_DEPTH}`);
    const line = this.lines[this.i]!;
    if (isSeqItem(line.text)) return this.sequence(indent, depth);
    if (findMapColon(line.text) >= 0) return this.mapping(indent, depth);
    this.i++;
    if (this.i < this.lines.length && this.lines[this.i]!.indent > indent) throw new YamlSubsetError(this.lines[this.i]!.no, 'a plain scalar over several lines is outside the subset');
    return inline(line.text, line.no);
  }

  private sequence(indent: number, depth: number): YamlValue[] {
    const out: YamlValue[] = [];
    while (this.i < this.lines.length && this.lines[this.i]!.indent === indent && isSeqItem(this.lines[this.i]!.text)) {
      const line = this.lines[this.i]!;
      const rest = line.text.slice(1).replace(/^ +/, '');
      if (rest === '') {
        this.i++;
        out.push(this.nested(indent, depth));
        continue;
      }
      // "- key: value" or "- - x": a node whose column is that of `rest`.
      const col = indent + line.text.length - rest.length;
      this.lines[this.i] = { no: line.no, indent: col, text: rest };
      out.push(this.block(col, depth + 1));
    }
    return out;
  }

  private mapping(indent: number, depth: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    while (this.i < this.lines.length && this.lines[this.i]!.indent === indent) {
      const line = this.lines[this.i]!;
      if (isSeqItem(line.text)) throw new YamlSubsetError(line.no, 'a sequence item where a mapping key was expected');
      const colon = findMapColon(line.text);
      if (colon < 0) throw new YamlSubsetError(line.no, 'expected "key: value"');
      const key = keyOf(line.text.slice(0, colon).trimEnd(), line.no);
      if (Object.prototype.hasOwnProperty.call(out, key)) throw new YamlSubsetError(line.no, `duplicate key ${JSON.stringify(key)}`);
      if (depth === 0) this.topKeys.set(key, line.no);
      const rest = line.text.slice(colon + 1).trim();
      this.i++;
      const value = rest !== '' ? inline(rest, line.no) : this.valueBelow(indent, depth);
      if (rest !== '' && this.i < this.lines.length && this.lines[this.i]!.indent > indent) {
        throw new YamlSubsetError(this.lines[this.i]!.no, 'unexpected indentation (a value over several lines is outside the subset)');
      }
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** The value of "key:" with nothing after it: a block below, a sequence at the key's column, or null. */
  private valueBelow(indent: number, depth: number): YamlValue {
    const next = this.lines[this.i];
    if (next && next.indent === indent && isSeqItem(next.text)) return this.sequence(indent, depth + 1);
    return this.nested(indent, depth);
  }

  /** The block below a line with nothing after its "key:" or "-": deeper lines, or null. */
  private nested(indent: number, depth: number): YamlValue {
    const next = this.lines[this.i];
    if (!next || next.indent <= indent) return null;
    return this.block(next.indent, depth + 1);
  }
}

function isSeqItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** The index of the ":" that ends a block mapping key, or -1 (quotes and flow brackets skipped). */
function findMapColon(text: string): number {
  if (text.startsWith('[') || text.startsWith('{')) return -1;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if ((c === '"' || c === "'") && i === 0) {
      quote = c;
    } else if (c === ':' && (i + 1 === text.length || text[i + 1] === ' ')) {
      return i;
    }
  }
  return -1;
}

function keyOf(raw: string, no: number): string {
  if (raw === '') throw new YamlSubsetError(no, 'empty key');
  if (raw.startsWith('?')) throw new YamlSubsetError(no, 'complex keys (?) are outside the subset');
  const v = raw.startsWith('"') || raw.startsWith("'") ? quoted(raw, no, true) : plain(raw, no);
  if (v !== null && typeof v === 'object') throw new YamlSubsetError(no, 'a key must be a scalar');
  return keyString(v);
}

/** A scalar key as the yaml package's toJSON() names it (a null key is ""). */
function keyString(v: YamlValue): string {
  return v === null ? '' : String(v);
}

/** A value written on the key's (or the item's) line: a flow collection or a scalar. */
function inline(text: string, no: number): YamlValue {
  if (text.startsWith('[') || text.startsWith('{')) {
    const f = new FlowParser(text, no);
    const v = f.value(0);
    f.end();
    return v;
  }
  if (text.startsWith('"') || text.startsWith("'")) return quoted(text, no, true);
  if (findMapColon(text) >= 0) throw new YamlSubsetError(no, 'a mapping on the same line as a key or item ("a: b: c") is outside the subset');
  return plain(text, no);
}

/** A whole quoted scalar; with `whole`, nothing may follow it. Returns the string. */
function quoted(text: string, no: number, whole: boolean): string {
  const { value, end } = readQuoted(text, 0, no);
  if (whole && text.slice(end).trim() !== '') throw new YamlSubsetError(no, 'text after a quoted scalar');
  return value;
}

const ESCAPES: Record<string, string> = { '0': '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b', ' ': ' ', '"': '"', '/': '/', '\\': '\\', N: '\x85', _: '\xa0', L: '\u2028', P: '\u2029' };
const HEX_ESCAPES: Record<string, number> = { x: 2, u: 4, U: 8 };

/** Reads a quoted scalar starting at `at`; returns it and the index after the closing quote. */
function readQuoted(text: string, at: number, no: number): { value: string; end: number } {
  const q = text[at]!;
  let out = '';
  for (let i = at + 1; i < text.length; i++) {
    const c = text[i]!;
    if (q === "'") {
      if (c !== "'") out += c;
      else if (text[i + 1] === "'") (out += "'"), i++;
      else return { value: out, end: i + 1 };
      continue;
    }
    if (c === '"') return { value: out, end: i + 1 };
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = text[++i] ?? '';
    if (e in ESCAPES) out += ESCAPES[e];
    else if (e in HEX_ESCAPES) {
      const hex = text.slice(i + 1, i + 1 + HEX_ESCAPES[e]!);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== HEX_ESCAPES[e]) throw new YamlSubsetError(no, `bad escape \\${e}${hex}`);
      out += String.fromCodePoint(Number.parseInt(hex, 16));
      i += hex.length;
    } else throw new YamlSubsetError(no, `unknown escape \\${e}`);
  }
  throw new YamlSubsetError(no, 'a quoted scalar must end on its line');
}

const INDICATORS = /^[&*!|>%@`]/;

/** A plain scalar: null, a boolean, a number (YAML 1.2 core schema) or a string. */
function plain(raw: string, no: number): YamlValue {
  const s = raw.trim();
  if (INDICATORS.test(s)) throw new YamlSubsetError(no, `"${s[0]}" (anchors, aliases, tags, block scalars, reserved) is outside the subset`);
  if (/^(-|\?|:)( |$)/.test(s)) throw new YamlSubsetError(no, `a plain scalar cannot start with "${s[0]} "`);
  if (s === '' || s === '~' || /^(null|Null|NULL)$/.test(s)) return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (/^[-+]?[0-9]+$/.test(s)) return Number.parseInt(s, 10);
  if (/^0o[0-7]+$/.test(s)) return Number.parseInt(s.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return Number.parseFloat(s);
  if (/^[-+]?\.(inf|Inf|INF)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(nan|NaN|NAN)$/.test(s)) return Number.NaN;
  return s;
}

/** One line's flow collection: [a, b], { k: v }, nested. */
class FlowParser {
  private i = 0;
  constructor(private readonly s: string, private readonly no: number) {}

  value(depth: number): YamlValue {
    if (depth > MAX_DEPTH) throw this.error(`nested deeper than ${MAX_DEPTH}`);
    this.blanks();
    const c = this.s[this.i];
    if (c === '[') return this.seq(depth);
    if (c === '{') return this.map(depth);
    if (c === '"' || c === "'") {
      const { value, end } = readQuoted(this.s, this.i, this.no);
      this.i = end;
      return value;
    }
    return plain(this.plainText(false), this.no);
  }

  end(): void {
    this.blanks();
    if (this.i < this.s.length) throw this.error(`unexpected "${this.s.slice(this.i)}" after a flow collection`);
  }

  private seq(depth: number): YamlValue[] {
    const out: YamlValue[] = [];
    this.i++;
    for (;;) {
      this.blanks();
      if (this.eat(']')) return out;
      out.push(this.value(depth + 1));
      this.blanks();
      if (this.eat(']')) return out;
      if (!this.eat(',')) throw this.error('expected "," or "]"');
    }
  }

  private map(depth: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    this.i++;
    for (;;) {
      this.blanks();
      if (this.eat('}')) return out;
      const key = this.key();
      if (Object.prototype.hasOwnProperty.call(out, key)) throw this.error(`duplicate key ${JSON.stringify(key)}`);
      this.blanks();
      if (!this.eat(':')) throw this.error('expected ":" after a flow mapping key');
      this.blanks();
      const c = this.s[this.i];
      const value = c === ',' || c === '}' ? null : this.value(depth + 1);
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.blanks();
      if (this.eat('}')) return out;
      if (!this.eat(',')) throw this.error('expected "," or "}"');
    }
  }

  private key(): string {
    const c = this.s[this.i];
    if (c === '[' || c === '{') throw this.error('a key must be a scalar');
    if (c === '"' || c === "'") {
      const { value, end } = readQuoted(this.s, this.i, this.no);
      this.i = end;
      return value;
    }
    return keyString(plain(this.plainText(true), this.no));
  }

  /** A plain scalar in flow context: up to , [ ] { } (and ": " or ":," for a key), trimmed. */
  private plainText(key: boolean): string {
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      const n = this.s[this.i + 1];
      if (c === ',' || c === ']' || c === '}' || c === '[' || c === '{') break;
      if (c === ':' && (n === undefined || n === ' ' || n === ',' || n === '}' || n === ']')) {
        if (key) break;
        throw this.error('a mapping inside a flow sequence ("[a: b]") is outside the subset');
      }
      this.i++;
    }
    const text = this.s.slice(start, this.i).trim();
    if (text === '') throw this.error('an empty entry');
    return text;
  }

  private blanks(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  private eat(c: string): boolean {
    if (this.s[this.i] !== c) return false;
    this.i++;
    return true;
  }

  private error(message: string): YamlSubsetError {
    return new YamlSubsetError(this.no, message);
  }
}
