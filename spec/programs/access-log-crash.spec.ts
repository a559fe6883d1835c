/**
 * The access-log file batches lines (up to 50 ms): a process that dies
 * of an uncaught exception must still write what was pending. A child
 * process, so it lives here and not among the unit specs.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/interop.js';

describe('AccessLogFile in a process that crashes', function () {
  this.timeout(15000);
  const tmp = tempDir('sockskit-crash-');
  after(() => tmp.cleanup());

  it('AccessLogFile: lines still pending when the process dies of an uncaught exception are written', () => {
    const file = `${tmp.dir}/crash.log`;
    const lib = fileURLToPath(new URL('../../lib/service/index.js', import.meta.url));
    const script = `import { AccessLogFile } from ${JSON.stringify(lib)};
      const f = new AccessLogFile(${JSON.stringify(file)}, 'json');
      for (let i = 1; i <= 3; i++) f.write({ time: 't', client: 'c' + i });
      throw new Error('boom');`;
    expect(() => execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe', timeout: 10000 })).to.throw(/boom/);
    expect(readFileSync(file, 'utf8')).to.equal('{"time":"t","client":"c1"}\n{"time":"t","client":"c2"}\n{"time":"t","client":"c3"}\n');
  });
});
