/** SocksServer.reconfigure() (what SIGHUP calls) and drain() (what SIGTERM calls). */
import { expect } from 'chai';
import net from 'node:net';
import { SocksServer, userpass } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, type Target } from '../support/server.js';

const port16 = (p: number) => Buffer.from([p >> 8, p & 255]);

async function login(port: number, user: string, pass: string, target: number): Promise<{ c: RawClient; ok: boolean }> {
  const c = await RawClient.connect(port);
  c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass), hex('05 01 00 01 7f 00 00 01'), port16(target)]));
  await c.read(2);
  const auth = await c.read(2);
  if (auth[1] !== 0) return { c, ok: false };
  return { c, ok: (await c.read(10))[1] === 0 };
}

describe('SocksServer.reconfigure() and drain()', () => {
  let target: Target;
  before(async () => {
    target = await startTarget(echo);
  });
  after(() => target.close());

  it('reconfigure: new connections use the new users, an open tunnel goes on', async () => {
    const server = new SocksServer({ methods: [userpass({ users: { alice: 'a' } })] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const alice = await login(port, 'alice', 'a', target.port);
      expect(alice.ok).to.equal(true);
      server.reconfigure({ methods: [userpass({ users: { bob: 'b' } })] });
      expect((await login(port, 'bob', 'b', target.port)).ok).to.equal(true);
      const again = await login(port, 'alice', 'a', target.port);
      expect(again.ok).to.equal(false);
      alice.c.write('still');
      expect((await alice.c.read(5)).toString()).to.equal('still');
      alice.c.destroy();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('drain: stops accepting, lets the open tunnel finish, then calls back; the deadline destroys what is left', async () => {
    const server = new SocksServer({ methods: [userpass({ users: { alice: 'a' } })] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const t = await login(port, 'alice', 'a', target.port);
    let drained = false;
    server.drain(10000, () => (drained = true));
    expect(await RawClient.connect(port).then((c) => (c.destroy(), 'accepted'), () => 'refused')).to.equal('refused');
    t.c.write('more');
    expect((await t.c.read(4)).toString()).to.equal('more');
    expect(drained).to.equal(false);
    t.c.socket.end();
    for (let i = 0; i < 100 && !drained; i++) await new Promise((r) => setTimeout(r, 20));
    expect(drained).to.equal(true);

    const s2 = new SocksServer({ methods: [userpass({ users: { alice: 'a' } })] });
    await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
    const t2 = await login((s2.address() as net.AddressInfo).port, 'alice', 'a', target.port);
    const started = Date.now();
    await new Promise<void>((r) => s2.drain(200, r));
    expect(Date.now() - started).to.be.within(150, 2000);
    // The server side was destroyed: the client reads its FIN (it is half-open by choice).
    for (let i = 0; i < 100 && !(t2.c.ended || t2.c.closed); i++) await new Promise((r) => setTimeout(r, 20));
    expect(t2.c.ended || t2.c.closed).to.equal(true);
    t2.c.destroy();
  });
});
