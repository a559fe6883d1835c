/** The options table drives flags, environment names, --help and the docs' tables. */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { envName, optionsMarkdown, parseArgsOptions, renderOptions, PROXY_OPTIONS, GATEWAY_OPTIONS, type OptionTable } from '../../lib/service/index.js';
import { ROOT } from '../support/paths.js';

describe('service options table', () => {
  const table: OptionTable = [{ title: 'Group', options: {
    listen: { type: 'string', multiple: true, arg: 'HOST:PORT', help: 'where to listen\n(repeatable)' },
    'a-rather-long-flag': { type: 'string', arg: 'VALUE', help: 'its text goes on the next line' },
    help: { type: 'boolean', short: 'h', flagOnly: true, help: 'show this help' },
  } }];

  it('--help: flag column, continuation lines, wide flags on their own line', () => {
    expect(renderOptions(table)).to.equal([
      'Group',
      '  --listen HOST:PORT        where to listen',
      '                            (repeatable)',
      '  --a-rather-long-flag VALUE',
      '                            its text goes on the next line',
      '  -h, --help                show this help',
    ].join('\n'));
  });

  it('parseArgs form sets only what is given; environment names', () => {
    expect(parseArgsOptions(table)).to.deep.equal({ listen: { type: 'string', multiple: true }, 'a-rather-long-flag': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
    expect(envName('max-connections-per-source')).to.equal('SOCKSKIT_MAX_CONNECTIONS_PER_SOURCE');
  });

  it('docs/options.md holds the tables the programs are built from', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'options.md'), 'utf8');
    expect(optionsMarkdown(table)).to.contain('| `--listen HOST:PORT` | `listen:` | `SOCKSKIT_LISTEN` | where to listen (repeatable) |');
    expect(optionsMarkdown(table)).to.contain('| `-h, --help` | — | — | show this help |');
    expect(doc, 'sockskit-proxy: regenerate with scripts/options-doc.mjs').to.contain(optionsMarkdown(PROXY_OPTIONS));
    expect(doc, 'sockskit-electrum-gateway: regenerate with scripts/options-doc.mjs').to.contain(optionsMarkdown(GATEWAY_OPTIONS));
  });
});
