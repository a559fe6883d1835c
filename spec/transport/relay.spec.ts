/**
 * relay() and encapsulate() (lib/transport) over socket-like Duplexes:
 * they flush before closing, follow an end that came early, and destroy a
 * side that cannot flush lingerTimeout after the other closed cleanly.
 */
import { Duplex } from 'node:stream';
import { expect } from 'chai';
import { relay } from '../../lib/transport/relay.js';
import { encapsulate } from '../../lib/transport/encapsulation-stream.js';
import { waitFor } from '../support/helpers.js';
import { slowSocket } from '../support/harness.js';

describe('relay() and encapsulate() flush before closing', () => {
  it('relay: the other side closing cleanly does not discard bytes still being written', async () => {
    const toClient: Buffer[] = [];
    const client = slowSocket(toClient); // slow to write to (a slow reader behind it)
    const upstream = slowSocket([], 0);
    relay(client, upstream, Buffer.alloc(0));
    client.push(null); // the client half-closes after its request
    upstream.push(Buffer.from('the reply'));
    upstream.push(null); // the destination answers and ends
    await waitFor(() => client.destroyed && upstream.destroyed, 3000, 'both sides closed');
    expect(Buffer.concat(toClient).toString()).to.equal('the reply');
  });

  it('encapsulate: end() finishes only after the inner stream has flushed', async () => {
    const wire: Buffer[] = [];
    const inner = slowSocket(wire);
    const identity = { wrap: (b: Buffer) => Buffer.concat([Buffer.from('['), b, Buffer.from(']')]), unwrap: (b: Buffer) => b, pending: 0 };
    const outer = encapsulate(inner, identity);
    outer.resume();
    inner.push(null); // the peer has ended
    outer.end('last words');
    await waitFor(() => outer.destroyed && inner.destroyed, 3000, 'both closed');
    expect(Buffer.concat(wire).toString()).to.equal('[last words]');
  });
});

describe('encapsulate() over a stream that already ended', () => {
  it('the wrapper ends too (a FIN that came during the handshake)', async () => {
    const inner = new Duplex({ allowHalfOpen: true, read() {}, write(_c, _e, cb) { cb(); } });
    inner.push(null);
    inner.resume();
    await new Promise((r) => inner.once('end', r));
    const outer = encapsulate(inner, { wrap: (b: Buffer) => b, unwrap: (b: Buffer) => b, pending: 0 });
    let ended = false;
    outer.on('end', () => (ended = true));
    outer.resume();
    await waitFor(() => ended, 2000, 'the wrapper to end');
  });
});

describe('relay linger (a peer that never reads)', () => {
  it('relay: once one side closed cleanly, the other is destroyed lingerTimeout later if it cannot flush', async () => {
    // Writes never complete: the peer behind this side never reads.
    const stuck = new Duplex({ allowHalfOpen: true, read() {}, write() {} });
    const upstream = slowSocket([], 0);
    relay(stuck, upstream, Buffer.alloc(0), { lingerTimeout: 200 });
    stuck.push(null); // the client half-closes after its request
    upstream.push(Buffer.from('the reply'));
    upstream.push(null); // the destination answers and ends
    await waitFor(() => upstream.destroyed, 3000, 'the upstream to close cleanly');
    const t0 = Date.now();
    await waitFor(() => stuck.destroyed, 3000, 'the stuck side to be destroyed after the linger');
    expect(Date.now() - t0).to.be.within(100, 2000);
  });
});
