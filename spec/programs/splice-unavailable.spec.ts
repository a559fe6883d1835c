/**
 * Where the splice relay addon is not built (or not Linux): everything
 * loads, splice 'auto' relays in JavaScript, and 'on' is a start-up error
 * naming `npm run build:splice`. SOCKSKIT_SPLICE_ADDON points the loader at
 * a file that does not exist (in a child process: the loader caches).
 */
import path from 'node:path';
import { expect } from 'chai';
import { runProgram, tempDir, cleanEnv } from '../support/interop.js';
import { ROOT } from '../support/paths.js';

describe('the splice relay absent', function () {
  this.timeout(20000);
  const tmp = tempDir('sockskit-nosplice-');
  after(() => tmp.cleanup());

  it("auto relays in JavaScript; 'on' throws SpliceUnavailableError naming npm run build:splice", async () => {
    const script = tmp.write('use.mjs', `
      const m = await import(${JSON.stringify(path.join(ROOT, 'dist/lib/index.js'))});
      console.log(JSON.stringify({ available: m.spliceAvailable() }));
      new m.SocksServer({ splice: 'auto' }).netServer.close();
      try { new m.SocksServer({ splice: 'on' }); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
    `);
    const r = await runProgram(process.execPath, [script], { env: cleanEnv({ SOCKSKIT_SPLICE_ADDON: path.join(tmp.dir, 'missing.node') }) });
    expect(r.code, r.stderr).to.equal(0);
    const [first, second] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(first).to.deep.equal({ available: false });
    expect(second).to.include({ name: 'SpliceUnavailableError', code: 'ERR_SOCKS_SPLICE_UNAVAILABLE' });
    expect(second.message).to.match(/npm run build:splice/);
  });
});
