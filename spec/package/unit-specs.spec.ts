/**
 * The specs of `npm run test:unit` spawn nothing: no child_process or
 * cluster import, none of the helpers that start a program, a KDC or openssl.
 * Tests that need a process go to spec/programs or spec/interop.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/paths.js';

const UNIT = ['protocol', 'methods', 'transport', 'server', 'client', 'electrum', 'service'];
const SPAWNS = /from 'node:(child_process|cluster|worker_threads)'|from '\.\.\/support\/(kdc|kerberos)\.js'|\b(runProgram|startProgram|spawnDaemon|requireProgram|makeCerts)\(/;

/** The lines of `text` that would start a process. */
export function spawningLines(text: string): string[] {
  return text.split('\n').filter((l) => SPAWNS.test(l));
}

describe('unit specs spawn nothing', () => {
  it('finds a planted spawn', () => {
    expect(spawningLines("import { execFile } from 'node:child_process';\nconst x = 1;\nawait runProgram('ss', []);\nimport { kerberosFixture } from '../support/kerberos.js';")).to.have.length(3);
  });

  it(`spec/{${UNIT.join(',')}} start no process`, () => {
    const bad: string[] = [];
    for (const dir of UNIT) {
      for (const f of readdirSync(path.join(ROOT, 'spec', dir), { recursive: true }) as string[]) {
        if (!f.endsWith('.ts')) continue;
        for (const l of spawningLines(readFileSync(path.join(ROOT, 'spec', dir, f), 'utf8'))) bad.push(`spec/${dir}/${f}: ${l.trim()}`);
      }
    }
    expect(bad).to.deep.equal([]);
  });
});
