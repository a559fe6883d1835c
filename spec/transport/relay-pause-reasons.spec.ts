/**
 * relay()'s rate throttle and its backpressure both stop reading one side;
 * neither may restart what the other stopped: a destination that drains
 * during a throttle pause does not let the tunnel run faster than its rate,
 * and the throttle's timer does not restart a reader whose destination is
 * still full (memory per tunnel would grow without bound).
 */
import { Duplex } from 'node:stream';
import { expect } from 'chai';
import { relay } from '../../lib/transport/relay.js';

/** A side the test feeds (push) and whose writes it sees: each write is finished by `finish` (at once by default). */
function side(o: { finish?: (cb: () => void) => void; writes?: { at: number; n: number }[] } = {}): Duplex {
  return new Duplex({
    read() {},
    // One byte of room: every write fills it, as a slow peer would.
    writableHighWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      o.writes?.push({ at: Date.now(), n: chunk.length });
      (o.finish ?? ((done) => setImmediate(done)))(() => cb());
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('relay(): throttle and backpressure pause a side for independent reasons', () => {
  it('a destination that drains during a throttle pause does not resume reading early', async () => {
    const writes: { at: number; n: number }[] = [];
    const a = side();
    const b = side({ writes });
    // Every read from a waits 300 ms, as a per-user rate would make it.
    relay(a, b, Buffer.alloc(0), { throttle: (way) => (way === 'up' ? 300 : 0) });
    const t0 = Date.now();
    a.push(Buffer.alloc(1000, 1));
    a.push(Buffer.alloc(1000, 2));
    try {
      // b drains within a tick of each write; the second chunk must still wait for the throttle.
      await sleep(150);
      expect(writes.length, 'written within 150 ms').to.equal(1);
      await sleep(350);
      expect(writes.length).to.equal(2);
      expect(writes[1]!.at - t0).to.be.at.least(290);
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it('the throttle timer does not resume a reader whose destination has not drained', async () => {
    const writes: { at: number; n: number }[] = [];
    const owed: (() => void)[] = [];
    const a = side();
    // b takes the first write and finishes none until the test says so.
    const b = side({ writes, finish: (cb) => owed.push(cb) });
    let reads = 0;
    relay(a, b, Buffer.alloc(0), { throttle: (way) => (way === 'up' && ++reads === 1 ? 50 : 0) });
    for (let i = 0; i < 4; i++) a.push(Buffer.alloc(1000, i));
    try {
      await sleep(200);
      // What relay() handed b: the first chunk alone (the rest would queue in b's memory).
      expect(b.writableLength, 'queued for a destination that never drained').to.equal(1000);
      expect(a.readableLength, 'still unread').to.equal(3000);
      // b drains: reading goes on.
      const deadline = Date.now() + 1000;
      while (writes.length < 4 && Date.now() < deadline) {
        owed.splice(0).forEach((cb) => cb());
        await sleep(10);
      }
      expect(writes.length).to.equal(4);
    } finally {
      a.destroy();
      b.destroy();
    }
  });
});
