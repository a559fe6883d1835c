/**
 * udpAssociate binds its datagram socket before the request and announces
 * that real address and port, so the relay accepts datagrams only from it: a
 * datagram from another port of the same host cannot pin the association.
 */
import { expect } from 'chai';
import { hex } from '../support/helpers.js';
import { startServer, Udp, udpEcho, portHex } from '../support/udp-bind.js';
import { udpAssociate } from '../../lib/client/udp.js';
import type { SocksAddress } from '../../lib/protocol/codec/address.js';

describe('udpAssociate announces its bound address and port', function () {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('DST of the UDP ASSOCIATE is the client socket (127.0.0.1:its port), not 0.0.0.0:0', async () => {
    let announced: SocksAddress | undefined;
    const s = await startServer({ onRequest: (ctx) => void (announced = ctx.request.destination) });
    cleanup.push(() => s.close());
    const u = await udpAssociate({ proxy: { host: '127.0.0.1', port: s.port } });
    cleanup.push(() => u.close());
    expect(announced).to.deep.equal({ type: 'ipv4', host: '127.0.0.1', port: u.address().port });
  });

  it('a datagram from another port of the client host sent first does not take over the association', async () => {
    const s = await startServer();
    cleanup.push(() => s.close());
    const target = await udpEcho();
    cleanup.push(() => target.close());
    const u = await udpAssociate({ proxy: { host: '127.0.0.1', port: s.port } });
    cleanup.push(() => u.close());
    const intruder = await Udp.open();
    cleanup.push(() => intruder.close());
    await intruder.send(Buffer.concat([hex(`00 00 00 01 7f 00 00 01 ${portHex(target.port)}`), Buffer.from('first!')]), u.relay.port);
    expect(await intruder.recv(300), 'the intruder got a reply').to.equal(undefined);
    const got = new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no datagram for the real client')), 3000);
      u.once('message', (data: Buffer) => {
        clearTimeout(t);
        resolve(data.toString());
      });
    });
    u.send('mine', target.port, '127.0.0.1');
    expect(await got).to.equal('echo:mine');
    expect(target.received.map(String)).to.deep.equal(['mine']);
  });
});
