/**
 * connect()'s result and the leg to the first proxy: bytes that arrive in
 * the same segment as the reply are read from the socket (no `head` to
 * handle) unless keepHead asks for the raw form; socket options
 * (localAddress, keepAlive, noDelay, timeout) reach the TCP socket.
 */
import net from 'node:net';
import { tcpSockets } from '../support/proc-net.js';
import { expect } from 'chai';
import { connect } from '../../lib/client/connect.js';
import { Conn } from '../support/udp-bind.js';
import { startTarget, echo, type Target } from '../support/server.js';
import { startServer } from '../support/udp-bind.js';
import { hex } from '../support/helpers.js';

/** A SOCKS5 proxy that answers CONNECT with its reply and "EARLY" in one write. */
async function earlyProxy(): Promise<Target> {
  return startTarget((s) => {
    const c = new Conn(s);
    void (async () => {
      await c.read(3); // 05 01 00
      c.write(hex('0500'));
      await c.read(10); // 05 01 00 01 a.b.c.d pp
      c.write(Buffer.concat([hex('05000001 7f000001 0050'), Buffer.from('EARLY')]));
    })().catch(() => s.destroy());
  });
}

function firstData(s: NodeJS.ReadableStream, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no data')), ms);
    s.once('data', (d: Buffer) => {
      clearTimeout(t);
      resolve(d.toString());
    });
  });
}

describe('client: connect() result and socket options', () => {
  let proxy: Target;
  before(async () => {
    proxy = await earlyProxy();
  });
  after(() => proxy.close());

  it('bytes sent with the reply are read from the socket first; head is empty', async () => {
    const r = await connect({ proxy: { host: '127.0.0.1', port: proxy.port }, destination: { host: '127.0.0.1', port: 80 } });
    expect(r.head.length).to.equal(0);
    expect(await firstData(r.socket)).to.equal('EARLY');
    r.socket.destroy();
  });

  it('keepHead: true hands them over raw in head instead', async () => {
    const r = await connect({ proxy: { host: '127.0.0.1', port: proxy.port }, destination: { host: '127.0.0.1', port: 80 }, keepHead: true });
    expect(r.head.toString()).to.equal('EARLY');
    expect((r.socket as net.Socket).readableLength).to.equal(0);
    r.socket.destroy();
  });

  describe('the leg to the first proxy', () => {
    let srv: Awaited<ReturnType<typeof startServer>>;
    let target: Target;
    before(async () => {
      srv = await startServer();
      target = await startTarget(echo);
    });
    after(async () => {
      await srv.close();
      await target.close();
    });

    it('localAddress, keepAlive, noDelay and timeout reach the TCP socket', async () => {
      const sources: string[] = [];
      srv.server.on('tunnel', (_req, source) => sources.push(source.host));
      const r = await connect({
        proxy: `socks5://127.0.0.1:${srv.port}`,
        destination: { host: '127.0.0.1', port: target.port },
        localAddress: '127.0.0.5',
        keepAlive: 30000,
        noDelay: true,
        timeout: 45000,
      });
      const t = r.transport as net.Socket;
      expect(t.localAddress).to.equal('127.0.0.5');
      expect(t.timeout).to.equal(45000);
      // The kernel's view: the socket runs the keepalive timer.
      const mine = tcpSockets().filter((s) => s.local.host === '127.0.0.5' && s.local.port === t.localPort);
      expect(mine.map((s) => s.timer)).to.deep.equal(['keepalive']);
      await new Promise((res) => setTimeout(res, 50));
      expect(sources).to.deep.equal(['127.0.0.5']);
      r.socket.destroy();
    });

    it('a localAddress of the other family than every proxy address fails with EADDRNOTAVAIL (the unreachable proxy\'s cause)', async () => {
      let err: Error | undefined;
      try {
        await connect({ proxy: `socks5://127.0.0.1:${srv.port}`, destination: { host: '127.0.0.1', port: target.port }, localAddress: '::1' });
      } catch (e) {
        err = e as Error;
      }
      expect((err as { code?: string }).code).to.equal('ERR_SOCKS_PROXY_UNREACHABLE');
      expect((err?.cause as NodeJS.ErrnoException).code).to.equal('EADDRNOTAVAIL');
    });
  });
});
