/**
 * The request hook misused (two decisions, a relay after the client left)
 * never crashes the server and leaves nothing open.
 */
import net from 'node:net';
import { expect } from 'chai';
import { hex, toHex, waitFor, sleep } from '../support/helpers.js';
import { LOCAL, startServer, target, client, drained, noCrash, cleanup, connect5 } from '../support/harness.js';

describe('the request hook misused never crashes the server', () => {
  afterEach(cleanup);

  it('accept() twice: one tunnel, no uncaught exception', async () => {
    let conns = 0;
    const t = await target((s) => {
      conns++;
      s.pipe(s);
    });
    const { server, port } = await startServer({
      onRequest(ctx) {
        void ctx.accept();
        void ctx.accept();
      },
    });
    const seen = await noCrash(async () => {
      const c = await client(port);
      c.write(hex('05 01 00'));
      expect(toHex(await c.read(2))).to.equal('05 00');
      c.write(connect5(t.port));
      expect(toHex(await c.read(10)).slice(0, 5)).to.equal('05 00');
      c.write('ping');
      expect((await c.read(4)).toString()).to.equal('ping');
      // Let any second dial settle.
      await sleep(200);
      c.destroy();
      await drained(server);
    });
    expect(seen.map(String)).to.deep.equal([]);
    expect(conns).to.be.at.most(2);
  });

  it('accept() then deny() while the dial is pending: no uncaught exception, all closed', async () => {
    const t = await target((s) => s.pipe(s));
    const { server, port } = await startServer({
      onRequest(ctx) {
        void ctx.accept();
        try {
          ctx.deny(2);
        } catch {
          /* a second decision may be refused */
        }
      },
    });
    const seen = await noCrash(async () => {
      const c = await client(port);
      c.write(hex('05 01 00'));
      expect(toHex(await c.read(2))).to.equal('05 00');
      c.write(connect5(t.port));
      await c.read(10);
      await sleep(200);
      c.destroy();
      await drained(server);
    });
    expect(seen.map(String)).to.deep.equal([]);
  });
});

describe('ctx.relay() after the client left', () => {
  afterEach(cleanup);

  it('the application stream given to ctx.relay() is closed when the client already reset', async () => {
    let targetClosed = false;
    const t = await target((s) => {
      s.on('end', () => (targetClosed = true));
      s.on('close', () => (targetClosed = true));
    });
    let clientGone: (() => void) | undefined;
    const gone = new Promise<void>((r) => (clientGone = r));
    const { server, port } = await startServer({
      async onRequest(ctx) {
        await gone; // the hook works while the client resets
        const up = net.connect(t.port, LOCAL);
        up.on('error', () => {});
        await new Promise((r) => up.once('connect', r));
        ctx.relay(up);
      },
    });
    const c = await client(port);
    c.write(hex('05 01 00'));
    expect(toHex(await c.read(2))).to.equal('05 00');
    c.write(connect5(t.port));
    await waitFor(() => server.connections === 1, 3000, 'the request to arrive');
    await sleep(50);
    c.socket.resetAndDestroy();
    await waitFor(() => server.connections === 0, 3000, 'the server to see the reset');
    clientGone!();
    await waitFor(() => targetClosed, 3000, 'the application upstream to be closed');
    await drained(server);
  });
});
