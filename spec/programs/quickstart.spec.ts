/**
 * The quickstarts, run as written: the README's Quick start (`npm start`,
 * then its curl block under bash, as in a second terminal), the README's
 * wallet quickstart and docs/electrum.md's gateway and connector commands,
 * with the programs on PATH the way the README's Install section puts them
 * there (`npm install -g .`, into a temporary prefix, offline) and a
 * stand-in Electrum server on 127.0.0.1:50001 for electrs. HOME is a
 * temporary directory, so `~/...cookie` files land there. The commands use
 * the documented fixed ports (1080, 8080, 50001, 50011, 3060): one of them
 * taken on this machine fails the spec with a clear message.
 */
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ROOT } from '../support/paths.js';
import { runProgram, tempDir, cleanEnv, requireProgram } from '../support/interop.js';
import { startStandIn, type StandIn } from '../support/electrum.js';
import { waitFor } from '../support/helpers.js';

/** The fenced blocks (```sh or ```) after `heading` and before the next heading. */
function blocksUnder(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`${heading}\n`);
  expect(start, heading).to.be.at.least(0);
  const rest = markdown.slice(start + heading.length + 1);
  const section = rest.slice(0, rest.search(/^#{1,4} /m) === -1 ? undefined : rest.search(/^#{1,4} /m));
  return [...section.matchAll(/^```(?:sh)?\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** The commands of a block: comment lines and blank lines dropped, `\` continuations kept for sh. */
function commands(block: string): string[] {
  return block.replace(/\\\n/g, '\\\n').split(/(?<!\\)\n/).map((c) => c.replace(/\s+#.*$/, '').trim()).filter((c) => c && !c.startsWith('#'));
}

interface Running {
  child: ChildProcess;
  out: () => string;
  stop: () => Promise<void>;
}

/** A long-running command under `shell`, in its own process group (npm start has a child). */
function background(shell: string, command: string, cwd: string, env: NodeJS.ProcessEnv): Running {
  const child = spawn(shell, ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    out: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          // already gone
        }
        const t = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

describe('the quickstarts as written (README, docs/electrum.md)', function () {
  this.timeout(120_000);
  const tmp = tempDir('sockskit-quickstart-');
  const home = path.join(tmp.dir, 'home');
  const prefix = path.join(tmp.dir, 'prefix');
  let env: NodeJS.ProcessEnv;
  const running: Running[] = [];
  let standIn: StandIn | undefined;
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const electrumDoc = readFileSync(path.join(ROOT, 'docs', 'electrum.md'), 'utf8');

  before(async () => {
    env = cleanEnv({ HOME: home, npm_config_prefix: prefix, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });
    await runProgram('mkdir', ['-p', home, prefix]);
    // The Install section's second command, in this checkout (the first, `npm install`, is what built it).
    const install = commands(blocksUnder(readme, '## Install')[0]!);
    expect(install).to.deep.equal(['npm install', 'npm install -g .']);
    const r = await runProgram('sh', ['-c', `cd "$0" && ${install[1]}`, ROOT], { timeout: 120_000, env });
    expect(r.code, r.stderr).to.equal(0);
    env.PATH = `${path.join(prefix, 'bin')}:${process.env.PATH}`;
  });
  afterEach(async () => {
    for (const p of running.splice(0)) await p.stop();
    await standIn?.close();
    standIn = undefined;
  });
  after(() => tmp.cleanup());

  it('README Install: `npm install -g .` puts the five programs on PATH', async () => {
    for (const name of ['sockskit-proxy', 'sockskit-connect', 'sockskit-electrum-gateway', 'sockskit-electrum', 'sockskit-keys']) {
      const r = await runProgram('sh', ['-c', `${name} --help`], { env, timeout: 30_000 });
      expect(r.code, `${name}: ${r.stderr}`).to.equal(0);
    }
  });

  it('README Install: `npx sockskit-proxy --help` runs the program from the clone (offline: nothing fetched)', async () => {
    expect(readme).to.include('`npx sockskit-proxy --help`');
    const r = await runProgram('sh', ['-c', 'cd "$0" && npx sockskit-proxy --help', ROOT], { env, timeout: 60_000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^Usage: sockskit-proxy/);
  });

  it('README Quick start: npm start, then the curl block in a second (bash) terminal', async function () {
    requireProgram(this, 'curl');
    const [first, second] = blocksUnder(readme, '## Quick start');
    const start = commands(first!);
    expect(start).to.deep.equal(['npm install', 'npm start']);
    const proxy = background('sh', `exec ${start[1]}`, ROOT, env);
    running.push(proxy);
    await waitFor(() => /listening on 127\.0\.0\.1:1080/.test(proxy.out()) || proxy.child.exitCode !== null, 20_000, 'sockskit-proxy listening on 1080').catch(() => {});
    expect(proxy.out(), 'npm start').to.match(/listening on 127\.0\.0\.1:1080/);
    const r = await runProgram('bash', ['-c', second!], { env, timeout: 30_000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('hello through sockskit\n');
  });

  it('README wallet quickstart: the gateway, then sockskit-electrum call server.version through it', async () => {
    standIn = await startStandIn({ port: 50001 });
    const [gatewayBlock, checkBlock] = blocksUnder(readme, '#### Wallet quickstart (Electrum)');
    const [gateway] = commands(gatewayBlock!);
    expect(gateway).to.match(/^sockskit-electrum-gateway --backend 127\.0\.0\.1:50001 /);
    const g = background('sh', `exec ${gateway}`, home, env);
    running.push(g);
    await waitFor(() => /listening on 127\.0\.0\.1:50011/.test(g.out()) || g.child.exitCode !== null, 20_000, 'the gateway listening').catch(() => {});
    expect(g.out()).to.match(/listening on 127\.0\.0\.1:50011/);
    const token = readFileSync(path.join(home, '.sockskit-gateway.cookie'), 'utf8').trim();
    expect(g.out()).to.include(token);
    const [check] = commands(checkBlock!);
    const r = await runProgram('sh', ['-c', check!], { env, timeout: 30_000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(['stand-in 1.0', '1.4']);
    expect(standIn.received.some((l) => l.includes('server.version'))).to.equal(true);
  });

  it('docs/electrum.md: the gateway command, the connector\'s call, and the status page with curl', async function () {
    requireProgram(this, 'curl');
    standIn = await startStandIn({ port: 50001 });
    const [gateway] = commands(blocksUnder(electrumDoc, '## `sockskit-electrum-gateway`')[0]!);
    expect(gateway).to.include('--http 127.0.0.1:3060');
    const g = background('sh', `exec ${gateway}`, home, env);
    running.push(g);
    await waitFor(() => /listening on 127\.0\.0\.1:50011/.test(g.out()) || g.child.exitCode !== null, 20_000, 'the gateway listening').catch(() => {});
    expect(g.out()).to.match(/listening on 127\.0\.0\.1:50011/);
    const [call] = commands(blocksUnder(electrumDoc, '## `sockskit-electrum` (connector)')[0]!);
    expect(call).to.equal('sockskit-electrum --server 127.0.0.1:50011 --token-file ~/.sockskit-electrum.cookie call server.version');
    const r = await runProgram('sh', ['-c', call!], { env, timeout: 30_000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(['stand-in 1.0', '1.4']);
    // The --http bullet's curl line, with the token in place of TOKEN.
    const curl = /`(curl -u :TOKEN http:\/\/127\.0\.0\.1:3060\/)`/.exec(electrumDoc)![1]!;
    const token = readFileSync(path.join(home, '.sockskit-electrum.cookie'), 'utf8').trim();
    const status = await runProgram('sh', ['-c', curl.replace('TOKEN', token)], { env, timeout: 30_000 });
    expect(status.code, status.stderr).to.equal(0);
    expect(JSON.parse(status.stdout)).to.have.property('connections');
  });
});
