/**
 * Rules on UDP ASSOCIATE: every datagram judged on its own destination (host
 * and port, command udp, the association's identity) by the rules in force
 * now; the request's DST (the client's own address) is no destination.
 */
import { expect } from 'chai';
import { hashPassword, parseRules, userpass, udpAssociate, type LookupFunction, type Rule } from '../../lib/index.js';
import { hex, sleep, waitFor } from '../support/helpers.js';
import { Conn, Udp, startServer, udpEcho, portHex } from '../support/udp-bind.js';

/** A lookup that knows one name, `name.test` → 127.0.0.1, and counts its calls. */
function nameLookup(calls: string[]): LookupFunction {
  return ((host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a?: string, f?: number) => void) => {
    calls.push(host);
    if (host === 'name.test') cb(null, '127.0.0.1', 4);
    else cb(Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
  }) as unknown as LookupFunction;
}

/** A SOCKS5 UDP datagram to `name:port` (ATYP 03). */
function toName(name: string, port: number, data: string): Buffer {
  return Buffer.concat([hex('00 00 00 03'), Buffer.from([name.length]), Buffer.from(name), hex(portHex(port)), Buffer.from(data)]);
}
function toIp(port: number, data: string): Buffer {
  return Buffer.concat([hex(`00 00 00 01 7f 00 00 01 ${portHex(port)}`), Buffer.from(data)]);
}

/** Userpass greeting and UDP ASSOCIATE DST 0.0.0.0:0; the relay port. */
async function associate(port: number, user: string, cleanup: (() => unknown)[]): Promise<{ c: Conn; relay: number; cl: Udp; reply: number }> {
  const c = await Conn.open(port);
  cleanup.push(() => c.destroy());
  c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), hex('01'), Buffer.from(user[0]!), hex('05 03 00 01 00 00 00 00 00 00')]));
  await c.read(4);
  const r = await c.read(10);
  const cl = await Udp.open();
  cleanup.push(() => cl.close());
  return { c, relay: r.readUInt16BE(8), cl, reply: r[1]! };
}

/** Waits until `target` has `n` datagrams or `ms` passed. */
async function settle(target: { received: Buffer[] }, n: number, ms = 600): Promise<void> {
  for (let t = 0; t < ms && target.received.length < n; t += 20) await sleep(20);
}

describe('UDP ASSOCIATE and the rules', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /** A userpass server (alice, bob) with the rules `rules(allowed, blocked)` gives for two UDP echo targets. */
  async function setup(rules: (allowed: number, blocked: number) => Rule[]) {
    const allowed = await udpEcho();
    const blocked = await udpEcho();
    cleanup.push(() => allowed.close(), () => blocked.close());
    const calls: string[] = [];
    const s = await startServer({ methods: [userpass({ users: { alice: 'a', bob: 'b' } })], lookup: nameLookup(calls), rules: rules(allowed.port, blocked.port) });
    cleanup.push(() => s.close());
    return { s, calls, allowed, blocked };
  }

  it('judges every datagram to a name on its own port: a blocked port right after an allowed one to the same name is dropped', async () => {
    const { s, allowed, blocked } = await setup((_a, blocked) => parseRules([{ action: 'block', command: 'udp', port: blocked }, { action: 'pass' }]));
    const { relay, cl } = await associate(s.port, 'alice', cleanup);
    // Alone, the blocked port is dropped.
    await cl.send(toName('name.test', blocked.port, 'alone'), relay);
    // Right after one to the allowed port (the name's lookup is fresh), it must still be dropped.
    for (let i = 0; i < 5; i++) {
      await cl.send(toName('name.test', allowed.port, `ok${i}`), relay);
      await cl.send(toName('name.test', blocked.port, `sneak${i}`), relay);
    }
    await settle(allowed, 5);
    await sleep(150);
    expect(allowed.received.map(String)).to.deep.equal(['ok0', 'ok1', 'ok2', 'ok3', 'ok4']);
    expect(blocked.received.map(String)).to.deep.equal([]);
  });

  it("judges every datagram by the association's identity and command", async () => {
    const { s, allowed } = await setup((allowed) => parseRules([{ action: 'pass', user: 'alice', command: 'udp', port: allowed }, { action: 'pass', command: 'udp', port: 1 }, { action: 'block' }]));
    const a = await associate(s.port, 'alice', cleanup);
    const b = await associate(s.port, 'bob', cleanup);
    expect([a.reply, b.reply]).to.deep.equal([0, 0]);
    await b.cl.send(toName('name.test', allowed.port, 'bob'), b.relay);
    await a.cl.send(toName('name.test', allowed.port, 'alice'), a.relay);
    await b.cl.send(toIp(allowed.port, 'bob-ip'), b.relay);
    await settle(allowed, 1);
    await sleep(150);
    expect(allowed.received.map(String)).to.deep.equal(['alice']);
  });

  it('after a reconfigure, each new datagram of an open association is judged by the new rules, and a removed user\'s association ends', async () => {
    const { s, allowed, blocked } = await setup(() => [{ action: 'pass' }]);
    const a = await associate(s.port, 'alice', cleanup);
    const b = await associate(s.port, 'bob', cleanup);
    await a.cl.send(toIp(blocked.port, 'before'), a.relay);
    await settle(blocked, 1);
    expect(blocked.received.map(String)).to.deep.equal(['before']);
    // The reload: alice is removed, and the blocked port is blocked.
    s.server.reconfigure({
      ...s.server.options,
      methods: [userpass({ users: { bob: 'b' } })],
      rules: parseRules([{ action: 'block', port: blocked.port }, { action: 'pass' }]),
    });
    await a.c.whenClosed(2000);
    await b.cl.send(toIp(blocked.port, 'after-ip'), b.relay);
    await b.cl.send(toName('name.test', blocked.port, 'after-name'), b.relay);
    await b.cl.send(toIp(allowed.port, 'still-allowed'), b.relay);
    await a.cl.send(toIp(allowed.port, 'removed-user'), a.relay);
    await settle(allowed, 1);
    await sleep(150);
    expect(blocked.received.map(String)).to.deep.equal(['before']);
    expect(allowed.received.map(String)).to.deep.equal(['still-allowed']);
    expect(b.c.closed || b.c.ended).to.equal(false);
  });

  it('a user removed by a reconfigure while its (scrypt) password was being checked is refused: no association, no tunnel', async () => {
    const target = await udpEcho();
    cleanup.push(() => target.close());
    const [ha, hb] = [await hashPassword('a'), await hashPassword('b')];
    const s = await startServer({ methods: [userpass({ users: { alice: ha } })], rules: [{ action: 'pass' }] });
    cleanup.push(() => s.close());
    for (const request of ['05 03 00 01 00 00 00 00 00 00', `05 01 00 01 7f 00 00 01 ${portHex(s.port)}`]) {
      const c = await Conn.open(s.port);
      cleanup.push(() => c.destroy());
      await waitFor(() => s.server.connections > 0, 2000, 'the accept');
      // The methods were chosen at accept; the check runs after this reconfigure removed alice.
      c.write(Buffer.concat([hex('05 01 02 01 05'), Buffer.from('alice'), hex('01'), Buffer.from('a'), hex(request)]));
      s.server.reconfigure({ ...s.server.options, methods: [userpass({ users: { bob: hb } })] });
      expect(await c.read(4)).to.deep.equal(hex('05 02 01 00'));
      expect((await c.read(10))[1], request).to.equal(2);
      c.destroy();
      await waitFor(() => s.server.connections === 0, 2000, 'the close');
      s.server.reconfigure({ ...s.server.options, methods: [userpass({ users: { alice: ha } })] });
    }
  });

  it("DST is the client's own address, not a destination: a {block, to: 127.0.0.0/8} rule lets udpAssociate() through and drops datagrams to 127.0.0.0/8", async () => {
    const target = await udpEcho();
    cleanup.push(() => target.close());
    const s = await startServer({ rules: parseRules([{ action: 'block', to: '127.0.0.0/8' }, { action: 'pass' }]), lookup: nameLookup([]) });
    cleanup.push(() => s.close());
    const sock = await udpAssociate({ proxy: { host: '127.0.0.1', port: s.port } });
    cleanup.push(() => sock.close());
    sock.send(Buffer.from('ssrf'), target.port, '127.0.0.1');
    sock.send(Buffer.from('ssrf-name'), target.port, 'name.test');
    await sleep(300);
    expect(target.received).to.deep.equal([]);
  });

  it('the request is refused only when no datagram could pass: a pass-by-destination list opens it, a udp block refuses it', async () => {
    const target = await udpEcho();
    cleanup.push(() => target.close());
    const open = await startServer({ rules: parseRules([{ action: 'pass', to: '127.0.0.1', port: target.port }]) });
    cleanup.push(() => open.close());
    const sock = await udpAssociate({ proxy: { host: '127.0.0.1', port: open.port } });
    cleanup.push(() => sock.close());
    sock.send(Buffer.from('in'), target.port, '127.0.0.1');
    sock.send(Buffer.from('out'), target.port + 1 > 65535 ? 1 : target.port + 1, '127.0.0.1');
    await settle(target, 1);
    expect(target.received.map(String)).to.deep.equal(['in']);
    const shut = await startServer({ rules: parseRules([{ action: 'block', command: 'udp', reply: 7 }, { action: 'pass' }]) });
    cleanup.push(() => shut.close());
    const c = await Conn.open(shut.port);
    cleanup.push(() => c.destroy());
    c.write(hex('05 01 00 05 03 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    expect((await c.read(10))[1]).to.equal(7);
  });

  it('a SocksServer without users keeps associations open across a reconfigure', async () => {
    const target = await udpEcho();
    cleanup.push(() => target.close());
    const s = await startServer({});
    cleanup.push(() => s.close());
    const sock = await udpAssociate({ proxy: { host: '127.0.0.1', port: s.port } });
    cleanup.push(() => sock.close());
    s.server.reconfigure({ ...s.server.options });
    sock.send(Buffer.from('x'), target.port, '127.0.0.1');
    await settle(target, 1);
    expect(target.received.map(String)).to.deep.equal(['x']);
  });
});
