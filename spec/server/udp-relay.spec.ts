/** UDP ASSOCIATE through SocksServer with raw sockets (RFC 1928 §4, §7). */
import { expect } from 'chai';
import dgram from 'node:dgram';
import { hex, toHex, waitFor } from '../support/helpers.js';
import { startServer, Conn, Udp, udpEcho, portHex } from '../support/udp-bind.js';
import { udpHandler } from '../../lib/server/commands/udp.js';
import { parseCidr } from '../../lib/server/rules.js';
import type { SocksServerOptions } from '../../lib/server/server.js';
import type { AuthMethod, Encapsulation } from '../../lib/protocol/method.js';

/** RSV RSV FRAG ATYP=01 127.0.0.1 PORT DATA */
function dgram4(port: number, data: string | Buffer, frag = 0, ip = '7f 00 00 01'): Buffer {
  return Buffer.concat([hex(`00 00 ${frag.toString(16).padStart(2, '0')} 01 ${ip} ${portHex(port)}`), Buffer.from(data)]);
}

describe('UDP ASSOCIATE (RFC 1928 §4, §7)', function () {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function server(options: SocksServerOptions = {}, host = '127.0.0.1') {
    const s = await startServer(options, host);
    cleanup.push(() => s.close());
    return s;
  }
  async function udp(host = '127.0.0.1') {
    const u = await Udp.open(host);
    cleanup.push(() => u.close());
    return u;
  }
  async function echo(host = '127.0.0.1') {
    const e = await udpEcho(host);
    cleanup.push(() => e.close());
    return e;
  }
  /** Greeting + UDP ASSOCIATE with DST (ATYP ADDR PORT as hex); returns the control connection and the relay port. */
  async function associate(port: number, dst = '01 00 00 00 00 00 00', host = '127.0.0.1') {
    const c = await Conn.open(port, { host });
    cleanup.push(() => c.destroy());
    c.write(hex(`05 01 00   05 03 00 ${dst}`));
    expect(toHex(await c.read(2))).to.equal('05 00');
    const reply = await c.read(host.includes(':') ? 22 : 10);
    return { c, reply, relay: reply.readUInt16BE(reply.length - 2) };
  }

  it('answers BND 127.0.0.1:port (exact bytes) and relays a datagram both ways with the headers', async () => {
    const { port } = await server();
    const target = await echo();
    const { reply, relay } = await associate(port);
    expect(toHex(reply)).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(relay)}`);
    const cl = await udp();
    await cl.send(dgram4(target.port, 'ping'), relay);
    const got = await cl.recv();
    expect(got, 'echo reply').to.not.equal(undefined);
    expect(toHex(got!.msg)).to.equal(toHex(dgram4(target.port, 'echo:ping')));
    expect(got!.from.port).to.equal(relay);
    expect(target.received.map(String)).to.deep.equal(['ping']);
  });

  it('with a wildcard external address the BND is the TCP local address, never 0.0.0.0', async () => {
    const { port } = await server({ udp: udpHandler({ external: '0.0.0.0' }) });
    const target = await echo();
    const { reply, relay } = await associate(port);
    expect(toHex(reply.subarray(0, 8))).to.equal('05 00 00 01 7f 00 00 01');
    const cl = await udp();
    await cl.send(dgram4(target.port, 'x'), relay);
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:x');
  });

  it('over IPv6 (::1): BND is ::1, and both IPv4 and IPv6 destinations work (one outbound socket per family)', async function () {
    let s;
    try {
      s = await server({}, '::1');
    } catch {
      console.log('      (skipped: no ::1 on this machine)');
      this.skip();
    }
    const t4 = await echo('127.0.0.1');
    const t6 = await echo('::1');
    const { reply, relay } = await associate(s!.port, '04 00000000000000000000000000000000 00 00', '::1');
    expect(toHex(reply)).to.equal(`05 00 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 ${portHex(relay)}`);
    const cl = await udp('::1');
    await cl.send(dgram4(t4.port, 'v4'), relay, '::1');
    expect(toHex((await cl.recv())!.msg)).to.equal(toHex(dgram4(t4.port, 'echo:v4')));
    const h6 = hex(`00 00 00 04 00000000000000000000000000000001 ${portHex(t6.port)}`);
    await cl.send(Buffer.concat([h6, Buffer.from('v6')]), relay, '::1');
    expect(toHex((await cl.recv())!.msg)).to.equal(toHex(Buffer.concat([h6, Buffer.from('echo:v6')])));
  });

  it('drops datagrams from a foreign source (127.0.0.2) silently, and from another port once the client is known', async () => {
    const { port } = await server();
    const target = await echo();
    const { relay } = await associate(port);
    const stranger = await udp('127.0.0.2');
    await stranger.send(dgram4(target.port, 'foreign'), relay);
    expect(await stranger.recv(300)).to.equal(undefined);
    const cl = await udp();
    await cl.send(dgram4(target.port, 'mine'), relay);
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:mine');
    const sibling = await udp(); // same IP, another port: not the client any more
    await sibling.send(dgram4(target.port, 'sibling'), relay);
    expect(await sibling.recv(300)).to.equal(undefined);
    expect(target.received.map(String)).to.deep.equal(['mine']);
  });

  it('with DST.ADDR/PORT in the request, only that address and port may send', async () => {
    const { port } = await server();
    const target = await echo();
    const cl = await udp();
    const other = await udp();
    const { relay } = await associate(port, `01 7f 00 00 01 ${portHex(cl.port)}`);
    await other.send(dgram4(target.port, 'other'), relay);
    await cl.send(dgram4(target.port, 'named'), relay);
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:named');
    expect(await other.recv(200)).to.equal(undefined);
    expect(target.received.map(String)).to.deep.equal(['named']);

    // DST.ADDR 127.0.0.9 while the TCP client is 127.0.0.1: nothing may pass.
    const t2 = await associate(port, '01 7f 00 00 09 00 00');
    await cl.send(dgram4(target.port, 'mismatch'), t2.relay);
    expect(await cl.recv(300)).to.equal(undefined);
  });

  it('drops replies from endpoints the client never sent to', async () => {
    const { port } = await server();
    const target = await echo();
    const { relay } = await associate(port);
    const cl = await udp();
    await cl.send(dgram4(target.port, 'a'), relay);
    const first = await cl.recv();
    expect(first?.msg.subarray(10).toString()).to.equal('echo:a');
    // The outbound port the target saw; a stranger aims at it.
    const outbound = await new Promise<number>((resolve) => {
      target.socket.once('message', (_m, from) => resolve(from.port));
      void cl.send(dgram4(target.port, 'b'), relay);
    });
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:b');
    const stranger = await udp();
    await stranger.send(Buffer.from('unsolicited'), outbound);
    expect(await cl.recv(300)).to.equal(undefined);
  });

  it("replies: 'any' relays unsolicited replies with the sender's address in the header", async () => {
    const { port } = await server({ udp: udpHandler({ replies: 'any' }) });
    const target = await echo();
    const { relay } = await associate(port);
    const cl = await udp();
    const outbound = await new Promise<number>((resolve) => {
      target.socket.once('message', (_m, from) => resolve(from.port));
      void cl.send(dgram4(target.port, 'a'), relay);
    });
    await cl.recv();
    const stranger = await udp();
    await stranger.send(Buffer.from('hi'), outbound);
    expect(toHex((await cl.recv())!.msg)).to.equal(toHex(dgram4(stranger.port, 'hi')));
  });

  for (const [name, order] of [
    ['in order', [0x01, 0x02, 0x83]],
    ['out of order', [0x83, 0x01, 0x02]],
  ] as const) {
    it(`reassembles a fragmented datagram (${name}) into one datagram to the destination`, async () => {
      const { port } = await server();
      const target = await echo();
      const { relay } = await associate(port);
      const cl = await udp();
      const parts: Record<number, string> = { 1: 'frag-one|', 2: 'frag-two|', 3: 'frag-three' };
      for (const f of order) await cl.send(dgram4(target.port, parts[f & 0x7f]!, f), relay);
      const got = await cl.recv();
      expect(toHex(got!.msg)).to.equal(toHex(dgram4(target.port, 'echo:frag-one|frag-two|frag-three')));
      expect(target.received.map(String)).to.deep.equal(['frag-one|frag-two|frag-three']);
    });
  }

  it('drops an expired partial sequence (reassembly timer, injected clock)', async () => {
    let now = 0;
    const { port } = await server({ udp: udpHandler({ now: () => now }) });
    const target = await echo();
    const { relay } = await associate(port);
    const cl = await udp();
    await cl.send(dgram4(target.port, 'stale-', 0x01), relay);
    await cl.send(dgram4(target.port, 'x', 0x00), relay); // a marker: fragment 01 has been processed
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:x');
    now = 5000; // the 5 s reassembly timer has run out
    await cl.send(dgram4(target.port, 'end', 0x82), relay);
    expect(await cl.recv(300)).to.equal(undefined);
    await cl.send(dgram4(target.port, 'fresh-', 0x01), relay);
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:fresh-end');
    expect(target.received.map(String)).to.deep.equal(['x', 'fresh-end']);
  });

  it('with fragments: false drops every FRAG != 0 and relays FRAG 0', async () => {
    const { port } = await server({ udp: udpHandler({ fragments: false }) });
    const target = await echo();
    const { relay } = await associate(port);
    const cl = await udp();
    await cl.send(dgram4(target.port, 'one', 0x81), relay);
    await cl.send(dgram4(target.port, 'zero', 0x00), relay);
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:zero');
    expect(target.received.map(String)).to.deep.equal(['zero']);
  });

  it('ends with its TCP connection: the relay socket is closed', async () => {
    const { port, server: srv } = await server();
    const target = await echo();
    const { c, relay } = await associate(port);
    const cl = await udp();
    await cl.send(dgram4(target.port, 'before'), relay);
    expect(await cl.recv()).to.not.equal(undefined);
    c.socket.end(); // a FIN is enough
    await c.whenClosed();
    await waitFor(() => srv.connections === 0);
    await cl.send(dgram4(target.port, 'after'), relay);
    expect(await cl.recv(300)).to.equal(undefined);
    expect(target.received.map(String)).to.deep.equal(['before']);
    // The port is free again: nothing holds it.
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind({ port: relay, address: '127.0.0.1', exclusive: true }, () => resolve());
    });
    probe.close();
  });

  it('closes the TCP connection when the association ends (idle timeout)', async () => {
    const { port } = await server({ udp: udpHandler({ idleTimeout: 150 }) });
    const { c } = await associate(port);
    const t0 = Date.now();
    await c.whenClosed(2000);
    expect(Date.now() - t0).to.be.within(100, 1500);
  });

  it('resolves DOMAINNAME destinations through the injected lookup and applies the ruleset', async () => {
    const target = await echo();
    const asked: string[] = [];
    const lookup = ((host: string, _o: unknown, cb: (e: Error | null, a?: string, f?: number) => void) => {
      asked.push(host);
      if (host === 'echo.test') cb(null, '127.0.0.1', 4);
      else if (host === 'denied.test') cb(null, '127.0.0.66', 4);
      else cb(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }));
    }) as unknown as SocksServerOptions['lookup'];
    const { port } = await server({ lookup, rules: { allow: [], deny: [parseCidr('127.0.0.66')] } });
    const { relay } = await associate(port);
    const cl = await udp();
    const named = (name: string, data: string) =>
      Buffer.concat([hex(`00 00 00 03 ${name.length.toString(16).padStart(2, '0')}`), Buffer.from(name), hex(portHex(target.port)), Buffer.from(data)]);
    await cl.send(named('missing.test', 'lost'), relay);
    await cl.send(named('denied.test', 'denied'), relay);
    await cl.send(named('echo.test', 'found'), relay);
    const got = await cl.recv();
    // The reply names the real source (an IPv4 address), not the name asked for.
    expect(toHex(got!.msg)).to.equal(toHex(dgram4(target.port, 'echo:found')));
    expect(await cl.recv(200)).to.equal(undefined);
    expect(target.received.map(String)).to.deep.equal(['found']);
    expect(asked).to.deep.equal(['missing.test', 'denied.test', 'echo.test']);
  });

  it('drops a datagram with a truncated header', async () => {
    const { port } = await server();
    const target = await echo();
    const { relay } = await associate(port);
    const cl = await udp();
    await cl.send(hex('00 00 00 01 7f 00'), relay);
    await cl.send(dgram4(target.port, 'ok'), relay);
    expect((await cl.recv())?.msg.subarray(10).toString()).to.equal('echo:ok');
    expect(target.received.map(String)).to.deep.equal(['ok']);
  });

  it("applies the method's datagram protection (wrapDatagram/unwrapDatagram) to and from the client", async () => {
    const { port } = await server({ methods: [xorMethod] });
    const target = await echo();
    const c = await Conn.open(port);
    cleanup.push(() => c.destroy());
    c.write(hex('05 01 85'));
    expect(toHex(await c.read(2))).to.equal('05 85');
    c.write(xor(hex('05 03 00 01 00 00 00 00 00 00'), 0x55));
    const reply = xor(await c.read(10), 0x55);
    const relay = reply.readUInt16BE(8);
    expect(toHex(reply)).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(relay)}`);
    const cl = await udp();
    await cl.send(dgram4(target.port, 'plain'), relay); // unprotected: dropped
    await cl.send(wrapD(dgram4(target.port, 'sealed')), relay);
    const got = await cl.recv();
    expect(toHex(got!.msg)).to.equal(toHex(wrapD(dgram4(target.port, 'echo:sealed'))));
    expect(target.received.map(String)).to.deep.equal(['sealed']);
  });

  it('the request hook sees UDP ASSOCIATE and can deny it; udp: false refuses with 07', async () => {
    const { port } = await server({ onRequest: (ctx) => (ctx.request.command === 'udp' ? ctx.deny(0x02) : undefined) });
    const c = await Conn.open(port);
    cleanup.push(() => c.destroy());
    c.write(hex('05 01 00   05 03 00 01 00 00 00 00 00 00'));
    await c.read(2);
    expect(toHex(await c.read(10))).to.equal('05 02 00 01 00 00 00 00 00 00');
    const off = await server({ udp: false });
    const c2 = await Conn.open(off.port);
    cleanup.push(() => c2.destroy());
    c2.write(hex('05 01 00   05 03 00 01 00 00 00 00 00 00'));
    await c2.read(2);
    expect(toHex(await c2.read(10))).to.equal('05 07 00 01 00 00 00 00 00 00');
  });
});

function xor(b: Buffer, k: number): Buffer {
  return Buffer.from(b.map((x) => x ^ k));
}
/** A toy datagram protection: 'W' then the bytes XOR 0x0F; anything else fails to unwrap. */
function wrapD(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from('W'), xor(b, 0x0f)]);
}
const toyEncapsulation: Encapsulation = {
  wrap: (b) => xor(b, 0x55),
  unwrap: (b) => xor(b, 0x55),
  wrapDatagram: wrapD,
  unwrapDatagram: (b) => {
    if (b[0] !== 0x57) throw new Error('not protected');
    return xor(b.subarray(1), 0x0f);
  },
};
/** A private method (0x85) that protects everything after selection, like GSS-API does. */
const xorMethod: AuthMethod = {
  code: 0x85,
  name: 'toy-xor',
  server: () => ({
    start: () => ({ kind: 'done', identity: 'toy', encapsulation: toyEncapsulation }),
    receive: () => ({ kind: 'more' }),
  }),
};

