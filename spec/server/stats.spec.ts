/** SocksServer.stats(): counters a metrics exporter can read. */
import { expect } from 'chai';
import net from 'node:net';
import { SocksServer, userpass } from '../../lib/index.js';
import { hex, waitFor } from '../support/helpers.js';
import { talk } from '../support/server.js';

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
      await waitFor(() => server.connections === 0, 2000, 'every connection closed');
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
