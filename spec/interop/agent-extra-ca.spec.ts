/**
 * SocksAgent without `ca` uses Node's default trust store, which takes
 * NODE_EXTRA_CA_CERTS into account. Node reads that variable once at start,
 * so the client runs in a child node (this process hosts the proxy and the
 * origin); moved here from spec/client/agent.spec.ts so that unit specs
 * spawn nothing.
 */
import path from 'node:path';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { expect } from 'chai';
import { fixtureCerts } from '../support/certs.js';
import { httpsOrigin, type Origin } from '../support/web.js';
import { startServer } from '../support/udp-bind.js';
import { DIST } from '../support/paths.js';

describe('interop: SocksAgent and NODE_EXTRA_CA_CERTS (a child node)', function () {
  this.timeout(30000);
  let dir: string;
  let caFile: string;
  let secure: Origin;
  let proxy: Awaited<ReturnType<typeof startServer>>;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-agent-'));
    const certs = fixtureCerts();
    caFile = certs.ca;
    secure = await httpsOrigin(certs.leaf);
    proxy = await startServer();
  });
  after(async () => {
    await secure?.close();
    await proxy?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('without `ca`, the default trust store with NODE_EXTRA_CA_CERTS is used', async () => {
    const script = path.join(dir, 'extra-ca.mjs');
    const agentUrl = new URL(`file://${path.join(DIST, 'lib', 'client', 'agent.js')}`).href;
    writeFileSync(script, [
      `import https from 'node:https';`,
      `import { SocksAgent } from ${JSON.stringify(agentUrl)};`,
      `const agent = new SocksAgent({ proxy: 'socks5h://127.0.0.1:${proxy.port}' });`,
      `https.get('${secure.url}/extra', { agent }, (res) => { let b = ''; res.on('data', (c) => b += c); res.on('end', () => { console.log(b); agent.destroy(); }); })`,
      `  .on('error', (e) => { console.log('error ' + e.code); agent.destroy(); });`,
    ].join('\n'));
    const run = (env: NodeJS.ProcessEnv) => new Promise<string>((resolve) => {
      // Asynchronous: this process hosts the proxy and the origin.
      execFile(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, timeout: 10000 }, (_e, stdout) => resolve(stdout.trim()));
    });
    expect(await run({ NODE_EXTRA_CA_CERTS: caFile })).to.equal('GET /extra');
    expect(await run({})).to.match(/^error (UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER)/);
  });});
