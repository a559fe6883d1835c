/** TCP keepalive on both legs of a tunnel, and the source address of CONNECT's outbound connections. */
import { expect } from 'chai';
import net from 'node:net';
import { SocksServer, type SocksServerOptions } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, type Target } from '../support/server.js';
import { tcpSockets, type TcpSocketInfo } from '../support/proc-net.js';

async function withTunnel(options: SocksServerOptions, target: Target, f: (proxyPort: number, c: RawClient, server: SocksServer) => Promise<void>): Promise<void> {
  const server = new SocksServer(options);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const c = await RawClient.connect(port);
  try {
    c.write(Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01'), Buffer.from([target.port >> 8, target.port & 255])]));
    expect((await c.read(12))[3]).to.equal(0);
    await f(port, c, server);
  } finally {
    c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Seconds left on the keepalive timers of the established sockets that `which` picks (from /proc/net/tcp, as `ss -o` shows them). */
function keepaliveTimers(which: (s: TcpSocketInfo) => boolean): number[] {
  return tcpSockets().filter((s) => s.state === 'established' && which(s) && s.timer === 'keepalive').map((s) => s.timerSeconds);
}

describe('TCP keepalive and --outbound-address', () => {
  let target: Target;
  before(async () => {
    target = await startTarget(echo);
  });
  after(() => target.close());

  it('keepAlive is on by default on the client socket at once; the outbound socket is armed later (most tunnels end first)', async () => {
    await withTunnel({}, target, async (proxyPort) => {
      // The proxy's accepted socket (local port = proxyPort) and its outbound socket (remote port = target).
      const client = keepaliveTimers((s) => s.local.port === proxyPort);
      expect(client).to.have.length(1);
      expect(client[0]).to.be.above(58);
      // Armed within 20 s (a third of 60 s: keepalive-later.ts), not at connect: no timer yet.
      const out = tcpSockets().filter((s) => s.state === 'established' && s.remote.port === target.port);
      expect(out, 'the outbound leg is seen').to.have.length(1);
      expect(out[0]!.timer).to.equal('none');
    });
  });

  it('the outbound socket is armed with the configured idle time before that time has passed, so the first probe comes when it would have', async function () {
    this.timeout(10000);
    // 4.5 s: the server arms marked sockets every 1.5 s.
    await withTunnel({ keepAlive: 4500 }, target, async () => {
      const start = Date.now();
      let out: number[] = [];
      for (let i = 0; i < 60 && out.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        out = keepaliveTimers((s) => s.remote.port === target.port);
      }
      const at = Date.now() - start;
      expect(out, 'armed within 3 s').to.have.length(1);
      expect(at).to.be.below(3000);
      // The kernel counts the idle time already spent: the probe is due 4.5 s after the last segment, not 4.5 s after arming.
      expect(out[0]).to.be.above(0).and.at.most(4.5 - at / 1000 + 0.3);
    });
  });

  it('a reload to a shorter keepAlive arms the waiting outbound sockets within a third of the new delay', async function () {
    this.timeout(10000);
    await withTunnel({}, target, async (_port, _c, server) => {
      expect(keepaliveTimers((s) => s.remote.port === target.port), 'not armed at connect (60 s)').to.deep.equal([]);
      server.reconfigure({ keepAlive: 4500 });
      const start = Date.now();
      let out: number[] = [];
      for (let i = 0; i < 60 && out.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        out = keepaliveTimers((s) => s.remote.port === target.port);
      }
      expect(out, 'armed within 3 s of the reload (the old period was 20 s)').to.have.length(1);
      expect(Date.now() - start).to.be.below(3000);
      expect(out[0]).to.be.at.most(4.5);
    });
  });

  it('a keepAlive under 3 s is armed at connect', async () => {
    await withTunnel({ keepAlive: 2000 }, target, async () => {
      const out = keepaliveTimers((s) => s.remote.port === target.port);
      expect(out).to.have.length(1);
      expect(out[0]).to.be.at.most(2);
    });
  });

  it('keepAlive: false leaves both legs without keepalive', async () => {
    await withTunnel({ keepAlive: false }, target, async (proxyPort) => {
      const legs = tcpSockets().filter((s) => s.state === 'established' && (s.local.port === proxyPort || s.remote.port === target.port));
      expect(legs, 'both legs are seen').to.have.length.of.at.least(2);
      expect(keepaliveTimers((s) => s.local.port === proxyPort)).to.deep.equal([]);
      expect(keepaliveTimers((s) => s.remote.port === target.port)).to.deep.equal([]);
    });
  });

  it('the listening socket passes keepalive on (its delay too), and a reload that changes keepAlive applies to new connections', async function () {
    const server = new SocksServer({ keepAlive: 150_000 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const open = async (): Promise<RawClient> => {
      const c = await RawClient.connect(port);
      c.write(Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01'), Buffer.from([target.port >> 8, target.port & 255])]));
      expect((await c.read(12))[3]).to.equal(0);
      return c;
    };
    const clients: RawClient[] = [];
    try {
      clients.push(await open());
      // 150 s: the timer of the accepted socket is armed with the listening socket's delay.
      const first = keepaliveTimers((s) => s.local.port === port);
      expect(first).to.have.length(1);
      expect(first[0]).to.be.above(140).and.at.most(150);
      server.reconfigure({ keepAlive: false });
      clients.push(await open());
      // Still one timer: the first connection's; the one accepted after the reload has none.
      expect(keepaliveTimers((s) => s.local.port === port)).to.have.length(1);
      server.reconfigure({ keepAlive: 60_000 });
      clients.push(await open());
      expect(keepaliveTimers((s) => s.local.port === port)).to.have.length(2);
    } finally {
      for (const c of clients) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('outboundAddress is the source address the destination sees', async () => {
    const seen: string[] = [];
    const t = await startTarget((s) => {
      seen.push(s.remoteAddress!);
      s.pipe(s);
    });
    try {
      await withTunnel({ outboundAddress: '127.0.0.2' }, t, async (_p, c) => {
        c.write('x');
        await c.read(1);
      });
      expect(seen).to.deep.equal(['127.0.0.2']);
    } finally {
      await t.close();
    }
  });
});
