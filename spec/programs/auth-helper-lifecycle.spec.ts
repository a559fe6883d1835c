/**
 * When sockskit-proxy runs its --auth-helper processes: only in a process
 * that serves (not under --check, not in the --workers primary), once its
 * configuration is built; a reload whose configuration fails to build leaves
 * the running pool serving, a good one moves to the new pool and ends the old.
 *
 * The helper is a shell script speaking Squid's basic-auth protocol (OK for
 * the password "right"); each process it starts leaves a marker file named
 * for its pid, holding its parent's pid.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hex } from '../support/helpers.js';
import { RawClient, waitFor } from '../support/server.js';
import { cleanEnv, listeningPort, runProgram, spawnDaemon, stopAll, tempDir } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';

const HELPER = `#!/bin/sh
echo "$PPID" > "$1/started.$$"
while read -r user pass; do
  if [ "$pass" = right ]; then echo OK; else echo ERR; fi
done
`;

/** pid of each helper process started so far -> its parent's pid. */
function started(dir: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of readdirSync(dir)) {
    const m = /^started\.(\d+)$/.exec(f);
    const parent = m && readFileSync(`${dir}/${f}`, 'utf8').trim();
    if (m && parent) out.set(Number(m[1]), Number(parent));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function login(port: number, user: string, pass: string): Promise<Buffer> {
  const c = await RawClient.connect(port);
  try {
    c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)]));
    await c.read(2, 10000);
    return await c.read(2, 10000);
  } finally {
    c.destroy();
  }
}

describe('sockskit-proxy: when the --auth-helper processes run', function () {
  this.timeout(60000);
  const tmp = tempDir('sockskit-helper-life-');
  let n = 0;
  /** A fresh marker directory and the --auth-helper value that writes into it. */
  function helper(): { dir: string; flag: string } {
    const dir = `${tmp.dir}/markers${++n}`;
    mkdirSync(dir);
    return { dir, flag: `/bin/sh ${tmp.write('helper.sh', HELPER)} ${dir}` };
  }
  afterEach(() => stopAll());
  after(() => tmp.cleanup());

  it('a reload whose configuration fails to build keeps the running pool; a good one starts the new pool and ends the old', async () => {
    const h = helper();
    const base = `auth-helper: ${JSON.stringify(h.flag)}\nauth-helper-ttl: 0\nauth-helper-negative-ttl: 0\nauth-helper-timeout: 1000\naccess-log: "off"\n`;
    const conf = tmp.write('proxy.yaml', `${base}auth-helper-children: 1\n`);
    const d = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--config', conf], { env: cleanEnv() });
    const port = await listeningPort(d);
    expect(await login(port, 'alice', 'right')).to.deep.equal(hex('01 00'));
    expect(await login(port, 'alice', 'wrong')).to.deep.equal(hex('01 01'));
    const first = [...started(h.dir).keys()];
    expect(first).to.have.length(1);
    // Another helper setting (the pool would be replaced) and a rule that cannot be read: the build fails late.
    writeFileSync(conf, `${base}auth-helper-children: 2\nrules:\n  - action: explode\n`);
    d.child.kill('SIGHUP');
    await waitFor(() => /reload failed/.test(d.output()), 5000, 'the failed reload');
    expect(await login(port, 'bob', 'right'), d.output()).to.deep.equal(hex('01 00'));
    expect([...started(h.dir).keys()], 'no helper started for a configuration that failed').to.deep.equal(first);
    expect(alive(first[0]!)).to.equal(true);
    // A good reload: two new helpers; the old one ends.
    writeFileSync(conf, `${base}auth-helper-children: 2\n`);
    d.child.kill('SIGHUP');
    await waitFor(() => /configuration reloaded/.test(d.output()), 5000, 'the reload');
    await waitFor(() => started(h.dir).size === 3, 5000, 'the new pool');
    expect(await login(port, 'carol', 'right'), d.output()).to.deep.equal(hex('01 00'));
    await waitFor(() => !alive(first[0]!), 5000, 'the old helper to end');
  });

  it('--check starts no helper process', async () => {
    const h = helper();
    const r = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--auth-helper', h.flag]);
    expect(r.code, r.stderr).to.equal(0);
    // Long enough for a helper started in the background to have written its marker.
    await new Promise((res) => setTimeout(res, 300));
    expect(started(h.dir).size).to.equal(0);
  });

  it('--workers 2: each worker starts its pool when it serves; the primary starts none', async () => {
    const h = helper();
    const d = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--workers', '2', '--auth-helper', h.flag, '--auth-helper-children', '1', '--access-log', 'off'], { env: cleanEnv() });
    await listeningPort(d);
    await waitFor(() => (d.output().match(/listening on/g) ?? []).length === 2, 20000, 'both workers');
    const workers = [...d.output().matchAll(/\(worker \d+, pid (\d+)\)/g)].map((m) => Number(m[1]));
    await waitFor(() => started(h.dir).size === 2, 5000, `a helper per worker (${d.output()})`);
    const parents = [...started(h.dir).values()].sort();
    expect(parents).to.deep.equal([...workers].sort());
    expect(parents).to.not.include(d.child.pid);
  });
});
