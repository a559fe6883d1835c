/**
 * The options table: one entry per option drives the command-line flag, the
 * --config file key (the long flag name), the SOCKSKIT_* environment variable,
 * the --help text and the docs' option tables (docs/options.md).
 */

export interface OptionDef {
  type: 'string' | 'boolean';
  /** Repeatable: a list on the command line, in the file and in the environment. */
  multiple?: boolean;
  short?: string;
  /**
   * The value's placeholder in --help (HOST:PORT). `MS` marks milliseconds:
   * every program refuses more than a Node timer holds (MAX_MS).
   */
  arg?: string;
  /** The --help text, lines already wrapped. */
  help: string;
  /** Only on the command line: never a file key or an environment variable. */
  flagOnly?: boolean;
  /** A list whose values may hold commas (passwords): the environment splits it on newlines only. */
  newlineList?: boolean;
}

export interface OptionGroup {
  /** The heading in --help (none: the options follow the previous text). */
  title?: string;
  options: Record<string, OptionDef>;
}

export type OptionTable = readonly OptionGroup[];

/** The longest delay a Node timer holds (2^31-1 ms, about 24.8 days); past it Node fires after 1 ms. */
export const MAX_MS = 2 ** 31 - 1;

/** The options of `table` whose value is in milliseconds. */
export function millisecondOptions(table: OptionTable): string[] {
  return Object.entries(optionsOf(table)).filter(([, d]) => d.arg === 'MS').map(([k]) => k);
}

/** Every option of a table by name (later groups win, so a program may override a shared entry). */
export function optionsOf(table: OptionTable): Record<string, OptionDef> {
  return Object.assign({}, ...table.map((g) => g.options)) as Record<string, OptionDef>;
}

/** The table in node:util parseArgs form. */
export function parseArgsOptions(table: OptionTable): Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> {
  // parseArgs refuses a key whose value is undefined: set only what is given.
  return Object.fromEntries(Object.entries(optionsOf(table)).map(([name, d]) => [name, { type: d.type, ...(d.multiple ? { multiple: true } : {}), ...(d.short ? { short: d.short } : {}) }]));
}

/** The environment variable of an option: max-connections -> SOCKSKIT_MAX_CONNECTIONS. */
export function envName(key: string): string {
  return `SOCKSKIT_${key.toUpperCase().replace(/-/g, '_')}`;
}

/** How the flag is written in --help: `-h, --help`, `--listen HOST:PORT`. */
export function flagText(name: string, d: OptionDef): string {
  return `${d.short ? `-${d.short}, ` : ''}--${name}${d.arg ? ` ${d.arg}` : ''}`;
}

/**
 * The options part of --help: each group's title, then each flag with its
 * text from `column` (on the next line when the flag is wider).
 */
export function renderOptions(table: OptionTable, column = 28): string {
  const pad = ' '.repeat(column);
  const out: string[] = [];
  for (const group of table) {
    if (group.title !== undefined) out.push(group.title);
    for (const [name, d] of Object.entries(group.options)) {
      const flag = `  ${flagText(name, d)}`;
      const [first, ...rest] = d.help.split('\n');
      out.push(flag.length < column ? flag.padEnd(column) + first : `${flag}\n${pad}${first}`);
      for (const line of rest) out.push(pad + line);
    }
  }
  return out.join('\n');
}

/** A Markdown table of the options (flag, file key, environment variable, meaning) for the docs. */
export function optionsMarkdown(table: OptionTable): string {
  const rows = ['| flag | config file key | environment | meaning |', '|---|---|---|---|'];
  for (const [name, d] of Object.entries(optionsOf(table))) {
    const meaning = d.help.split('\n').map((l) => l.trim()).join(' ').replace(/\|/g, '\\|');
    const flag = flagText(name, d).replace(/\|/g, '\\|');
    const key = d.flagOnly ? '—' : `\`${name}:\``;
    const env = d.flagOnly ? '—' : `\`${envName(name)}\``;
    rows.push(`| \`${flag}\` | ${key} | ${env} | ${meaning} |`);
  }
  return rows.join('\n') + '\n';
}
