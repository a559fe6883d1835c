/**
 * Program settings from three places, for the long-running programs:
 *
 *   flags  >  SOCKSKIT_* environment variables  >  the --config file
 *
 * A key set in a stronger place replaces it as a whole (a list is not merged).
 * The file's keys are the long flag names; the environment variable of
 * `--max-connections` is SOCKSKIT_MAX_CONNECTIONS. Repeatable options take a
 * list in the file and a comma- or newline-separated list in the environment
 * (newline only for secrets such as --user, whose passwords may hold commas).
 * Every error names the flag, the variable or the file line.
 */
import { parseArgs } from 'node:util';
import { loadConfigFile, type ConfigEntry } from './config-file.js';
import { ConfigFileError, EnvError, UsageError } from './errors.js';
import { envName, MAX_MS, millisecondOptions, optionsOf, parseArgsOptions, type OptionDef, type OptionTable } from './options.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Settings {
  values: Values;
  /** Where each key came from: `--flag`, the variable, or `FILE: key`. */
  from: Record<string, string>;
  /** The config file's `rules:` value (raw; the program parses it), if any. */
  rules: unknown;
  configFile: string | undefined;
  /** SOCKSKIT_* variables that name no option (a typo, usually). */
  unknownEnv: string[];
}

/** File keys that are not flags: structured data the command line cannot hold. */
const FILE_ONLY = new Set(['rules']);
/** SOCKSKIT_* variables that are not options (the test suite's own, and a worker's slot: worker-limits.ts). */
const NOT_OPTIONS = new Set([
  // Read by the tests, the benchmark script, CI and the Kerberos build, which may share a shell with a program.
  'SOCKSKIT_INTEROP_REQUIRED', 'SOCKSKIT_RANDOM_CASES', 'SOCKSKIT_SEED', 'SOCKSKIT_SOCKET_SESSIONS', 'SOCKSKIT_DANTE_GSSAPI',
  'SOCKSKIT_PYTHON', 'SOCKSKIT_UNDICI_MAJOR', 'SOCKSKIT_CACHE', 'SOCKSKIT_BENCH_DIR', 'SOCKSKIT_BENCH_DRY_RUN',
  'SOCKSKIT_SKIP_KERBEROS_BUILD', 'SOCKSKIT_KERBEROS_ADDON', 'SOCKSKIT_SKIP_SPLICE_BUILD', 'SOCKSKIT_SPLICE_ADDON',
  // Set by the cluster primary for its workers.
  'SOCKSKIT_WORKER_SLOT',
]);

function fromEnv(key: string, d: OptionDef, text: string): string | boolean | string[] {
  if (d.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off|)$/i.test(text)) return false;
    throw new EnvError(envName(key), `expected true or false, got ${JSON.stringify(text)}`);
  }
  if (d.multiple) return text.split(d.newlineList ? /\r?\n/ : /[,\n]/).map((s) => s.trim()).filter(Boolean);
  return text;
}

/** One file entry checked against its option: the value in flag form. */
function fileValue(file: string, e: ConfigEntry, d: OptionDef): string | boolean | string[] {
  const fault = (msg: string) => new ConfigFileError(file, e.line, `${e.key}: ${msg}`);
  const scalar = (v: unknown): string => {
    if (typeof v === 'string' || typeof v === 'number') return String(v);
    throw fault(`expected a string or number, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  };
  if (d.type === 'boolean') {
    if (typeof e.value !== 'boolean') throw fault(`expected true or false, got ${JSON.stringify(e.value)}`);
    return e.value;
  }
  if (d.multiple) return Array.isArray(e.value) ? e.value.map(scalar) : [scalar(e.value)];
  return scalar(e.value);
}

/** Reads and checks the config file: known keys with values of the right shape. */
export function readConfigFile(file: string, table: OptionTable): { values: Values; rules: unknown } {
  const options = optionsOf(table);
  const values: Values = {};
  let rules: unknown;
  for (const e of loadConfigFile(file)) {
    if (FILE_ONLY.has(e.key)) {
      rules = e.value;
      continue;
    }
    const d = options[e.key];
    if (!d || d.flagOnly) throw new ConfigFileError(file, e.line, `${e.key}: unknown key${d ? ' (command line only)' : ''}`);
    if (e.value !== null && e.value !== undefined) values[e.key] = fileValue(file, e, d);
  }
  return { values, rules };
}

function parseFlags(argv: readonly string[], table: OptionTable): Values {
  try {
    return parseArgs({ args: [...argv], options: parseArgsOptions(table), strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Flags, environment and file merged. Throws UsageError (EnvError,
 * ConfigFileError) naming the place at fault. `env` is injectable for tests.
 */
export function loadSettings(argv: readonly string[], table: OptionTable, env: NodeJS.ProcessEnv = process.env): Settings {
  const flags = parseFlags(argv, table);
  const configFile = (flags.config as string | undefined) ?? env[envName('config')] ?? undefined;
  const file = configFile ? readConfigFile(configFile, table) : { values: {} as Values, rules: undefined };
  const values: Values = {};
  const from: Record<string, string> = {};
  for (const [key, d] of Object.entries(optionsOf(table))) {
    const fromEnvText = d.flagOnly ? undefined : env[envName(key)];
    if (flags[key] !== undefined) {
      values[key] = flags[key];
      from[key] = `--${key}`;
    } else if (fromEnvText !== undefined) {
      values[key] = fromEnv(key, d, fromEnvText);
      from[key] = envName(key);
    } else if (file.values[key] !== undefined) {
      values[key] = file.values[key];
      from[key] = `${configFile}: ${key}`;
    }
  }
  checkMilliseconds(table, values, (key) => from[key]!);
  // A misspelt variable would be ignored silently: say so.
  const known = new Set(Object.entries(optionsOf(table)).filter(([k, d]) => !d.flagOnly || k === 'config').map(([k]) => envName(k)));
  const unknownEnv = Object.keys(env).filter((k) => k.startsWith('SOCKSKIT_') && !known.has(k) && !NOT_OPTIONS.has(k));
  return { values, from, rules: file.rules, configFile, unknownEnv };
}

/**
 * Refuses a millisecond value a Node timer cannot hold (it would fire after
 * 1 ms: a handshake deadline of 30 days closing every client at once).
 * `where` names the source of a key: `--flag`, the variable, `FILE: key`.
 */
export function checkMilliseconds(table: OptionTable, values: Values, where: (key: string) => string): void {
  for (const key of millisecondOptions(table)) {
    const text = values[key];
    if (typeof text !== 'string') continue;
    const n = Number(text);
    if (Number.isFinite(n) && n > MAX_MS) throw new UsageError(`${where(key)} wants at most ${MAX_MS} ms (about 24.8 days), got ${JSON.stringify(text)}`);
  }
}
