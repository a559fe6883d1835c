/**
 * The --config file parser, the one place that knows the file is YAML
 * (why YAML: docs/operations.md). It returns the top-level entries with
 * their line numbers; settings.ts checks them against the options table.
 * The YAML is the subset our files use, read without a dependency
 * (yaml-subset.ts: what it accepts it reads as the `yaml` package does).
 */
import { readInput } from './inputs.js';
import { parseYamlSubset, YamlSubsetError, type YamlDocument } from './yaml-subset.js';
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
  let doc: YamlDocument;
  try {
    doc = parseYamlSubset(text);
  } catch (err) {
    if (err instanceof YamlSubsetError) throw new ConfigFileError(file, err.line, err.message.replace(/^line \d+: /, ''));
    throw err;
  }
  const value = doc.value;
  if (value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigFileError(file, undefined, 'expected a mapping of option names to values');
  return Object.entries(value).map(([key, v]) => ({ key, line: doc.keyLines.get(key), value: v }));
}
