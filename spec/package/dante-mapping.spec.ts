/**
 * docs/operations.md, "From Dante's sockd.conf": every YAML block of that
 * section is a config file sockskit-proxy --check accepts, and the one marked
 * `# end-to-end` serves real traffic (user alice passes, a blocked port gets
 * REP 02, an unauthenticated client gets no method).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, type Target } from '../support/server.js';
import { cleanEnv, listeningPort, runProgram, spawnDaemon, stopAll, tempDir } from '../support/interop.js';
import { PROGRAM, ROOT } from '../support/paths.js';

/** The YAML blocks of the section, in order. */
export function danteSnippets(markdown: string): string[] {
  const start = markdown.indexOf("## From Dante's sockd.conf");
  if (start < 0) throw new Error('no "From Dante\'s sockd.conf" section');
  const rest = markdown.slice(start + 3);
  const section = rest.slice(0, rest.search(/\n## /) + 1 || undefined);
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe("docs/operations.md: From Dante's sockd.conf", function () {
  this.timeout(60000);
  const tmp = tempDir('sockskit-dante-map-');
  const snippets = danteSnippets(readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8'));
  let target: Target;
  before(async () => {
    target = await startTarget(echo);
  });
  after(async () => {
    await stopAll();
    await target.close();
    tmp.cleanup();
  });

  it('has the constructs an operator looks for, each with a YAML block', () => {
    const text = readFileSync(path.join(ROOT, 'docs', 'operations.md'), 'utf8');
    for (const word of ['internal:', 'external:', 'clientmethod', 'socksmethod', 'client pass', 'client block', 'socks pass', 'socks block', 'route {', 'logoutput', 'timeout.io', 'user.privileged']) {
      expect(text, word).to.include(word);
    }
    expect(snippets.length).to.be.at.least(7);
  });

  it('every block passes sockskit-proxy --check', async () => {
    for (const [i, yaml] of snippets.entries()) {
      const file = tmp.write(`dante-${i}.yaml`, yaml);
      const r = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--config', file], { env: cleanEnv() });
      expect(r.code, `block ${i}:\n${yaml}\n${r.stderr}`).to.equal(0);
      expect(r.stdout).to.equal('sockskit-proxy: configuration OK\n');
    }
  });

  it('the end-to-end block serves: alice in, port 9 blocked (02), no-auth refused', async () => {
    const yaml = snippets.find((s) => s.startsWith('# end-to-end'));
    expect(yaml, 'a block marked # end-to-end').to.be.a('string');
    const file = tmp.write('e2e.yaml', yaml!);
    const d = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--config', file, '--listen', '127.0.0.1:0'], { env: cleanEnv() });
    const port = await listeningPort(d);
    const request = (p: number) => Buffer.concat([hex('05 01 00 01 7f 00 00 01'), Buffer.from([p >> 8, p & 255])]);
    const login = hex('05 01 02 01 05'), creds = Buffer.concat([Buffer.from('alice'), hex('0a'), Buffer.from('wonderland')]);
    const c = await RawClient.connect(port);
    c.write(Buffer.concat([login, creds, request(target.port)]));
    expect(await c.read(4)).to.deep.equal(hex('05 02 01 00'));
    expect((await c.read(10))[1]).to.equal(0);
    c.write('through');
    expect((await c.read(7)).toString()).to.equal('through');
    c.destroy();
    const blocked = await RawClient.connect(port);
    blocked.write(Buffer.concat([login, creds, request(9)]));
    await blocked.read(4);
    expect((await blocked.read(10))[1]).to.equal(2);
    blocked.destroy();
    const anon = await RawClient.connect(port);
    anon.write(hex('05 01 00'));
    expect(await anon.read(2)).to.deep.equal(hex('05 ff'));
    anon.destroy();
  });
});
