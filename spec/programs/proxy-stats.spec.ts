/** sockskit-proxy: SIGUSR1 prints SocksServer.stats() as one JSON line. */
import { expect } from 'chai';
import { hex, waitFor } from '../support/helpers.js';
import { talk } from '../support/server.js';
import { PROGRAM } from '../support/paths.js';

describe('sockskit-proxy SIGUSR1', () => {
  it('prints one JSON line of counters on stderr', async function () {
    this.timeout(10000);
    const { spawn } = await import('node:child_process');
    const proxy = PROGRAM.proxy;
    const child = spawn(process.execPath, [proxy, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    try {
      await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(err), 10000, 'the listening line');
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(err)![1]);
      await talk(port, hex('05 01 02')); // no acceptable method: one error
      child.kill('SIGUSR1');
      await waitFor(() => /stats \{.*\}\n/.test(err), 5000, 'the stats line');
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
