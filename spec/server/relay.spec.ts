/**
 * The relay through a real SocksServer on 127.0.0.1: half-open tunnels are
 * freed (issue: a FIN and then silence kept a tunnel forever), and every byte
 * arrives intact (sha256 both ways) whatever the pace of writers and readers,
 * through each read path (reused buffers written without a copy, copies, and
 * the 'data' fallback for accepted sockets) and through GSS-API encapsulation.
 * The linger and counter specs run on both relay paths (JavaScript, splice).
 */
import net from 'node:net';
import { expect } from 'chai';
import { readBuffersInUse, dial } from '../../lib/transport/socket-reader.js';
import { relay, RelayCounter } from '../../lib/transport/relay.js';
import { sleep } from '../support/helpers.js';
import { waitFor } from '../support/server.js';
import { eachRelayPath } from '../support/relay-paths.js';
import { LOCAL, sockets, startServer, cleanup, target, tunnel, SOURCE, send, receive } from '../support/relay.js';

describe('relay: half-open tunnels are freed after lingerTimeout', () => eachRelayPath(() => {
  afterEach(cleanup);

  it('the client sends FIN and the destination stays silent: both closed after the linger', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 300 });
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    d.resume(); // reads the FIN, never answers, never ends
    const t0 = Date.now();
    c.end();
    await waitFor(() => server.connections === 0 && server.registry['upstreams'].size === 0, 4000, `the half-open tunnel to be freed (open: ${server.connections})`);
    expect(Date.now() - t0, 'not before the linger').to.be.at.least(250);
  });

  it('the destination sends FIN and the client stays silent: both closed after the linger', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 300 });
    const t = await target();
    const c = await tunnel(port, t.port);
    c.resume();
    const d = await t.next();
    d.end();
    await waitFor(() => server.connections === 0, 4000, `the half-open tunnel to be freed (open: ${server.connections})`);
  });

  it('a half-closed tunnel that still carries data is not cut: every byte arrives', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 300 });
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    const got = receive(c, 'fast');
    c.end(); // the client is done sending
    d.resume();
    // The destination answers in 20 pieces 100 ms apart: 2 s, far beyond the 300 ms linger.
    for (let i = 0; i < 20; i++) {
      d.write(Buffer.alloc(1000, i));
      await sleep(100);
    }
    d.end();
    const { bytes } = await got.ended;
    expect(bytes).to.equal(20000);
    await waitFor(() => server.connections === 0, 3000, 'the tunnel to close once both ends are done');
  });

  it('lingerTimeout 0 keeps a half-open tunnel', async function () {
    this.timeout(10000);
    const { server, port } = await startServer({ lingerTimeout: 0 });
    const t = await target();
    const c = await tunnel(port, t.port);
    (await t.next()).resume();
    c.end();
    await sleep(500);
    expect(server.connections).to.equal(1);
  });
}));

describe('relay: read buffers', function () {
  this.timeout(30000);
  afterEach(cleanup);

  // splice 'off': these are about the JavaScript relay's reads, which a hand-over would end.
  it('an accepted client socket is read into reused buffers on this Node (not the fallback)', async () => {
    const { port } = await startServer({ splice: 'off' });
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    d.pause(); // the destination does not read: the upload stalls with a read buffer held
    const chunk = Buffer.alloc(256 * 1024, 7);
    for (let i = 0; i < 64 && readBuffersInUse() === 0; i++) {
      c.write(chunk);
      await sleep(5);
    }
    expect(readBuffersInUse(), 'a streaming reader of the accepted socket holds its own buffer').to.be.at.least(1);
    c.destroy();
  });

  it('a tunnel that goes quiet after a burst holds no read buffer of its own', async () => {
    const { port } = await startServer({ splice: 'off' });
    const t = await target();
    const c = await tunnel(port, t.port);
    const d = await t.next();
    const got = { up: 0, down: 0 };
    d.on('data', (b: Buffer) => (got.up += b.length));
    c.on('data', (b: Buffer) => (got.down += b.length));
    c.resume();
    const size = 4_000_003;
    for (let sent = 0; sent < size; sent += 100_001) {
      const n = Math.min(100_001, size - sent);
      const okC = c.write(SOURCE.subarray(0, n));
      const okD = d.write(SOURCE.subarray(1, n + 1));
      if (!okC) await new Promise((r) => c.once('drain', r));
      if (!okD) await new Promise((r) => d.once('drain', r));
    }
    await waitFor(() => got.up === size && got.down === size, 10000, `all bytes (up ${got.up}, down ${got.down})`);
    await waitFor(() => readBuffersInUse() === 0, 2000, `no buffer held by the quiet tunnel (${readBuffersInUse()})`);
    // Still open and still relaying.
    c.write('ping');
    await waitFor(() => got.up === size + 4, 2000, 'a byte after the quiet');
  });
});

describe('relay: counters', function () {
  this.timeout(20000);
  afterEach(cleanup);
  eachRelayPath((p) => {

  /** A connected pair on 127.0.0.1: [the relay's side, the test's side]; the relay's side is accepted or dial()ed. */
  async function pair(relaySide: 'accepted' | 'dialled'): Promise<[net.Socket, net.Socket]> {
    const t = await target();
    const out = relaySide === 'dialled' ? dial({ host: LOCAL, port: t.port, allowHalfOpen: true }) : net.connect({ host: LOCAL, port: t.port, allowHalfOpen: true });
    sockets.push(out);
    out.on('error', () => {});
    await new Promise((r) => out.once('connect', r));
    const acc = await t.next();
    return relaySide === 'dialled' ? [out, acc] : [acc, out];
  }

  it('counts the bytes each way (head included) and says why it tore the tunnel down', async () => {
    // client ⇄ [c1 | relay | u1] ⇄ upstream: c1 is an accepted socket, u1 a dialled one.
    const [c1, client] = await pair('accepted');
    const [u1, upstream] = await pair('dialled');
    const counter = { up: 0, down: 0 } as RelayCounter;
    relay(c1, u1, Buffer.from('head'), { counter, lingerTimeout: 200, spliceAfter: p.spliceAfter });
    const atUp = receive(upstream, 'fast');
    const atClient = receive(client, 'fast');
    await Promise.all([send(client, 1_000_003, 'fast'), send(upstream, 2_000_001, 'slow')]);
    expect((await atUp.ended).bytes).to.equal(1_000_007);
    expect((await atClient.ended).bytes).to.equal(2_000_001);
    expect(counter).to.deep.equal({ up: 1_000_007, down: 2_000_001 });
    const [c2, client2] = await pair('accepted');
    const [u2, up2] = await pair('dialled');
    const counter2 = { up: 0, down: 0 } as RelayCounter;
    relay(c2, u2, Buffer.alloc(0), { counter: counter2, lingerTimeout: 200, spliceAfter: p.spliceAfter });
    up2.resume();
    client2.end(); // then silence: freed by the linger
    await waitFor(() => c2.destroyed && u2.destroyed, 3000, 'the linger');
    expect(counter2.end).to.equal('linger');
  });
  });
});
