/**
 * sockskit-proxy(8) in roff (man(7) macros), generated from the one options
 * table like --help and docs/options.md: scripts/man-page.mjs writes
 * man/sockskit-proxy.8, and a spec fails when that file is stale.
 */
import { envName, type OptionTable } from './options.js';

/** Escapes text for roff: backslashes, a leading dot or quote, hyphens in flags. */
function roff(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/gm, '\\&$1');
}

function optionEntries(table: OptionTable): string[] {
  const out: string[] = [];
  for (const group of table) {
    if (group.title !== undefined) out.push('.SS ' + roff(group.title.replace(/\s*\(.*$/, '')));
    for (const [name, d] of Object.entries(group.options)) {
      const flag = `${d.short ? `\\fB\\-${d.short}\\fR, ` : ''}\\fB\\-\\-${roff(name)}\\fR${d.arg ? ` \\fI${roff(d.arg)}\\fR` : ''}`;
      out.push('.TP', flag, roff(d.help.split('\n').map((l) => l.trim()).join(' ')));
      if (!d.flagOnly) out.push('.br', `Config file key \\fB${roff(name)}:\\fR, environment \\fB${roff(envName(name))}\\fR.`);
    }
  }
  return out;
}

export interface ManPageText {
  name: string;
  section: number;
  summary: string;
  synopsis: string;
  description: string;
  /** Extra sections: heading and paragraphs. */
  sections: [string, string[]][];
}

/** The man page of a program with options `table`. No date: the page changes only when its text does. */
export function manPage(table: OptionTable, t: ManPageText): string {
  const lines = [
    `.TH ${t.name.toUpperCase()} ${t.section} "" "sockskit" "System Manager's Manual"`,
    '.SH NAME',
    `${roff(t.name)} \\- ${roff(t.summary)}`,
    '.SH SYNOPSIS',
    roff(t.synopsis),
    '.SH DESCRIPTION',
    roff(t.description),
    '.SH OPTIONS',
    ...optionEntries(table),
  ];
  for (const [heading, paras] of t.sections) {
    lines.push(`.SH ${roff(heading)}`);
    paras.forEach((p, i) => lines.push(...(i ? ['.PP'] : []), roff(p)));
  }
  return lines.join('\n') + '\n';
}

/** sockskit-proxy(8). */
export function proxyManPage(table: OptionTable): string {
  return manPage(table, {
    name: 'sockskit-proxy',
    section: 8,
    summary: 'SOCKS5 and SOCKS4/4a proxy server',
    synopsis: 'sockskit-proxy [options]',
    description: 'A SOCKS5 (RFC 1928) and SOCKS4/4a proxy. Without options it listens on 127.0.0.1:1080 with no authentication. Every option is a flag, a key of the --config YAML file (the long flag name) and a SOCKSKIT_* environment variable; flags win over the environment, which wins over the file.',
    sections: [
      ['SIGNALS', [
        'SIGHUP rereads the config file, users, keys, rules and upstreams and reopens the access log; open tunnels go on, and a broken configuration keeps the running one.',
        'SIGUSR1 prints one JSON line of counters on stderr.',
        'SIGTERM and SIGINT drain: no new connections, open ones get --drain-timeout to finish. A second one closes them at once (their access-log lines are written) and exits 130.',
      ]],
      ['EXIT STATUS', ['0 after a drain or --check, 2 for a usage or configuration error (the line names the flag, variable or file line), 130 after a second SIGINT or SIGTERM, 1 otherwise.']],
      ['FILES', ['The package ships docs/operations.md (configuration, rules, upstream proxies, access log, metrics, deploying, mapping from Dante), docs/options.md and examples/sockskit-proxy.yaml.']],
      ['SEE ALSO', ['sockskit-connect(1), danted(8), sockd.conf(5)']],
    ],
  });
}
