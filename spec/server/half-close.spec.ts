/**
 * A half-close (FIN) at any moment never loses bytes in either direction,
 * and a client that half-closes and never reads is closed after the linger.
 * Everything on 127.0.0.1; every wait is bounded.
 */
import net from 'node:net';
import { Duplex } from 'node:stream';
import { expect } from 'chai';
import { hex, toHex, waitFor } from '../support/helpers.js';
import { eachRelayPath } from '../support/relay-paths.js';
import { startServer, target, client, drained, cleanup, connect5, handles, fillAndEnd, checkPattern } from '../support/harness.js';

describe('half-close never loses bytes', () => eachRelayPath(() => {
  afterEach(cleanup);

  it('greeting, request, data and FIN in one write: the destination sees the FIN and its reply arrives', async () => {
    const t = await target((s) => {
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('end', () => s.end(`reply-to:${data}`));
    });
    const { server, port } = await startServer();
    const c = await client(port);
    c.socket.end(Buffer.concat([hex('05 01 00'), connect5(t.port), Buffer.from('hello')]));
    const all = await c.readToEnd(5000);
    expect(toHex(all.subarray(0, 5))).to.equal('05 00 05 00 00');
    expect(all.subarray(12).toString()).to.equal('reply-to:hello');
    await drained(server);
  });

  it('pipelined FIN, then a reply that fills the path to a paused reader: every reply byte arrives', async function () {
    this.timeout(60000);
    let sent = -1;
    const t = await target((s) => {
      s.resume();
      void fillAndEnd(s).then((n) => (sent = n));
    });
    const { server, port } = await startServer();
    const c = await client(port);
    // Greeting, request and FIN in one go (like `printf ... | nc -N`).
    c.socket.pause();
    c.socket.end(Buffer.concat([hex('05 01 00'), connect5(t.port)]));
    await waitFor(() => sent >= 0, 50000, 'the target to fill the path and end');
    c.socket.resume();
    const all = await c.readToEnd(30000);
    expect(toHex(all.subarray(0, 5))).to.equal('05 00 05 00 00');
    const got = all.subarray(12);
    expect(got.length, 'reply bytes delivered').to.equal(sent);
    expect(checkPattern(got)).to.equal(-1);
    await drained(server);
  });

  it('the target ends first, the client fills the path to the paused target: every upload byte arrives', async function () {
    this.timeout(60000);
    let sock: net.Socket | undefined;
    const t = await target((s) => {
      sock = s;
      s.pause();
      s.end('hi');
    });
    const { server, port } = await startServer();
    const c = await client(port);
    c.write(hex('05 01 00'));
    expect(toHex(await c.read(2))).to.equal('05 00');
    c.write(connect5(t.port));
    expect(toHex(await c.read(10)).slice(0, 5)).to.equal('05 00');
    expect((await c.read(2)).toString()).to.equal('hi');
    await waitFor(() => c.ended, 5000, 'the client to see the FIN');
    const sent = await fillAndEnd(c.socket);
    await waitFor(() => sock !== undefined, 5000, 'the target connection');
    const parts: Buffer[] = [];
    let ended = false;
    sock!.on('data', (d: Buffer) => parts.push(d));
    sock!.on('end', () => (ended = true));
    sock!.on('close', () => (ended = true));
    sock!.resume();
    await waitFor(() => ended, 30000, 'the target to see the end');
    const got = Buffer.concat(parts);
    expect(got.length, 'upload bytes delivered').to.equal(sent);
    expect(checkPattern(got)).to.equal(-1);
    await drained(server);
  });
}));

// (JavaScript only: its upstream is a Duplex of the hook, which never goes to the splice relay.)
describe('relay linger at the server (a peer that never reads)', () => {
  afterEach(cleanup);

  it('server: a client that half-closes and never reads is closed lingerTimeout after the upstream ended cleanly', async function () {
    this.timeout(30000);
    let upstream: Duplex | undefined;
    const { server, port } = await startServer({
      lingerTimeout: 300,
      onRequest(ctx) {
        // An upstream that answers more than the path to the client holds, ends, and closes once the client's FIN reaches it.
        const up = (upstream = new Duplex({ allowHalfOpen: true, read() {}, write: (_c, _e, cb) => cb() }));
        ctx.relay(up);
        up.push(Buffer.alloc(32 * 1024 * 1024, 0x61));
        up.push(null);
      },
    });
    const before = handles();
    const c = await client(port);
    c.socket.pause(); // never reads
    c.socket.end(Buffer.concat([hex('05 01 00'), connect5(9)]));
    await waitFor(() => upstream?.destroyed === true, 5000, 'the upstream to close cleanly');
    const t0 = Date.now();
    await drained(server, 5000);
    expect(Date.now() - t0, 'closed after the linger, not before').to.be.above(200);
    c.destroy();
    await waitFor(() => handles() <= before, 3000, `handles back to ${before} (have ${handles()})`);
  });
});
