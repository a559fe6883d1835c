/** sockskit's own client (lib/client/connect.ts, lib/client/udp.ts) against the server's BIND and UDP ASSOCIATE. */
import { expect } from 'chai';
import type { Duplex } from 'node:stream';
import { startServer, Conn, udpEcho } from '../support/udp-bind.js';
import { waitFor } from '../support/helpers.js';
import { bind } from '../../lib/client/connect.js';
import { udpAssociate } from '../../lib/client/udp.js';
import type { SocksServerOptions } from '../../lib/server/server.js';

function readN(s: Duplex, n: number, ms = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => reject(new Error(`timed out with ${buf.length}/${n} bytes`)), ms);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) {
        clearTimeout(t);
        s.removeListener('data', onData);
        resolve(buf);
      }
    };
    s.on('data', onData);
  });
}

describe('BIND and UDP ASSOCIATE with the sockskit client', function () {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function server(options: SocksServerOptions = {}) {
    const s = await startServer(options);
    cleanup.push(() => s.close());
    return s;
  }

  for (const version of [5, 4, '4a'] as const) {
    it(`BIND over SOCKS${version}: first reply is the listener, accepted carries the peer and its data both ways`, async () => {
      const lookup = ((host: string, _o: unknown, cb: (e: Error | null, a?: string, f?: number) => void) =>
        host === 'peer.test' ? cb(null, '127.0.0.1', 4) : cb(Object.assign(new Error('no'), { code: 'ENOTFOUND' }))) as unknown as SocksServerOptions['lookup'];
      const { port } = await server({ lookup });
      // SOCKS4a carries the expected peer as a name, resolved by the server's lookup.
      const host = version === '4a' ? 'peer.test' : '127.0.0.1';
      const b = await bind({ proxy: { host: '127.0.0.1', port, version }, destination: { host, port: 0 } });
      cleanup.push(() => b.close());
      expect(b.bound.type).to.equal('ipv4');
      expect(b.bound.host).to.equal('127.0.0.1');
      const peer = await Conn.open(b.bound.port);
      cleanup.push(() => peer.destroy());
      const acc = await b.accepted;
      cleanup.push(() => acc.socket.destroy());
      expect(acc.bound).to.deep.equal({ type: 'ipv4', host: '127.0.0.1', port: peer.socket.localPort });
      peer.write(Buffer.from('to-binder'));
      const got = Buffer.concat([acc.head, await readN(acc.socket, 9 - acc.head.length)]).toString();
      expect(got).to.equal('to-binder');
      acc.socket.write('to-peer');
      expect((await peer.read(7)).toString()).to.equal('to-peer');
    });
  }

  it('BIND: a wrong peer is refused and the client keeps waiting for the right one', async () => {
    const { port } = await server();
    const b = await bind({ proxy: { host: '127.0.0.1', port }, destination: { host: '127.0.0.1', port: 0 } });
    cleanup.push(() => b.close());
    const wrong = await Conn.open(b.bound.port, { localAddress: '127.0.0.2' });
    cleanup.push(() => wrong.destroy());
    await wrong.whenClosed();
    const right = await Conn.open(b.bound.port);
    cleanup.push(() => right.destroy());
    const acc = await b.accepted;
    cleanup.push(() => acc.socket.destroy());
    expect(acc.bound.port).to.equal(right.socket.localPort);
  });

  it('UDP ASSOCIATE: datagrams go out and come back with their source', async () => {
    const { port } = await server();
    const target = await udpEcho();
    cleanup.push(() => target.close());
    const u = await udpAssociate({ proxy: { host: '127.0.0.1', port } });
    cleanup.push(() => u.close());
    expect(u.relay.host).to.equal('127.0.0.1');
    const got = new Promise<{ data: Buffer; rinfo: { address: string; port: number } }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no datagram')), 3000);
      u.once('message', (data: Buffer, rinfo: { address: string; port: number }) => {
        clearTimeout(t);
        resolve({ data, rinfo });
      });
    });
    u.send('through', target.port, '127.0.0.1');
    const { data, rinfo } = await got;
    expect(data.toString()).to.equal('echo:through');
    expect(rinfo).to.include({ address: '127.0.0.1', port: target.port });
  });

  it('UDP ASSOCIATE: closing the association on the client ends it on the server', async () => {
    const { port, server: srv } = await server();
    const u = await udpAssociate({ proxy: { host: '127.0.0.1', port } });
    await waitFor(() => srv.connections === 1);
    u.close();
    await waitFor(() => srv.connections === 0);
  });
});

