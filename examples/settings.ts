/**
 * Program settings from three places, for the long-running programs
 * (sockskit-proxy, sockskit-electrum-gateway):
 *
 *   flags  >  SOCKSKIT_* environment variables  >  the --config FILE (YAML)
 *
 * A key set in a stronger place replaces it as a whole (a list is not merged).
 * The config file's keys are the long flag names; the environment variable of
 * `--max-connections` is SOCKSKIT_MAX_CONNECTIONS. Repeatable options take a
 * YAML list in the file and a comma- or newline-separated list in the
 * environment (newline only for secrets such as --user, whose passwords may
 * hold commas). Every error names the flag, the variable or the file line.
 * Why YAML: docs/operations.md.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDocument, LineCounter, isMap, isScalar, type Pair } from 'yaml';
import { UsageError, describeFsError } from './cli.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}
export type OptionSpecs = Record<string, OptionSpec>;
export type Values = Record<string, string | boolean | string[] | undefined>;

/** Options every service program has; never read from the file or the environment except `config`. */
export const SERVICE_OPTIONS = {
  config: { type: 'string' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

const FLAG_ONLY = new Set(['config', 'check', 'help', 'version']);
/** Repeatable options whose values may contain commas: the environment splits them on newlines only. */
const NEWLINE_LISTS = new Set(['user']);
/** File keys that are not flags: structured data the command line cannot hold. */
const FILE_ONLY = new Set(['rules']);

export interface Settings {
  values: Values;
  /** Where each key came from (for --check and error messages). */
  from: Record<string, string>;
  /** The config file's `rules:` list (raw; the program parses it). */
  rules: unknown;
  configFile: string | undefined;
  /** SOCKSKIT_* variables that name no option (a typo, usually). */
  unknownEnv: string[];
}

/** SOCKSKIT_* variables that are not options (the test suite's own). */
const NOT_OPTIONS = new Set(['SOCKSKIT_INTEROP_REQUIRED', 'SOCKSKIT_RANDOM_CASES', 'SOCKSKIT_SEED']);

export function envName(key: string): string {
  return `SOCKSKIT_${key.toUpperCase().replace(/-/g, '_')}`;
}

function fromEnv(key: string, spec: OptionSpec, text: string): string | boolean | string[] {
  const name = envName(key);
  if (spec.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off|)$/i.test(text)) return false;
    throw new UsageError(`${name}: expected true or false, got ${JSON.stringify(text)}`);
  }
  if (spec.multiple) return text.split(NEWLINE_LISTS.has(key) ? /\r?\n/ : /[,\n]/).map((s) => s.trim()).filter(Boolean);
  return text;
}

/** Reads and checks the YAML file: a mapping of known keys with values of the right shape. */
export function readConfigFile(file: string, specs: OptionSpecs): { values: Values; rules: unknown } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --config file ${file}: ${describeFsError(err)}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new UsageError(`${file} line ${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const values: Values = {};
  let rules: unknown;
  if (doc.contents === null) return { values, rules };
  if (!isMap(doc.contents)) throw new UsageError(`${file}: expected a mapping of option names to values`);
  for (const pair of doc.contents.items as Pair[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const line = pair.key && isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]).line : '?';
    const at = `${file} line ${line}: ${key}`;
    const value: unknown = pair.value && typeof (pair.value as { toJSON?: unknown }).toJSON === 'function' ? (pair.value as { toJSON(): unknown }).toJSON() : isScalar(pair.value) ? pair.value.value : null;
    if (FILE_ONLY.has(key)) {
      rules = value;
      continue;
    }
    const spec = specs[key];
    if (!spec || FLAG_ONLY.has(key)) throw new UsageError(`${at}: unknown key${FLAG_ONLY.has(key) ? ' (command line only)' : ''}`);
    if (value === null || value === undefined) continue;
    const scalar = (v: unknown): string => {
      if (typeof v === 'string' || typeof v === 'number') return String(v);
      throw new UsageError(`${at}: expected a string or number, got ${Array.isArray(v) ? 'a list' : typeof v}`);
    };
    if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') throw new UsageError(`${at}: expected true or false, got ${JSON.stringify(value)}`);
      values[key] = value;
    } else if (spec.multiple) {
      values[key] = Array.isArray(value) ? value.map(scalar) : [scalar(value)];
    } else {
      values[key] = scalar(value);
    }
  }
  return { values, rules };
}

/**
 * Flags, environment and file merged. Usage errors (UsageError) name the
 * place at fault. `env` is injectable for tests.
 */
export function loadSettings(argv: readonly string[], specs: OptionSpecs, env: NodeJS.ProcessEnv = process.env): Settings {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...specs, ...SERVICE_OPTIONS } as never, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const flags = parsed.values as Values;
  const configFile = (flags.config as string | undefined) ?? env[envName('config')] ?? undefined;
  const file = configFile ? readConfigFile(configFile, specs) : { values: {}, rules: undefined };
  const values: Values = {};
  const from: Record<string, string> = {};
  for (const [key, spec] of Object.entries(specs)) {
    if (flags[key] !== undefined) {
      values[key] = flags[key];
      from[key] = `--${key}`;
      continue;
    }
    const e = FLAG_ONLY.has(key) ? undefined : env[envName(key)];
    if (e !== undefined) {
      values[key] = fromEnv(key, spec, e);
      from[key] = envName(key);
      continue;
    }
    if (file.values[key] !== undefined) {
      values[key] = file.values[key];
      from[key] = `${configFile}: ${key}`;
    }
  }
  for (const k of Object.keys(SERVICE_OPTIONS)) if (flags[k] !== undefined) values[k] = flags[k];
  // A misspelt variable would be ignored silently: say so.
  const known = new Set([...Object.keys(specs), 'config'].map(envName));
  const unknownEnv = Object.keys(env).filter((k) => k.startsWith('SOCKSKIT_') && !known.has(k) && !NOT_OPTIONS.has(k));
  return { values, from, rules: file.rules, configFile, unknownEnv };
}

/** Reads a one-line secret from a file (trailing newline dropped); empty is an error. */
export function readSecretFile(flag: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --${flag} file ${file}: ${describeFsError(err)}`);
  }
  const s = text.replace(/\r?\n$/, '');
  if (s === '') throw new UsageError(`--${flag} file ${file} is empty`);
  return s;
}
