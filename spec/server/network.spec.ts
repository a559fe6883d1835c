/** TCP keepalive on both legs of a tunnel, and the source address of CONNECT's outbound connections. */
import { expect } from 'chai';
import net from 'node:net';
import { SocksServer, type SocksServerOptions } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, type Target } from '../support/server.js';
import { runProgram, requireProgram } from '../support/interop.js';

async function withTunnel(options: SocksServerOptions, target: Target, f: (proxyPort: number, c: RawClient) => Promise<void>): Promise<void> {
  const server = new SocksServer(options);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const c = await RawClient.connect(port);
  try {
    c.write(Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01'), Buffer.from([target.port >> 8, target.port & 255])]));
    expect((await c.read(12))[3]).to.equal(0);
    await f(port, c);
  } finally {
    c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** The keepalive timers `ss` shows for established sockets with local port `port` (seconds left). */
async function keepaliveTimers(ss: string, filter: string): Promise<string[]> {
  const r = await runProgram(ss, ['-tnoH', 'state', 'established', filter]);
  return [...r.stdout.matchAll(/timer:\(keepalive,([0-9.]+)(min|sec)/g)].map((m) => `${m[1]}${m[2]}`);
}

describe('TCP keepalive and --outbound-address', () => {
  let target: Target;
  before(async () => {
    target = await startTarget(echo);
  });
  after(() => target.close());

  it('keepAlive is on by default on the client socket and the outbound socket', async function () {
    const ss = requireProgram(this, 'ss');
    await withTunnel({}, target, async (proxyPort) => {
      // The proxy's accepted socket (sport = proxyPort) and its outbound socket (dport = target).
      expect(await keepaliveTimers(ss, `( sport = :${proxyPort} )`)).to.have.length(1);
      const out = await keepaliveTimers(ss, `( dport = :${target.port} )`);
      expect(out).to.have.length(1);
      expect(out[0]).to.match(/^(59|60|[0-9.]+min)/);
    });
  });

  it('keepAlive: false leaves both legs without keepalive', async function () {
    const ss = requireProgram(this, 'ss');
    await withTunnel({ keepAlive: false }, target, async (proxyPort) => {
      expect(await keepaliveTimers(ss, `( sport = :${proxyPort} )`)).to.deep.equal([]);
      expect(await keepaliveTimers(ss, `( dport = :${target.port} )`)).to.deep.equal([]);
    });
  });

  it('the listening socket passes keepalive on (its delay too), and a reload that changes keepAlive applies to new connections', async function () {
    const ss = requireProgram(this, 'ss');
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
      // 150 s: `ss` shows 2min (whole minutes) or 149sec.
      const first = await keepaliveTimers(ss, `( sport = :${port} )`);
      expect(first).to.have.length(1);
      expect(first[0]).to.match(/^(2min|149sec|150sec)/);
      server.reconfigure({ keepAlive: false });
      clients.push(await open());
      // Still one timer: the first connection's; the one accepted after the reload has none.
      expect(await keepaliveTimers(ss, `( sport = :${port} )`)).to.have.length(1);
      expect(await keepaliveTimers(ss, `( dport = :${target.port} )`)).to.have.length(1);
      server.reconfigure({ keepAlive: 60_000 });
      clients.push(await open());
      expect(await keepaliveTimers(ss, `( sport = :${port} )`)).to.have.length(2);
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
