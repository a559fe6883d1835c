/** sockskit-proxy: SIGUSR1 prints SocksServer.stats() as one JSON line. */
import { expect } from 'chai';
import { hex } from '../support/helpers.js';
import { talk } from '../support/server.js';
import { PROGRAM } from '../support/paths.js';
import { startProgram } from '../support/interop.js';

describe('sockskit-proxy SIGUSR1', () => {
  it('prints one JSON line of counters on stderr', async function () {
    this.timeout(20000);
    const proxy = startProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0']);
    try {
      const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10000))[1]);
      await talk(port, hex('05 01 02')); // no acceptable method: one error
      proxy.child.kill('SIGUSR1');
      const line = await proxy.waitFor(/sockskit-proxy: stats (\{.*\})\n/, 5000);
      const stats = JSON.parse(line[1]!);
      expect(stats).to.deep.include({ accepted: 1, refused: 0, open: 0, tunnels: 0, handoffs: 0 });
      expect(stats.errors).to.deep.equal({ ERR_SOCKS_AUTH_FAILED: 1 });
    } finally {
      proxy.kill();
    }
  });
});
