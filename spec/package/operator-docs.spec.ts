/** Every flag of the service programs is in their --help, in the README and in their example config. */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runProgram } from '../support/interop.js';
import { PROGRAM, ROOT } from '../support/paths.js';

/** Flags at the start of a --help line (the option list, not prose). */
async function helpFlags(program: string): Promise<string[]> {
  const r = await runProgram(process.execPath, [program, '--help']);
  expect(r.code).to.equal(0);
  return [...new Set([...r.stdout.matchAll(/^\s+(?:-\w, )?--([a-z0-9-]+)/gm)].map((m) => m[1]!))];
}

const COMMAND_LINE_ONLY = new Set(['help', 'version', 'config', 'check']);

describe('operator docs: every flag in --help, the README and the example config', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  for (const [program, example] of [[PROGRAM.proxy, 'sockskit-proxy.yaml'], [PROGRAM.electrumGateway, 'electrum-gateway.yaml']] as const) {
    it(`${path.basename(program)}: ${example}`, async function () {
      this.timeout(10000);
      const flags = await helpFlags(program);
      expect(flags).to.include.members(['config', 'check', 'access-log', 'access-log-format', 'metrics', 'drain-timeout', 'workers', 'keepalive']);
      const yaml = readFileSync(path.join(ROOT, 'examples', example), 'utf8');
      const missing = {
        readme: flags.filter((f) => f !== 'help' && f !== 'version' && !readme.includes(`--${f}`)),
        example: flags.filter((f) => !COMMAND_LINE_ONLY.has(f) && !new RegExp(`^#? ?${f}:`, 'm').test(yaml)),
      };
      expect(missing).to.deep.equal({ readme: [], example: [] });
    });
  }
  it('sockskit-proxy has the new rule and network flags', async () => {
    expect(await helpFlags(PROGRAM.proxy)).to.include.members(['client-allow', 'client-deny', 'outbound-address']);
  });
});
