/**
 * A UDP association: its control connection ending early, its user checked
 * again only after a reconfigure, and the bound on name lookups a flood of
 * datagrams to one name may start.
 */
import dgram from 'node:dgram';
import { expect } from 'chai';
import { SocksServerOptions } from '../../lib/server/server.js';
import { encodeRequest, encodeUdpDatagram, makeAddress } from '../../lib/protocol/codec/index.js';
import { udpHandler } from '../../lib/server/commands/udp.js';
import { none } from '../../methods/none.js';
import { RawClient } from '../support/server.js';
import { hex, toHex, waitFor, sleep } from '../support/helpers.js';
import { LOCAL, startServer, client, drained, cleanup, extra } from '../support/harness.js';

describe('UDP ASSOCIATE control connection', () => {
  afterEach(cleanup);

  it('request and FIN in one write: the association ends like a FIN that comes later', async () => {
    const { server, port } = await startServer();
    const c = await client(port);
    c.socket.end(Buffer.concat([hex('05 01 00'), encodeRequest(3, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    const all = await c.readToEnd(3000);
    expect(toHex(all.subarray(0, 5))).to.equal('05 00 05 00 00');
    await drained(server);
  });
});

describe('UDP ASSOCIATE and methods(ctx)', () => {
  afterEach(cleanup);

  it('without a reconfigure the association does not ask methods(ctx) again (one call per connection)', async () => {
    let calls = 0;
    // A methods() that cannot answer a second time (its store went away): the accepted association must not care.
    const methods = () => {
      if (++calls > 1) throw new Error('policy store unavailable');
      return [none()];
    };
    const { port } = await startServer({ methods });
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00'), encodeRequest(3, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    expect(toHex((await c.read(12)).subarray(0, 4))).to.equal('05 00 05 00');
    await sleep(100);
    expect(c.closed || c.ended, 'the control connection was closed').to.equal(false);
    expect(calls).to.equal(1);
    c.destroy();
  });
});

describe('UDP relay domain lookups are bounded', () => {
  afterEach(cleanup);

  async function associate(port: number): Promise<{ c: RawClient; relayPort: number }> {
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00'), encodeRequest(3, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    const r = await c.read(12);
    expect(toHex(r.subarray(0, 4))).to.equal('05 00 05 00');
    return { c, relayPort: r.readUInt16BE(10) };
  }

  async function udpSocket(): Promise<dgram.Socket> {
    const u = dgram.createSocket('udp4');
    extra.push(() => u.close());
    await new Promise<void>((r) => u.bind(0, LOCAL, () => r()));
    return u;
  }

  async function flood(u: dgram.Socket, relayPort: number, dg: Buffer, n: number): Promise<void> {
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => new Promise<void>((r) => u.send(dg, relayPort, LOCAL, () => r()))));
      await new Promise((r) => setImmediate(r));
    }
  }

  for (const max of [undefined, 4]) {
    it(`1000 datagrams to a name whose lookup never answers start at most ${max ?? 'the default 16'} lookups (payloads held)`, async () => {
      let lookups = 0;
      const lookup = (() => {
        lookups++; // never answers: each started lookup holds one payload
      }) as unknown as SocksServerOptions['lookup'];
      const { server, port } = await startServer({ lookup, udp: udpHandler(max === undefined ? {} : { maxLookups: max }) });
      const { c, relayPort } = await associate(port);
      const u = await udpSocket();
      await flood(u, relayPort, encodeUdpDatagram(makeAddress('stuck.test', 9), Buffer.alloc(1024)), 1000);
      await waitFor(() => lookups > 0, 3000, 'the first lookup');
      await sleep(200);
      // None answers, so every lookup started still holds its datagram: this is the memory held.
      expect(lookups).to.equal(max ?? 16);
      c.destroy();
      await drained(server);
    });
  }

  it('a burst of datagrams to a name that resolves is relayed with one lookup (the answer is reused briefly)', async () => {
    let lookups = 0;
    const lookup = ((_h: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) => {
      lookups++;
      setTimeout(() => cb(null, LOCAL, 4), 5);
    }) as unknown as SocksServerOptions['lookup'];
    const sink = await udpSocket();
    let got = 0;
    sink.on('message', () => got++);
    const { server, port } = await startServer({ lookup });
    const { c, relayPort } = await associate(port);
    const u = await udpSocket();
    const dg = encodeUdpDatagram(makeAddress('sink.test', sink.address().port), Buffer.from('x'));
    // One first, so that the answer is known; then a burst.
    await flood(u, relayPort, dg, 1);
    await waitFor(() => got === 1, 3000, 'the first datagram');
    await flood(u, relayPort, dg, 200);
    await waitFor(() => got >= 150, 3000, `most of the burst (have ${got})`);
    expect(lookups).to.equal(1);
    c.destroy();
    await drained(server);
  });
});
