/** sockskit-proxy: SIGUSR1 prints SocksServer.stats() as one JSON line. */
import { expect } from 'chai';
import net from 'node:net';
import { hex } from '../support/helpers.js';
import { PROGRAM } from '../support/paths.js';

function talk(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const t = setTimeout(() => c.destroy(), 3000);
    c.on('data', (d) => (got = Buffer.concat([got, d])));
    c.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
    c.on('error', reject);
    c.end(bytes);
  });
}

const until = async (f: () => boolean) => {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('sockskit-proxy SIGUSR1', () => {
  it('prints one JSON line of counters on stderr', async function () {
    this.timeout(10000);
    const { spawn } = await import('node:child_process');
    const proxy = PROGRAM.proxy;
    const child = spawn(process.execPath, [proxy, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      await until(() => /listening on 127\.0\.0\.1:\d+/.test(err));
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(err)![1]);
      await talk(port, hex('05 01 02')); // no acceptable method: one error
      child.kill('SIGUSR1');
      await until(() => /stats \{.*\}\n/.test(err));
      const line = /sockskit-proxy: stats (\{.*\})\n/.exec(err);
      expect(line, err).to.not.equal(null);
      const stats = JSON.parse(line![1]!);
      expect(stats).to.deep.include({ accepted: 1, refused: 0, open: 0, tunnels: 0, handoffs: 0 });
      expect(stats.errors).to.deep.equal({ ERR_SOCKS_AUTH_FAILED: 1 });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
