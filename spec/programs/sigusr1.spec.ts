/**
 * kill -USR1 must not open Node's inspector (127.0.0.1:9229, where any local
 * user could attach and read the token): every long-running program installs
 * its own SIGUSR1 handler and survives the signal. The proxy and the gateway
 * print their counters as one JSON line.
 */
import { expect } from 'chai';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { PROGRAM } from '../support/paths.js';
import { cleanEnv, tempDir } from '../support/interop.js';
import { generateToken } from '../../lib/electrum/token.js';

const INSPECTOR = 9229;

function listening(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), r(true)));
    s.on('error', () => r(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SIGUSR1 on the programs never opens the inspector', function () {
  this.timeout(30000);
  const tmp = tempDir('sockskit-usr1-');
  after(() => tmp.cleanup());

  const token = generateToken();
  const programs: { name: string; args: () => string[]; ready: RegExp; stats?: RegExp }[] = [
    { name: 'sockskit-proxy', args: () => [PROGRAM.proxy, '--listen', '127.0.0.1:0'], ready: /listening on/, stats: /sockskit-proxy: stats \{.*\}\n/ },
    {
      name: 'sockskit-electrum-gateway',
      args: () => [PROGRAM.electrumGateway, '--listen', '127.0.0.1:0', '--backend', '127.0.0.1:1', '--auth-token', token],
      ready: /listening on/,
      stats: /sockskit-electrum-gateway: stats \{.*"open":0.*\}\n/,
    },
    { name: 'sockskit-connect -L', args: () => [PROGRAM.connect, '--proxy', 'socks5://127.0.0.1:1', '-L', '127.0.0.1:0', '127.0.0.1', '1'], ready: /listening on/ },
    {
      name: 'sockskit-electrum bridge',
      args: () => [PROGRAM.electrumConnect, '--server', '127.0.0.1:1', '--token', token, 'bridge', '--listen', '127.0.0.1:0'],
      ready: /bridge listening on/,
    },
  ];

  for (const p of programs) {
    it(`${p.name}: survives SIGUSR1, no inspector${p.stats ? ', prints its counters as one JSON line' : ''}`, async function () {
      if (await listening(INSPECTOR)) this.skip(); // something else holds 9229: the check would prove nothing
      const child = spawn(process.execPath, p.args(), { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      try {
        const t0 = Date.now();
        while (!p.ready.test(err) && child.exitCode === null && Date.now() - t0 < 5000) await sleep(20);
        expect(err, 'started').to.match(p.ready);
        child.kill('SIGUSR1');
        await sleep(500);
        expect(child.exitCode, err).to.equal(null);
        expect(err, err).to.not.match(/Debugger listening|inspector/i);
        expect(await listening(INSPECTOR), 'something listens on 9229').to.equal(false);
        if (p.stats) {
          expect(err).to.match(p.stats);
          const json = /stats (\{.*\})\n/.exec(err)![1]!;
          expect(() => JSON.parse(json)).to.not.throw();
        }
      } finally {
        if (child.exitCode === null) {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          await gone;
        }
      }
    });
  }
});
