/**
 * server.close() with a tunnel, a BIND wait and a UDP association open:
 * every socket, listener and datagram socket is closed.
 */
import { expect } from 'chai';
import { encodeRequest } from '../../lib/protocol/codec/index.js';
import { hex, toHex, waitFor } from '../support/helpers.js';
import { startServer, target, client, drained, cleanup, connect5 } from '../support/harness.js';

describe('server.close() with everything open', () => {
  afterEach(cleanup);

  it('a tunnel, a BIND wait and a UDP association: every socket, listener and UDP socket is closed', async () => {
    const count = () => {
      const r = process.getActiveResourcesInfo();
      return r.filter((x) => x === 'TCPSocketWrap' || x === 'TCPServerWrap' || x === 'UDPWrap').length;
    };
    const t = await target((s) => s.pipe(s));
    const before = count();
    const { server, port } = await startServer();
    const tunnel = await client(port);
    tunnel.write(Buffer.concat([hex('05 01 00'), connect5(t.port)]));
    expect(toHex(await tunnel.read(12)).slice(0, 11)).to.equal('05 00 05 00');
    const bindc = await client(port);
    bindc.write(Buffer.concat([hex('05 01 00'), encodeRequest(2, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    expect(toHex(await bindc.read(12)).slice(0, 11)).to.equal('05 00 05 00');
    const udpc = await client(port);
    udpc.write(Buffer.concat([hex('05 01 00'), encodeRequest(3, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    expect(toHex(await udpc.read(12)).slice(0, 11)).to.equal('05 00 05 00');
    await new Promise<void>((r) => server.close(() => r()));
    await waitFor(() => [tunnel, bindc, udpc].every((c) => c.ended || c.closed), 3000, 'every client to see the close');
    for (const c of [tunnel, bindc, udpc]) c.destroy();
    await drained(server);
    await waitFor(() => count() <= before, 3000, `handles back to ${before} (have ${count()}: ${process.getActiveResourcesInfo().join(',')})`);
  });
});
