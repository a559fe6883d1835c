/**
 * --workers after a failed reload: a worker that replaces a dead one runs the
 * configuration the primary runs (the files as they were when it was built),
 * not what is on disk now: no restart loop, the old users still get in.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { hex } from '../support/helpers.js';
import { RawClient, waitFor } from '../support/server.js';
import { cleanEnv, listeningPort, spawnDaemon, stopAll, tempDir } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';

describe('sockskit-proxy --workers: a replacement worker after a failed reload', function () {
  this.timeout(60000);
  const tmp = tempDir('sockskit-wreload-');
  after(async () => {
    await stopAll();
    tmp.cleanup();
  });

  async function login(port: number, user: string, pass: string): Promise<Buffer> {
    const c = await RawClient.connect(port);
    try {
      c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)]));
      await c.read(2);
      return await c.read(2);
    } finally {
      c.destroy();
    }
  }

  it('runs the configuration in force (not the broken files on disk) and is not restarted in a loop', async () => {
    const users = tmp.write('users', 'alice:wonderland\n');
    const conf = tmp.write('proxy.yaml', `users: ${users}\naccess-log: "off"\n`);
    const d = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--workers', '2', '--config', conf], { env: cleanEnv() });
    const port = await listeningPort(d);
    await waitFor(() => (d.output().match(/listening on/g) ?? []).length === 2, 20000, 'both workers');
    // A broken users file: the reload fails and the running configuration stays.
    writeFileSync(users, 'alice has no colon\n');
    d.child.kill('SIGHUP');
    await waitFor(() => /reload failed/.test(d.output()), 5000, 'the failed reload');
    const pid = Number(/\(worker 1, pid (\d+)\)/.exec(d.output())![1]);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => /worker 3, pid/.test(d.output()), 20000, 'a replacement worker to listen');
    // Long enough for a loop at one restart per 2 s to show.
    await new Promise((r) => setTimeout(r, 2500));
    expect((d.output().match(/exited/g) ?? []).length, d.output()).to.equal(1);
    for (let i = 0; i < 4; i++) expect(await login(port, 'alice', 'wonderland')).to.deep.equal(hex('01 00'));
  });
});
