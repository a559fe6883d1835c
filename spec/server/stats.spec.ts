/** SocksServer.stats(): counters a metrics exporter can read. */
import { expect } from 'chai';
import net from 'node:net';
import { SocksServer, userpass } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { PROGRAM } from '../support/paths.js';
import { talk } from '../support/server.js';

const until = async (f: () => boolean) => {
  for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe('SocksServer.stats()', () => {
  it('counts accepted connections, tunnels, hand-offs and errors by code', async () => {
    const target = net.createServer((s) => s.end('hi'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const tp = (target.address() as net.AddressInfo).port;
    const server = new SocksServer({
      methods: [userpass({ users: { alice: 's3cret' } })],
      onRequest(ctx) {
        if (ctx.request.destination.port === 1) ctx.handoff({ reply: 0 }).socket.destroy();
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const auth = hex('05 01 02 01 05 616c696365 06 733363726574');
      await talk(port, Buffer.concat([auth, hex('05 01 00 01 7f 00 00 01'), Buffer.from([tp >> 8, tp & 255])])); // tunnel
      await talk(port, Buffer.concat([auth, hex('05 01 00 01 7f 00 00 01 00 01')])); // hand-off
      await talk(port, hex('05 01 02 01 05 616c696365 05 77726f6e67')); // wrong password
      await talk(port, hex('05 01 00')); // no acceptable method
      await until(() => server.connections === 0);
      const s = server.stats();
      expect(s).to.deep.include({ accepted: 4, refused: 0, open: 0, tunnels: 1, handoffs: 1 });
      expect(s.errors).to.deep.equal({ ERR_SOCKS_AUTH_FAILED: 2 });
      // A snapshot: changing it changes nothing.
      s.errors.X = 1;
      expect(server.stats().errors).to.not.have.property('X');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      target.close();
    }
  });
});

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
