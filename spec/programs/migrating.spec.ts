/**
 * Runs every `js run` block of docs/migrating.md as an ES module inside
 * the package (so `import ... from 'sockskit'` resolves to this build),
 * against local proxies with username/password, a TCP echo target and http
 * and https origins (CA from openssl, given through NODE_EXTRA_CA_CERTS).
 * Each snippet must exit 0, print what came back, and have gone through the
 * proxy (its tunnel counter).
 */
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { userpass } from '../../methods/userpass.js';
import { ROOT, DIST } from '../support/paths.js';
import { requireProgram, echoServer } from '../support/interop.js';
import { makeCerts } from '../support/certs.js';
import { httpOrigin, httpsOrigin, type Origin } from '../support/web.js';
import { startServer } from '../support/udp-bind.js';

/** The runnable blocks: fenced with the info string `js run`. */
export function runnableBlocks(markdown: string): string[] {
  const out: string[] = [];
  const re = /^```js run\n([\s\S]*?)^```$/gm;
  for (let m; (m = re.exec(markdown)); ) out.push(m[1]!);
  return out;
}

describe('docs/migrating.md: every sockskit snippet runs', function () {
  this.timeout(30000);
  const blocks = runnableBlocks(readFileSync(path.join(ROOT, 'docs', 'migrating.md'), 'utf8'));
  const snippetDir = path.join(DIST, 'docs-snippets');
  let certDir: string;
  let caFile: string;
  let web: Origin;
  let secure: Origin;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let first: Awaited<ReturnType<typeof startServer>>;
  let second: Awaited<ReturnType<typeof startServer>>;

  before(async function () {
    requireProgram(this, 'openssl');
    certDir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-migrating-'));
    const certs = makeCerts(certDir);
    caFile = certs.ca;
    web = await httpOrigin();
    secure = await httpsOrigin(certs.leaf);
    echo = await echoServer();
    first = await startServer({ methods: [userpass({ users: { user: 'pass' } })] });
    second = await startServer();
    mkdirSync(snippetDir, { recursive: true });
  });
  after(async () => {
    await web?.close();
    await secure?.close();
    await echo?.close();
    await first?.close();
    await second?.close();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
    rmSync(snippetDir, { recursive: true, force: true });
  });

  it('the doc has the four sockskit snippets', () => {
    expect(blocks.length).to.equal(4);
  });

  const expected = [
    /^hello through one proxy\n$/,
    /^hello through two proxies\n$/,
    /^GET \/\nGET \/\n$/,
    /^200 GET \/\n$/,
  ];
  for (let i = 0; i < 4; i++) {
    it(`snippet ${i + 1}`, async () => {
      const file = path.join(snippetDir, `snippet-${i + 1}.mjs`);
      writeFileSync(file, blocks[i]!);
      const before = first.server.stats().tunnels;
      const env = {
        PATH: process.env.PATH,
        SOCKS_PROXY: `socks5h://user:pass@127.0.0.1:${first.port}`,
        SOCKS_PROXY_2: `socks5h://127.0.0.1:${second.port}`,
        TARGET_HOST: '127.0.0.1',
        TARGET_PORT: String(echo.port),
        HTTP_URL: `${web.url}/`,
        HTTPS_URL: `${secure.url}/`,
        NODE_EXTRA_CA_CERTS: caFile,
      };
      const r = await new Promise<{ err: Error | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [file], { env, timeout: 15000 }, (err, stdout, stderr) => resolve({ err, stdout, stderr }));
      });
      expect(r.err, r.stderr).to.equal(null);
      expect(r.stdout).to.match(expected[i]!);
      expect(first.server.stats().tunnels, 'through the proxy').to.be.greaterThan(before);
    });
  }
});
