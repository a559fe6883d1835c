/** A datagram the relay cannot send (DST.PORT 0, an unroutable address) is dropped; the process and the association survive. */
import { expect } from 'chai';
import { hex, toHex } from '../support/helpers.js';
import { startServer, Conn, Udp, udpEcho, portHex } from '../support/udp-bind.js';
import { armTripwire, settle, Tripwire } from '../support/tripwire.js';

function dgram4(port: number, data: string, ip = '7f 00 00 01'): Buffer {
  return Buffer.concat([hex(`00 00 00 01 ${ip} ${portHex(port)}`), Buffer.from(data)]);
}

describe('UDP relay: send errors are dropped datagrams, never a crash', function () {
  const cleanup: (() => unknown)[] = [];
  let trip: Tripwire;
  beforeEach(() => {
    trip = armTripwire();
  });
  afterEach(async () => {
    trip.disarm();
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function associate() {
    const s = await startServer();
    cleanup.push(() => s.close());
    const c = await Conn.open(s.port);
    cleanup.push(() => c.destroy());
    c.write(hex('05 01 00   05 03 00 01 00 00 00 00 00 00'));
    expect(toHex(await c.read(2))).to.equal('05 00');
    const reply = await c.read(10);
    const cl = await Udp.open();
    cleanup.push(() => cl.close());
    const target = await udpEcho();
    cleanup.push(() => target.close());
    return { c, relay: reply.readUInt16BE(8), cl, target };
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
    const c = await Conn.open(s.port);
    cleanup.push(() => c.destroy());
    c.write(hex('05 01 00   05 03 00 01 00 00 00 00 00 00'));
    await c.read(2);
    const relay = (await c.read(10)).readUInt16BE(8);
    const cl = await Udp.open();
    cleanup.push(() => cl.close());
    const name = Buffer.from('example.test');
    await cl.send(Buffer.concat([hex(`00 00 00 03 ${name.length.toString(16).padStart(2, '0')}`), name, hex('00 00'), Buffer.from('x')]), relay);
    await settle(100);
    expect(trip.errors).to.deep.equal([]);
  });
});
