/** BIND through SocksServer with raw sockets: exact reply bytes, peer policy, deadline, no leaks. */
import { expect } from 'chai';
import net from 'node:net';
import { hex, toHex, waitFor } from '../support/helpers.js';
import { startServer, Conn, portHex } from '../support/udp-bind.js';
import { bindHandler } from '../../lib/server/commands/bind.js';
import type { SocksServerOptions } from '../../lib/server/server.js';

/** Connects a peer to the BIND listener from `from` (any 127/8 address is loopback). */
function peerConnect(port: number, from = '127.0.0.1', host = '127.0.0.1'): Promise<Conn> {
  return Conn.open(port, { host, localAddress: from });
}

describe('BIND (RFC 1928 §4/§6, SOCKS4 BIND)', function () {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function server(options: SocksServerOptions = {}) {
    const s = await startServer(options);
    cleanup.push(() => s.close());
    return s;
  }
  async function client(port: number) {
    const c = await Conn.open(port);
    cleanup.push(() => c.destroy());
    return c;
  }

  it('SOCKS5: first reply names the listener (127.0.0.1, never 0.0.0.0), second the peer, then relays both ways', async () => {
    const { port } = await server();
    const c = await client(port);
    // greeting, then BIND expecting a peer from 127.0.0.1 (port 0: any)
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    expect(toHex(await c.read(2))).to.equal('05 00');
    const first = await c.read(10);
    const lport = first.readUInt16BE(8);
    expect(toHex(first)).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(lport)}`);
    expect(lport).to.be.above(0);

    const peer = await peerConnect(lport);
    cleanup.push(() => peer.destroy());
    const second = await c.read(10);
    const pport = peer.socket.localPort!;
    expect(toHex(second)).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(pport)}`);

    c.write(Buffer.from('from client'));
    expect((await peer.read(11)).toString()).to.equal('from client');
    peer.write(Buffer.from('from peer'));
    expect((await c.read(9)).toString()).to.equal('from peer');
    // half-close propagates: the peer's FIN reaches the client, which can still write
    peer.socket.end();
    await c.whenClosed();
    c.write(Buffer.from('late'));
    expect((await peer.read(4)).toString()).to.equal('late');
  });

  it('SOCKS4: both replies are 8 bytes with VN 00, CD 5A, port and IPv4', async () => {
    const { port } = await server();
    const c = await client(port);
    // VN 04 CD 02 DSTPORT 0015 DSTIP 127.0.0.1 USERID "u" NUL
    c.write(hex('04 02 00 15 7f 00 00 01 75 00'));
    const first = await c.read(8);
    const lport = first.readUInt16BE(2);
    expect(toHex(first)).to.equal(`00 5a ${portHex(lport)} 7f 00 00 01`);
    // The port is not compared by default: FTP data comes from 20, not the DST.PORT 21.
    const peer = await peerConnect(lport);
    cleanup.push(() => peer.destroy());
    expect(toHex(await c.read(8))).to.equal(`00 5a ${portHex(peer.socket.localPort!)} 7f 00 00 01`);
    peer.write(Buffer.from('x'));
    expect(toHex(await c.read(1))).to.equal('78');
  });

  it('refuses a peer from the wrong address (127.0.0.2), keeps waiting, then takes the right one', async () => {
    const { port } = await server();
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    const wrong = await peerConnect(lport, '127.0.0.2');
    cleanup.push(() => wrong.destroy());
    await wrong.whenClosed();
    expect(c.take().length, 'no second reply for a wrong peer').to.equal(0);
    const right = await peerConnect(lport, '127.0.0.1');
    cleanup.push(() => right.destroy());
    expect(toHex(await c.read(10))).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(right.socket.localPort!)}`);
  });

  it("wrongPeer: 'fail' answers REP 02 and closes both (SOCKS4 text: 5B)", async () => {
    const { port } = await server({ bind: bindHandler({ wrongPeer: 'fail' }) });
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    const wrong = await peerConnect(lport, '127.0.0.2');
    cleanup.push(() => wrong.destroy());
    expect(toHex(await c.read(10))).to.equal('05 02 00 01 00 00 00 00 00 00');
    await c.whenClosed();
    await wrong.whenClosed();

    const c4 = await client(port);
    c4.write(hex('04 02 00 15 7f 00 00 01 00'));
    const lport4 = (await c4.read(8)).readUInt16BE(2);
    const wrong4 = await peerConnect(lport4, '127.0.0.2');
    cleanup.push(() => wrong4.destroy());
    expect(toHex(await c4.read(8))).to.equal('00 5b 00 00 00 00 00 00');
    await c4.whenClosed();
  });

  it('DST.ADDR 0.0.0.0 accepts a peer from any address', async () => {
    const { port } = await server();
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 00 00 00 00 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    const peer = await peerConnect(lport, '127.0.0.2');
    cleanup.push(() => peer.destroy());
    expect(toHex(await c.read(10))).to.equal(`05 00 00 01 7f 00 00 02 ${portHex(peer.socket.localPort!)}`);
  });

  it('a policy hook (acceptPeer) and matchPort change who may connect', async () => {
    const seen: string[] = [];
    const { port } = await server({
      bind: bindHandler({ acceptPeer: (peer, expected) => (seen.push(`${peer.host}/${expected.host}`), peer.host === '127.0.0.3') }),
    });
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    const p1 = await peerConnect(lport, '127.0.0.1');
    cleanup.push(() => p1.destroy());
    await p1.whenClosed();
    const p3 = await peerConnect(lport, '127.0.0.3');
    cleanup.push(() => p3.destroy());
    expect(toHex(await c.read(10))).to.equal(`05 00 00 01 7f 00 00 03 ${portHex(p3.socket.localPort!)}`);
    expect(seen).to.deep.equal(['127.0.0.1/127.0.0.1', '127.0.0.3/127.0.0.1']);

    // matchPort: a peer must come from DST.PORT when it is not zero
    const s2 = await server({ bind: bindHandler({ matchPort: true }) });
    const c2 = await client(s2.port);
    c2.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 01'));
    await c2.read(2);
    const lport2 = (await c2.read(10)).readUInt16BE(8);
    const p = await peerConnect(lport2);
    cleanup.push(() => p.destroy());
    await p.whenClosed();
    expect(c2.take().length).to.equal(0);
  });

  it('deadline: no peer in time gives REP 06 (SOCKS4: 5B) and the listener is closed', async () => {
    const { port } = await server({ bind: bindHandler({ timeout: 150 }) });
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    expect(toHex(await c.read(10, 2000))).to.equal('05 06 00 01 00 00 00 00 00 00');
    await c.whenClosed();
    await expectRefused(lport);

    const c4 = await client(port);
    c4.write(hex('04 02 00 15 7f 00 00 01 00'));
    await c4.read(8);
    expect(toHex(await c4.read(8, 2000))).to.equal('00 5b 00 00 00 00 00 00');
  });

  it('the listener closes when the client goes away (reset) while waiting', async () => {
    const { port, server: srv } = await server();
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    c.socket.resetAndDestroy();
    await waitFor(() => srv.connections === 0);
    await expectRefused(lport);
  });

  it('a half-close while waiting is kept: early bytes, then the FIN, reach the peer; the peer can still answer', async () => {
    const { port } = await server();
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    c.write(Buffer.from('early'));
    c.socket.end();
    await new Promise((r) => setTimeout(r, 100)); // the FIN arrives before the peer does
    const peer = await peerConnect(lport);
    cleanup.push(() => peer.destroy());
    expect(toHex(await c.read(10))).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(peer.socket.localPort!)}`);
    expect((await peer.read(5)).toString()).to.equal('early');
    await peer.whenClosed();
    expect(peer.ended).to.equal(true);
    peer.write(Buffer.from('answer'));
    expect((await c.read(6)).toString()).to.equal('answer');
  });

  it('the listener closes after the first accepted peer', async () => {
    const { port } = await server();
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    const peer = await peerConnect(lport);
    cleanup.push(() => peer.destroy());
    await c.read(10);
    await expectRefused(lport);
  });

  it('external: listens on and advertises the configured address (127.0.0.5)', async () => {
    const { port } = await server({ bind: bindHandler({ external: '127.0.0.5' }) });
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 00 00 00 00 00 00'));
    await c.read(2);
    const first = await c.read(10);
    expect(toHex(first.subarray(0, 8))).to.equal('05 00 00 01 7f 00 00 05');
    const peer = await peerConnect(first.readUInt16BE(8), '127.0.0.1', '127.0.0.5');
    cleanup.push(() => peer.destroy());
    expect(toHex((await c.read(10)).subarray(0, 8))).to.equal('05 00 00 01 7f 00 00 01');
  });

  it('a wildcard external listens everywhere but advertises the local address, never 0.0.0.0', async () => {
    const { port } = await server({ bind: bindHandler({ external: '0.0.0.0' }) });
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 00 00 00 00 00 00'));
    await c.read(2);
    expect(toHex((await c.read(10)).subarray(0, 8))).to.equal('05 00 00 01 7f 00 00 01');
  });

  it('a domain DST.ADDR goes through the injected lookup; a lookup failure is REP 04', async () => {
    const asked: string[] = [];
    const lookup = ((host: string, _o: unknown, cb: (e: Error | null, a?: string, f?: number) => void) => {
      asked.push(host);
      if (host === 'peer.test') cb(null, '127.0.0.7', 4);
      else cb(Object.assign(new Error('nope'), { code: 'ENOTFOUND' }));
    }) as unknown as SocksServerOptions['lookup'];
    const { port } = await server({ lookup });
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00   05 02 00 03 09'), Buffer.from('peer.test'), hex('00 00')]));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    const wrong = await peerConnect(lport, '127.0.0.1');
    cleanup.push(() => wrong.destroy());
    await wrong.whenClosed();
    const right = await peerConnect(lport, '127.0.0.7');
    cleanup.push(() => right.destroy());
    expect(toHex((await c.read(10)).subarray(0, 8))).to.equal('05 00 00 01 7f 00 00 07');

    const c2 = await client(port);
    c2.write(Buffer.concat([hex('05 01 00   05 02 00 03 07'), Buffer.from('bad.test'.slice(0, 7)), hex('00 00')]));
    await c2.read(2);
    expect(toHex(await c2.read(10))).to.equal('05 04 00 01 00 00 00 00 00 00');
    expect(asked).to.deep.equal(['peer.test', 'bad.tes']);
  });

  it('the request hook sees BIND and can deny it; bind: false refuses with 07', async () => {
    const { port } = await server({ onRequest: (ctx) => (ctx.request.command === 'bind' ? ctx.deny(0x02) : undefined) });
    const c = await client(port);
    c.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c.read(2);
    expect(toHex(await c.read(10))).to.equal('05 02 00 01 00 00 00 00 00 00');

    const off = await server({ bind: false });
    const c2 = await client(off.port);
    c2.write(hex('05 01 00   05 02 00 01 7f 00 00 01 00 00'));
    await c2.read(2);
    expect(toHex(await c2.read(10))).to.equal('05 07 00 01 00 00 00 00 00 00');
  });
});

async function expectRefused(port: number): Promise<void> {
  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.once('error', (e) => resolve(e as NodeJS.ErrnoException));
  });
  expect(err?.code, `listener on ${port} should be closed`).to.equal('ECONNREFUSED');
}

