/**
 * A slow identd must not outlast the handshake deadline: the lookup ends
 * first, so the SOCKS4 client gets the documented 5C (92) instead of a silent
 * close.
 */
import { expect } from 'chai';
import net from 'node:net';
import { hex, toHex } from '../support/helpers.js';
import { startServer, Conn } from '../support/udp-bind.js';
import { identSocks4 } from '../../methods/ident/index.js';

describe('ident lookup ends before the handshake deadline', function () {
  it('identd that accepts and never answers, handshakeTimeout 1500: SOCKS4 gets 00 5C before the deadline', async () => {
    const sockets: net.Socket[] = [];
    const identd = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => identd.listen(0, '127.0.0.1', () => r()));
    const identPort = (identd.address() as net.AddressInfo).port;
    const s = await startServer({ handshakeTimeout: 1500, socks4Identify: identSocks4({ mode: 'verify', port: identPort }) });
    try {
      const c = await Conn.open(s.port);
      const t0 = Date.now();
      c.write(hex('04 01 00 50 7f 00 00 01 75 00'));
      const reply = await c.read(8, 3000);
      expect(toHex(reply)).to.equal('00 5c 00 00 00 00 00 00');
      expect(Date.now() - t0, 'answered before the deadline').to.be.below(1500);
      expect(sockets.length, 'identd was asked').to.equal(1);
      c.destroy();
    } finally {
      await s.close();
      for (const x of sockets) x.destroy();
      identd.close();
    }
  });
});
