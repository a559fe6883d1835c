/**
 * VerifyQueue: a bounded number of checks at once, sources served in turn,
 * waiting checks dropped when their client leaves or their deadline passes,
 * a full queue refusing at once, and the default concurrency a quarter of
 * libuv's threadpool.
 */
import { expect } from 'chai';
import { VerifyQueue, threadpoolSize } from '../../methods/verify-queue.js';
import { sourceKey } from '../../methods/source-key.js';

/** A check that finishes when told to. */
function gate(): { work: () => Promise<string>; open: (v?: string) => void; started: boolean } {
  let open!: (v: string) => void;
  const g = {
    started: false,
    work: () => {
      g.started = true;
      return new Promise<string>((r) => (open = r));
    },
    open: (v = 'ok') => open(v),
  };
  return g;
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('methods: VerifyQueue', () => {
  it('runs at most `concurrency` checks at once', async () => {
    const q = new VerifyQueue({ concurrency: 2 });
    const g = [gate(), gate(), gate()];
    const p = g.map((x) => q.run(x.work, { source: 'a' }));
    await tick();
    expect(g.map((x) => x.started)).to.deep.equal([true, true, false]);
    expect(q.stats()).to.include({ running: 2, queued: 1 });
    g[0]!.open('one');
    expect(await p[0]).to.equal('one');
    await tick();
    expect(g[2]!.started).to.equal(true);
    g[1]!.open();
    g[2]!.open();
    await Promise.all(p);
    expect(q.stats()).to.deep.equal({ ran: 3, dropped: 0, rejected: 0, running: 0, queued: 0 });
  });

  it('serves sources in turn: a newcomer waits behind one check, not behind a flood', async () => {
    const q = new VerifyQueue({ concurrency: 1, maxQueuedPerSource: 100 });
    const order: string[] = [];
    const first = gate();
    const running = q.run(first.work, { source: 'flood' });
    const done: Promise<unknown>[] = [running];
    for (let i = 0; i < 10; i++) done.push(q.run(async () => order.push(`flood${i}`), { source: 'flood' }));
    done.push(q.run(async () => order.push('legit'), { source: 'legit' }));
    await tick();
    first.open();
    await Promise.all(done);
    expect(order.indexOf('legit'), 'legit ran next').to.equal(0);
  });

  it('drops a waiting check when its client leaves (the check never runs) and frees its place', async () => {
    const q = new VerifyQueue({ concurrency: 1 });
    const first = gate();
    const p0 = q.run(first.work, { source: 'a' });
    await tick();
    const ac = new AbortController();
    let ran = false;
    const p1 = q.run(async () => (ran = true), { source: 'a', signal: ac.signal });
    expect(q.stats().queued).to.equal(1);
    ac.abort();
    expect(q.stats().queued, 'out of the queue at once').to.equal(0);
    const err = await p1.then(() => undefined, (e: { code?: string }) => e);
    expect(err?.code).to.equal('ERR_SOCKS_CLOSED');
    first.open();
    await p0;
    expect(ran).to.equal(false);
    expect(q.stats()).to.include({ dropped: 1, ran: 1 });
    // Already gone when it arrives: dropped without waiting.
    const gone = new AbortController();
    gone.abort();
    expect(await q.run(async () => 1, { signal: gone.signal }).catch((e: { code?: string }) => e.code)).to.equal('ERR_SOCKS_CLOSED');
  });

  it('drops a check whose deadline passed while it waited', async () => {
    const q = new VerifyQueue({ concurrency: 1 });
    const first = gate();
    const p0 = q.run(first.work);
    await tick();
    const late = q.run(async () => 'ran', { deadline: Date.now() + 20 });
    await new Promise((r) => setTimeout(r, 40));
    first.open();
    await p0;
    expect(await late.catch((e: { code?: string }) => e.code)).to.equal('ERR_SOCKS_CLOSED');
  });

  it('refuses at once when the source\'s share or the whole queue is full', async () => {
    const q = new VerifyQueue({ concurrency: 1, maxQueued: 3, maxQueuedPerSource: 2 });
    const first = gate();
    const all: Promise<unknown>[] = [q.run(first.work, { source: 'a' })];
    await tick();
    all.push(q.run(async () => 1, { source: 'a' }), q.run(async () => 2, { source: 'a' }));
    const third = await q.run(async () => 3, { source: 'a' }).catch((e: Error) => e);
    expect(third).to.have.property('code', 'ERR_SOCKS_AUTH_FAILED');
    all.push(q.run(async () => 4, { source: 'b' }));
    expect(await q.run(async () => 5, { source: 'c' }).catch((e: Error) => e.message)).to.match(/too many credential checks waiting/);
    expect(q.stats()).to.include({ rejected: 2, queued: 3 });
    first.open();
    await Promise.all(all);
  });

  it('starts nothing in the same turn: a client whose close arrives with its login costs no check', async () => {
    const q = new VerifyQueue({ concurrency: 1 });
    const ac = new AbortController();
    let ran = false;
    const p = q.run(async () => (ran = true), { signal: ac.signal });
    // What a socket's 'end' right after its 'data' does.
    process.nextTick(() => ac.abort());
    expect(await p.catch((e: { code?: string }) => e.code)).to.equal('ERR_SOCKS_CLOSED');
    expect(ran).to.equal(false);
    expect(q.stats()).to.include({ ran: 0, dropped: 1 });
  });

  it('a check that throws frees its slot; its error reaches the caller', async () => {
    const q = new VerifyQueue({ concurrency: 1 });
    expect(await q.run(() => { throw new Error('boom'); }).catch((e: Error) => e.message)).to.equal('boom');
    expect(await q.run(async () => 'next')).to.equal('next');
  });

  it('defaults to a quarter of UV_THREADPOOL_SIZE, at least one', () => {
    expect(threadpoolSize({})).to.equal(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: '16' })).to.equal(16);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: 'x' })).to.equal(4);
    expect(new VerifyQueue().concurrency).to.equal(Math.max(1, Math.floor(threadpoolSize() / 4)));
    expect(new VerifyQueue({ concurrency: 0 }).concurrency).to.equal(1);
  });

  it('sourceKey: the IPv4 address, or the IPv6 /64', () => {
    expect(sourceKey({ type: 'ipv4', host: '192.0.2.7', port: 1 })).to.equal('192.0.2.7');
    expect(sourceKey({ type: 'ipv6', host: '2001:db8:1:2:aaaa::1', port: 1 })).to.equal(sourceKey({ type: 'ipv6', host: '2001:db8:1:2:bbbb::9', port: 2 }));
    expect(sourceKey({ type: 'ipv6', host: '2001:db8:1:3::1', port: 1 })).to.not.equal(sourceKey({ type: 'ipv6', host: '2001:db8:1:2::1', port: 1 }));
    expect(sourceKey(undefined)).to.equal('-');
  });
});
