/** A datagram the relay cannot send (DST.PORT 0, an unroutable address) is dropped; the process and the association survive. */
import { expect } from 'chai';
import { hex } from '../support/helpers.js';
import { startServer, udpEcho, portHex, openAssociation } from '../support/udp-bind.js';
import { tripwireEachTest, settle } from '../support/tripwire.js';

function dgram4(port: number, data: string, ip = '7f 00 00 01'): Buffer {
  return Buffer.concat([hex(`00 00 00 01 ${ip} ${portHex(port)}`), Buffer.from(data)]);
}

describe('UDP relay: send errors are dropped datagrams, never a crash', function () {
  const cleanup: (() => unknown)[] = [];
  const trip = tripwireEachTest();
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function associate() {
    const s = await startServer();
    cleanup.push(() => s.close());
    const { c, relay, cl } = await openAssociation(s.port, cleanup);
    const target = await udpEcho();
    cleanup.push(() => target.close());
    return { c, relay, cl, target };
  }

  it('a datagram to DST.PORT 0 is dropped and the association still relays', async () => {
    const { c, relay, cl, target } = await associate();
    await cl.send(dgram4(0, 'port zero'), relay);
    await settle(100);
    expect(trip.errors, 'process-level errors').to.deep.equal([]);
    await cl.send(dgram4(target.port, 'after'), relay);
    const got = await cl.recv();
    expect(got?.msg.subarray(10).toString()).to.equal('echo:after');
    expect(c.closed).to.equal(false);
  });

  it('a datagram to a name resolving to DST.PORT 0 is dropped too (the lookup path)', async () => {
    const s = await startServer({ lookup: ((_h: string, _o: unknown, cb: (e: null, a: string, f: number) => void) => cb(null, '127.0.0.1', 4)) as never });
    cleanup.push(() => s.close());
    const { relay, cl } = await openAssociation(s.port, cleanup);
    const name = Buffer.from('example.test');
    await cl.send(Buffer.concat([hex(`00 00 00 03 ${name.length.toString(16).padStart(2, '0')}`), name, hex('00 00'), Buffer.from('x')]), relay);
    await settle(100);
    expect(trip.errors).to.deep.equal([]);
  });
});
