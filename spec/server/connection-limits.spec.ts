/**
 * Stallers cannot lock out a legitimate client: at the global limit the
 * connection longest in its handshake is closed to make room (never a
 * tunnel), and maxConnectionsPerSource caps what one address may hold.
 */
import { expect } from 'chai';
import { hex, toHex } from '../support/helpers.js';
import { startServer, Conn, portHex } from '../support/udp-bind.js';
import { startTarget, echo, waitFor } from '../support/server.js';
import type { SocksServerOptions } from '../../lib/server/server.js';

describe('connection limits: eviction of stalled handshakes, per-source limit', function () {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function setup(options: Record<string, unknown>) {
    const target = await startTarget(echo);
    cleanup.push(() => target.close());
    const s = await startServer(options as SocksServerOptions);
    cleanup.push(() => s.close());
    return { target, s };
  }
  async function open(port: number, localAddress?: string) {
    const c = await Conn.open(port, { localAddress });
    cleanup.push(() => c.destroy());
    return c;
  }
  async function tunnel(port: number, target: number, localAddress?: string) {
    const c = await open(port, localAddress);
    c.write(hex(`05 01 00  05 01 00 01 7f 00 00 01 ${portHex(target)}`));
    expect(toHex((await c.read(12)).subarray(0, 4))).to.equal('05 00 05 00');
    c.write(Buffer.from('ping'));
    expect((await c.read(4)).toString()).to.equal('ping');
    return c;
  }

  it('at maxConnections 5 with 5 stallers, a new client gets in at once: the oldest staller is closed', async () => {
    const { target, s } = await setup({ maxConnections: 5, handshakeTimeout: 15000 });
    const stallers: Conn[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await open(s.port);
      c.write(hex('05'));
      stallers.push(c);
      await waitFor(() => s.server.connections === i + 1, 2000, 'the staller to be counted');
    }
    const t0 = Date.now();
    await tunnel(s.port, target.port);
    expect(Date.now() - t0, 'no wait for the stallers\' deadline').to.be.below(2000);
    await stallers[0]!.whenClosed();
    expect(stallers.slice(1).map((c) => c.closed)).to.deep.equal([false, false, false, false]);
    expect(s.server.stats().errors['ERR_SOCKS_TIMEOUT'], 'counted as an (early) handshake timeout').to.equal(1);
  });

  it('tunnels are never evicted: at the limit with only tunnels, the new client is refused', async () => {
    const { target, s } = await setup({ maxConnections: 2 });
    const a = await tunnel(s.port, target.port);
    const b = await tunnel(s.port, target.port);
    const c = await open(s.port);
    await c.whenClosed();
    for (const t of [a, b]) {
      t.write(Buffer.from('again'));
      expect((await t.read(5)).toString()).to.equal('again');
    }
    expect(s.server.stats().refused).to.equal(1);
  });

  it('maxConnectionsPerSource 2: a third connection from 127.0.0.1 is refused, 127.0.0.2 still gets in', async () => {
    const { target, s } = await setup({ maxConnectionsPerSource: 2 });
    const a = await open(s.port);
    a.write(hex('05'));
    await tunnel(s.port, target.port);
    const third = await open(s.port);
    await third.whenClosed();
    expect(a.closed, 'the first is kept').to.equal(false);
    await tunnel(s.port, target.port, '127.0.0.2');
    expect(s.server.stats().refused).to.equal(1);
    // A slot frees when one closes.
    a.destroy();
    await waitFor(() => s.server.connections === 2, 2000, 'the close to be counted');
    await tunnel(s.port, target.port);
  });
});
