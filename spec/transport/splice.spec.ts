/**
 * The splice relay's own cases, on real socket pairs through relay():
 * destroying a side from outside lets go of the connections at once (the
 * addon's duplicate descriptors would keep them open), the idle timeout and
 * a reset end it as in JavaScript (counter.end). (Without the addon:
 * spec/programs/splice-unavailable.spec.ts.)
 */
import net from 'node:net';
import { expect } from 'chai';
import { relay, type RelayCounter } from '../../lib/transport/relay.js';
import { splicesStarted } from '../../lib/transport/spliced.js';
import { waitFor } from '../support/helpers.js';
import { requireSplice } from '../support/relay-paths.js';
import { cleanup, sockets, target, LOCAL } from '../support/relay.js';

/** [the relay's side, the test's side], accepted by a target on 127.0.0.1. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const t = await target();
  const out = net.connect({ host: LOCAL, port: t.port, allowHalfOpen: true });
  sockets.push(out);
  out.on('error', () => {});
  await new Promise((r) => out.once('connect', r));
  const acc = await t.next();
  acc.on('error', () => {});
  return [acc, out];
}

/** client ⇄ [c | relay (spliced at once) | u] ⇄ upstream, once the hand-over happened. */
async function spliced(options: { idleTimeout?: number } = {}): Promise<{ c: net.Socket; u: net.Socket; client: net.Socket; upstream: net.Socket; counter: RelayCounter }> {
  const [c, client] = await pair();
  const [u, upstream] = await pair();
  const counter: RelayCounter = { up: 0, down: 0 };
  const n = splicesStarted();
  relay(c, u, Buffer.alloc(0), { counter, spliceAfter: 0, ...options });
  await waitFor(() => splicesStarted() > n, 2000, 'the hand-over');
  return { c, u, client, upstream, counter };
}

describe('the splice relay', function () {
  this.timeout(20000);
  before(function () {
    requireSplice(this);
  });
  afterEach(cleanup);

  it('a side destroyed from outside: both peers see the connection end at once, counts exact', async () => {
    const { c, client, upstream, counter } = await spliced();
    let got = 0;
    upstream.on('data', (d: Buffer) => (got += d.length));
    client.write(Buffer.alloc(300_000, 1));
    await waitFor(() => got === 300_000, 5000, `the bytes (${got})`);
    // A FIN or a reset, whichever: the connection is gone (allowHalfOpen peers see 'end' without 'close').
    const gone = new Set<net.Socket>();
    for (const s of [client, upstream]) for (const e of ['end', 'close']) s.on(e, () => gone.add(s));
    client.resume();
    c.destroy(); // server.close(), a limit, a reload
    await waitFor(() => gone.size === 2, 2000, 'both peers to see the connection end');
    expect(counter).to.deep.equal({ up: 300_000, down: 0, end: 'reset' });
  });

  it('idle timeout: ended as idle when nothing moves', async () => {
    const { c, u, client, counter } = await spliced({ idleTimeout: 300 });
    client.write('x');
    const t0 = Date.now();
    await waitFor(() => c.destroyed && u.destroyed, 3000, 'the idle timeout');
    expect(Date.now() - t0).to.be.within(250, 1500);
    expect(counter.end).to.equal('idle');
  });

  it('a reset of one peer destroys both sides (reset)', async () => {
    const { c, u, client, counter } = await spliced();
    client.resetAndDestroy();
    await waitFor(() => c.destroyed && u.destroyed, 3000, 'both sides destroyed');
    expect(counter.end).to.equal('reset');
  });
});
