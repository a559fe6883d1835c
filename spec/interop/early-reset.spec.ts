/**
 * A client that resets before the server's accept callback runs (a python3
 * child connects and resets while this process is blocked in spawnSync):
 * its access-log record must not invent an address. A child process, so it
 * lives with the interop specs.
 */
import { expect } from 'chai';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { SocksServer, formatText, type ConnectionRecord } from '../../lib/index.js';
import { waitFor } from '../support/server.js';

describe('access log: a reset before accept', () => {
  it('a client whose reset arrives before the accept callback is not logged as client=0.0.0.0:0', async function () {
    // The child connects and resets while this process is blocked in spawnSync: the server accepts a connection already reset.
    const server = new SocksServer({});
    const recs: ConnectionRecord[] = [];
    server.on('connectionEnd', (r: ConnectionRecord) => recs.push(r));
    server.on('clientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const script = `import socket,struct\ns=socket.create_connection(('127.0.0.1',${port}))\ns.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0))\ns.close()\n`;
      const r = spawnSync('python3', ['-c', script], { timeout: 5000 });
      if (r.error) this.skip();
      await waitFor(() => recs.length === 1, 3000, 'the record');
      expect(recs[0]!.client).to.not.equal('0.0.0.0:0');
      expect(formatText(recs[0]!)).to.not.include('0.0.0.0:0');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
