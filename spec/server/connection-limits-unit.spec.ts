/**
 * ConnectionLimits by itself (no sockets opened: any Duplex stands for one):
 * counts, the eviction order, descriptors and users, now that each socket
 * carries its record instead of a Map keyed by sockets.
 */
import { expect } from 'chai';
import { PassThrough, type Duplex } from 'node:stream';
import { ConnectionLimits } from '../../lib/server/connection-limits.js';

const sock = (): Duplex => new PassThrough();

describe('ConnectionLimits (unit)', () => {
  it('counts admitted connections once each: a second admit or release of the same socket changes nothing', () => {
    const l = new ConnectionLimits({ descriptors: 100 });
    const a = sock();
    const b = sock();
    l.admit(a, '127.0.0.1', true);
    l.admit(a, '127.0.0.1', true);
    l.admit(b, '127.0.0.1', true);
    expect([l.open, l.descriptorsHeld, l.fromSource('127.0.0.1')]).to.deep.equal([2, 4, 2]);
    l.release(a);
    l.release(a);
    expect([l.open, l.descriptorsHeld, l.fromSource('127.0.0.1')]).to.deep.equal([1, 2, 1]);
    l.release(b);
    expect([l.open, l.descriptorsHeld, l.fromSource('127.0.0.1')]).to.deep.equal([0, 0, 0]);
  });

  it('evicts the connection longest in its handshake, never one whose handshake is over', () => {
    const l = new ConnectionLimits({ descriptors: 100 });
    const [a, b, c] = [sock(), sock(), sock()];
    for (const s of [a, b, c]) l.admit(s, '127.0.0.1', false);
    l.handshakeOver(a);
    expect(l.evictOldest()).to.equal(b);
    expect(l.open).to.equal(2);
    expect(l.evictOldest()).to.equal(c);
    expect(l.evictOldest()).to.equal(undefined);
    expect(l.open).to.equal(1);
    l.release(a);
    expect(l.open).to.equal(0);
  });

  it('charges descriptors against the budget (refused when it would not fit) and gives them back at release', () => {
    const l = new ConnectionLimits({ descriptors: 6 });
    const a = sock();
    l.admit(a, '127.0.0.1', false);
    expect(l.charge(a, 4, true)).to.equal(true);
    expect(l.descriptorsHeld).to.equal(6);
    expect(l.charge(a, 1, true)).to.equal(false);
    expect(l.full(undefined)).to.equal(true);
    l.release(a);
    expect([l.descriptorsHeld, l.full(undefined)]).to.deep.equal([0, false]);
  });

  it('a socket admitted by one ConnectionLimits is unknown to another', () => {
    const one = new ConnectionLimits({ descriptors: 100 });
    const two = new ConnectionLimits({ descriptors: 100 });
    const a = sock();
    one.admit(a, '127.0.0.1', false);
    two.release(a);
    two.handshakeOver(a);
    expect(two.charge(a, 50, true)).to.equal(true);
    expect([one.open, one.descriptorsHeld, two.open, two.descriptorsHeld]).to.deep.equal([1, 2, 0, 0]);
    expect(one.evictOldest()).to.equal(a);
  });

  it('per-user counts come back when the admitted connection is released', () => {
    const l = new ConnectionLimits({ descriptors: 100 });
    const [a, b] = [sock(), sock()];
    l.admit(a, '127.0.0.1', false);
    l.admit(b, '127.0.0.1', false);
    expect(l.admitUser(a, 'alice', 1)).to.equal(true);
    expect(l.admitUser(b, 'alice', 1)).to.equal(false);
    l.release(a);
    expect(l.admitUser(b, 'alice', 1)).to.equal(true);
  });
});
