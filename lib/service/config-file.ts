/**
 * The --config file parser, the one place that knows the file is YAML
 * (why YAML: docs/operations.md). It returns the top-level entries with
 * their line numbers; settings.ts checks them against the options table.
 */
import { readInput } from './inputs.js';
import { parseDocument, LineCounter, isMap, isScalar, type Pair } from 'yaml';
import { ConfigFileError, UsageError } from './errors.js';
import { describeFsError } from './values.js';

export interface ConfigEntry {
  key: string;
  /** 1-based; undefined when the parser gives none. */
  line: number | undefined;
  /** Plain data: string, number, boolean, null, arrays and objects of them. */
  value: unknown;
}

/** Reads `file`: a mapping of keys to values, in file order. Throws ConfigFileError naming the line at fault. */
export function loadConfigFile(file: string): ConfigEntry[] {
  let text: string;
  try {
    text = readInput(file).toString('utf8');
  } catch (err) {
    throw new UsageError(`cannot read --config file ${file}: ${describeFsError(err)}`);
  }
  return parseConfigText(file, text);
}

/** The same from text already read (`file` only names it in errors). */
export function parseConfigText(file: string, text: string): ConfigEntry[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigFileError(file, e.linePos?.[0].line, e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  }
  if (doc.contents === null) return [];
  if (!isMap(doc.contents)) throw new ConfigFileError(file, undefined, 'expected a mapping of option names to values');
  return (doc.contents.items as Pair[]).map((pair) => {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const line = isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]).line : undefined;
    const node = pair.value as { toJSON?: () => unknown } | null;
    const value = node && typeof node.toJSON === 'function' ? node.toJSON() : isScalar(pair.value) ? pair.value.value : null;
    return { key, line, value };
  });
}
