/** The client's address is read at accept: a client that resets early is still logged and reported as itself, not 0.0.0.0:0. */
import { expect } from 'chai';
import net from 'node:net';
import { startServer } from '../support/udp-bind.js';
import { waitFor } from '../support/server.js';
import type { SocksAddress } from '../../lib/protocol/codec/address.js';
import type { SocksError } from '../../lib/protocol/errors.js';

describe('client address recorded at accept', function () {
  it('a bad greeting followed at once by a reset is reported to clientError with the real source', async () => {
    const s = await startServer();
    try {
      const seen: { err: SocksError; source: SocksAddress | undefined }[] = [];
      s.server.on('clientError', (err: SocksError, source: SocksAddress | undefined) => seen.push({ err, source }));
      const ports: number[] = [];
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve) => {
          const c = net.connect({ host: '127.0.0.1', port: s.port }, () => {
            ports.push(c.localPort!);
            c.write('GET / HTTP/1.0\r\n\r\n');
            c.resetAndDestroy();
          });
          c.on('error', () => {});
          c.on('close', () => resolve());
        });
      }
      await waitFor(() => seen.length >= 5 && s.server.connections === 0, 3000, 'five clientError events');
      expect(seen.map((e) => e.err.code)).to.deep.equal(Array(5).fill('ERR_SOCKS_BAD_VERSION'));
      expect(seen.map((e) => `${e.source?.host}:${e.source?.port}`)).to.deep.equal(ports.map((p) => `127.0.0.1:${p}`));
    } finally {
      await s.close();
    }
  });
});
