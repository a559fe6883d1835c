/**
 * Adversarial review of the Node adapters: lost bytes at a half-close,
 * crashes from misuse or from a peer resetting at awkward moments, leaks.
 * Everything on 127.0.0.1; every wait is bounded.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { expect } from 'chai';
import { SocksServer, SocksServerOptions } from '../../lib/server/server.js';
import { connect } from '../../lib/client/connect.js';
import { encodeRequest, encodeUdpDatagram, makeAddress } from '../../lib/protocol/codec/index.js';
import { udpHandler } from '../../lib/server/udp-relay.js';
import { udpAssociate } from '../../lib/client/udp.js';
import { identMethod } from '../../methods/ident/index.js';
import { Duplex } from 'node:stream';
import { relay } from '../../lib/transport/relay.js';
import { encapsulate } from '../../lib/transport/encapsulation-stream.js';
import { hex, toHex } from '../support/helpers.js';
import { RawClient, waitFor, startTarget, Target } from '../support/server.js';

const LOCAL = '127.0.0.1';

let servers: SocksServer[] = [];
let targets: Target[] = [];
let clients: RawClient[] = [];
let extra: (() => void)[] = [];

async function startServer(options: SocksServerOptions = {}): Promise<{ server: SocksServer; port: number }> {
  const server = new SocksServer(options);
  server.on('clientError', () => {});
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, LOCAL, () => r()));
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function target(onConnection: (s: net.Socket) => void): Promise<Target> {
  const t = await startTarget(onConnection, LOCAL);
  targets.push(t);
  return t;
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

async function drained(server: SocksServer, timeout = 5000): Promise<void> {
  await waitFor(() => server.connections === 0 && server['upstreams'].size === 0, timeout, `connections 0 (have ${server.connections}, upstreams ${server['upstreams'].size})`);
}

/** Uncaught exceptions and unhandled rejections seen while `f` runs (mocha's own handler is bypassed). */
async function noCrash(f: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onErr = (e: unknown) => seen.push(e);
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onErr);
  try {
    await f();
  } finally {
    process.removeListener('uncaughtException', onErr);
    process.removeListener('unhandledRejection', onErr);
    for (const l of saved) process.on('uncaughtException', l);
  }
  return seen;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const connect5 = (port: number) => encodeRequest(1, { type: 'ipv4', host: LOCAL, port });

/** TCP sockets, listeners and UDP sockets open in this process. */
const handles = () => process.getActiveResourcesInfo().filter((x) => x === 'TCPSocketWrap' || x === 'TCPServerWrap' || x === 'UDPWrap').length;

async function cleanup(): Promise<void> {
  for (const c of clients) c.destroy();
  for (const f of extra) f();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await Promise.all(targets.map((t) => t.close()));
  servers = [];
  targets = [];
  clients = [];
  extra = [];
}

/**
 * Writes a counting pattern until the whole path is full (a write says stop
 * and no 'drain' follows within 300 ms), then ends. Resolves with the count.
 */
async function fillAndEnd(s: net.Socket, cap = 256 * 1024 * 1024): Promise<number> {
  const CHUNK = 64 * 1024;
  let sent = 0;
  while (sent < cap) {
    const b = Buffer.alloc(CHUNK);
    for (let i = 0; i < CHUNK; i++) b[i] = (sent + i) % 251;
    sent += CHUNK;
    if (!s.write(b)) {
      const drained = await new Promise<boolean>((r) => {
        const t = setTimeout(() => r(false), 300);
        s.once('drain', () => {
          clearTimeout(t);
          r(true);
        });
      });
      if (!drained) break;
    }
  }
  s.end();
  return sent;
}

function checkPattern(b: Buffer): number {
  for (let i = 0; i < b.length; i++) if (b[i] !== i % 251) return i;
  return -1;
}

describe('review: half-close never loses bytes', () => {
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
});

/**
 * A socket-like Duplex: writes reach `sink` only after a delay (a full
 * kernel buffer), destroy() discards what is still queued (as closing a
 * socket does), and it closes itself once both directions are done.
 */
function slowSocket(sink: Buffer[], delay = 30): Duplex {
  let dead = false;
  return new Duplex({
    allowHalfOpen: true,
    read() {},
    write(chunk: Buffer, _e, cb) {
      setTimeout(() => {
        if (!dead) sink.push(chunk);
        cb();
      }, delay);
    },
    destroy(err, cb) {
      dead = true;
      cb(err);
    },
  });
}

describe('review: relay() and encapsulate() flush before closing', () => {
  it('relay: the other side closing cleanly does not discard bytes still being written', async () => {
    const toClient: Buffer[] = [];
    const client = slowSocket(toClient); // slow to write to (a slow reader behind it)
    const upstream = slowSocket([], 0);
    relay(client, upstream, Buffer.alloc(0));
    client.push(null); // the client half-closes after its request
    upstream.push(Buffer.from('the reply'));
    upstream.push(null); // the destination answers and ends
    await waitFor(() => client.destroyed && upstream.destroyed, 3000, 'both sides closed');
    expect(Buffer.concat(toClient).toString()).to.equal('the reply');
  });

  it('encapsulate: end() finishes only after the inner stream has flushed', async () => {
    const wire: Buffer[] = [];
    const inner = slowSocket(wire);
    const identity = { wrap: (b: Buffer) => Buffer.concat([Buffer.from('['), b, Buffer.from(']')]), unwrap: (b: Buffer) => b, pending: 0 };
    const outer = encapsulate(inner, identity);
    outer.resume();
    inner.push(null); // the peer has ended
    outer.end('last words');
    await waitFor(() => outer.destroyed && inner.destroyed, 3000, 'both closed');
    expect(Buffer.concat(wire).toString()).to.equal('[last words]');
  });
});

describe('review: encapsulate() over a stream that already ended', () => {
  it('the wrapper ends too (a FIN that came during the handshake)', async () => {
    const inner = new Duplex({ allowHalfOpen: true, read() {}, write(_c, _e, cb) { cb(); } });
    inner.push(null);
    inner.resume();
    await new Promise((r) => inner.once('end', r));
    const outer = encapsulate(inner, { wrap: (b: Buffer) => b, unwrap: (b: Buffer) => b, pending: 0 });
    let ended = false;
    outer.on('end', () => (ended = true));
    outer.resume();
    await waitFor(() => ended, 2000, 'the wrapper to end');
  });
});

describe('review: the request hook misused never crashes the server', () => {
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

describe('review: ctx.relay() after the client left', () => {
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

describe('review: client connect() when the proxy resets', () => {
  afterEach(cleanup);

  it('a reset during the local lookup (socks5://) rejects connect(), no uncaught error', async () => {
    let resets = 0;
    const proxy = await target((s) => {
      setTimeout(() => {
        resets++;
        s.resetAndDestroy();
      }, 50);
    });
    const seen = await noCrash(async () => {
      const lookup = (host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => {
        if (host === LOCAL) return cb(null, LOCAL, 4);
        // The destination name: answer only after the proxy has reset us.
        void waitFor(() => resets > 0, 3000).then(() => setTimeout(() => cb(null, LOCAL, 4), 100));
      };
      const err = await connect({
        proxy: `socks5://${LOCAL}:${proxy.port}`,
        destination: { host: 'example.test', port: 80 },
        lookup,
        handshakeTimeout: 3000,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, 'connect() must reject').to.be.instanceOf(Error);
    });
    expect(seen.map(String)).to.deep.equal([]);
  });
});

describe('review: UDP ASSOCIATE control connection', () => {
  afterEach(cleanup);

  it('request and FIN in one write: the association ends like a FIN that comes later', async () => {
    const { server, port } = await startServer();
    const c = await client(port);
    c.socket.end(Buffer.concat([hex('05 01 00'), encodeRequest(3, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    const all = await c.readToEnd(3000);
    expect(toHex(all.subarray(0, 5))).to.equal('05 00 05 00 00');
    await drained(server);
  });
});

describe('review: server.close() with everything open', () => {
  afterEach(cleanup);

  it('a tunnel, a BIND wait and a UDP association: every socket, listener and UDP socket is closed', async () => {
    const count = () => {
      const r = process.getActiveResourcesInfo();
      return r.filter((x) => x === 'TCPSocketWrap' || x === 'TCPServerWrap' || x === 'UDPWrap').length;
    };
    const t = await target((s) => s.pipe(s));
    const before = count();
    const { server, port } = await startServer();
    const tunnel = await client(port);
    tunnel.write(Buffer.concat([hex('05 01 00'), connect5(t.port)]));
    expect(toHex(await tunnel.read(12)).slice(0, 11)).to.equal('05 00 05 00');
    const bindc = await client(port);
    bindc.write(Buffer.concat([hex('05 01 00'), encodeRequest(2, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    expect(toHex(await bindc.read(12)).slice(0, 11)).to.equal('05 00 05 00');
    const udpc = await client(port);
    udpc.write(Buffer.concat([hex('05 01 00'), encodeRequest(3, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    expect(toHex(await udpc.read(12)).slice(0, 11)).to.equal('05 00 05 00');
    await new Promise<void>((r) => server.close(() => r()));
    await waitFor(() => [tunnel, bindc, udpc].every((c) => c.ended || c.closed), 3000, 'every client to see the close');
    for (const c of [tunnel, bindc, udpc]) c.destroy();
    await drained(server);
    await waitFor(() => count() <= before, 3000, `handles back to ${before} (have ${count()}: ${process.getActiveResourcesInfo().join(',')})`);
  });
});

describe('review: relay linger (a peer that never reads)', () => {
  afterEach(cleanup);

  it('relay: once one side closed cleanly, the other is destroyed lingerTimeout later if it cannot flush', async () => {
    // Writes never complete: the peer behind this side never reads.
    const stuck = new Duplex({ allowHalfOpen: true, read() {}, write() {} });
    const upstream = slowSocket([], 0);
    relay(stuck, upstream, Buffer.alloc(0), { lingerTimeout: 200 });
    stuck.push(null); // the client half-closes after its request
    upstream.push(Buffer.from('the reply'));
    upstream.push(null); // the destination answers and ends
    await waitFor(() => upstream.destroyed, 3000, 'the upstream to close cleanly');
    const t0 = Date.now();
    await waitFor(() => stuck.destroyed, 3000, 'the stuck side to be destroyed after the linger');
    expect(Date.now() - t0).to.be.within(100, 2000);
  });

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

describe('review: ident lookups end with the client connection', () => {
  afterEach(cleanup);

  for (const how of ['the client resets', 'server.close() runs'] as const) {
    it(`${how} during a lookup: the identd connection closes at once, no handle leaks`, async () => {
      const asked: net.Socket[] = [];
      let identClosed = false;
      const identd = await target((s) => {
        asked.push(s); // silent: reads the query, never answers
        s.resume();
        s.on('end', () => {
          identClosed = true;
          s.destroy();
        });
        s.on('close', () => (identClosed = true));
      });
      const before = handles();
      const { server, port } = await startServer({ methods: [identMethod({ port: identd.port, timeout: 15000 })] });
      const seen = await noCrash(async () => {
        const c = await client(port);
        c.write(hex('05 01 00'));
        await waitFor(() => asked.length === 1, 3000, 'the ident lookup to connect');
        const t0 = Date.now();
        if (how === 'the client resets') c.socket.resetAndDestroy();
        else server.close();
        await waitFor(() => identClosed, 2000, 'the identd connection to close');
        expect(Date.now() - t0).to.be.below(2000);
        await drained(server);
        if (how === 'the client resets') server.close();
        c.destroy();
        await waitFor(() => handles() <= before, 3000, `handles back to ${before} (have ${handles()})`);
      });
      expect(seen.map(String)).to.deep.equal([]);
    });
  }
});

describe('review: UDP relay domain lookups are bounded', () => {
  afterEach(cleanup);

  async function associate(port: number): Promise<{ c: RawClient; relayPort: number }> {
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00'), encodeRequest(3, { type: 'ipv4', host: '0.0.0.0', port: 0 })]));
    const r = await c.read(12);
    expect(toHex(r.subarray(0, 4))).to.equal('05 00 05 00');
    return { c, relayPort: r.readUInt16BE(10) };
  }

  async function udpSocket(): Promise<dgram.Socket> {
    const u = dgram.createSocket('udp4');
    extra.push(() => u.close());
    await new Promise<void>((r) => u.bind(0, LOCAL, () => r()));
    return u;
  }

  async function flood(u: dgram.Socket, relayPort: number, dg: Buffer, n: number): Promise<void> {
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => new Promise<void>((r) => u.send(dg, relayPort, LOCAL, () => r()))));
      await new Promise((r) => setImmediate(r));
    }
  }

  for (const max of [undefined, 4]) {
    it(`1000 datagrams to a name whose lookup never answers start at most ${max ?? 'the default 16'} lookups (payloads held)`, async () => {
      let lookups = 0;
      const lookup = (() => {
        lookups++; // never answers: each started lookup holds one payload
      }) as unknown as SocksServerOptions['lookup'];
      const { server, port } = await startServer({ lookup, udp: udpHandler(max === undefined ? {} : { maxLookups: max }) });
      const { c, relayPort } = await associate(port);
      const u = await udpSocket();
      await flood(u, relayPort, encodeUdpDatagram(makeAddress('stuck.test', 9), Buffer.alloc(1024)), 1000);
      await waitFor(() => lookups > 0, 3000, 'the first lookup');
      await sleep(200);
      // None answers, so every lookup started still holds its datagram: this is the memory held.
      expect(lookups).to.equal(max ?? 16);
      c.destroy();
      await drained(server);
    });
  }

  it('a burst of datagrams to a name that resolves is relayed with one lookup (the answer is reused briefly)', async () => {
    let lookups = 0;
    const lookup = ((_h: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) => {
      lookups++;
      setTimeout(() => cb(null, LOCAL, 4), 5);
    }) as unknown as SocksServerOptions['lookup'];
    const sink = await udpSocket();
    let got = 0;
    sink.on('message', () => got++);
    const { server, port } = await startServer({ lookup });
    const { c, relayPort } = await associate(port);
    const u = await udpSocket();
    const dg = encodeUdpDatagram(makeAddress('sink.test', sink.address().port), Buffer.from('x'));
    // One first, so that the answer is known; then a burst.
    await flood(u, relayPort, dg, 1);
    await waitFor(() => got === 1, 3000, 'the first datagram');
    await flood(u, relayPort, dg, 200);
    await waitFor(() => got >= 150, 3000, `most of the burst (have ${got})`);
    expect(lookups).to.equal(1);
    c.destroy();
    await drained(server);
  });
});

describe('review: udpAssociate() when the proxy resets', () => {
  afterEach(cleanup);

  /** Answers the greeting and UDP ASSOCIATE with `reply`; reset() then resets the connection. */
  async function rogueProxy(reply: Buffer): Promise<{ port: number; reset: () => void }> {
    let sock: net.Socket | undefined;
    const proxy = await target((s) => {
      let got = 0;
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got === 3) s.write(hex('05 00'));
        else if (got >= 13) s.write(reply, () => (sock = s));
      });
    });
    return { port: proxy.port, reset: () => sock?.resetAndDestroy() };
  }

  // BND is a name (relay.test), so udpAssociate() resolves it, then binds its
  // datagram socket; the proxy resets (or ends) the control connection meanwhile.
  for (const how of ['resets', 'ends'] as const) {
    it(`the proxy ${how} the control connection while udpAssociate() resolves the relay and binds: rejects, no uncaught error, nothing left open`, async () => {
      const proxy = await rogueProxy(Buffer.concat([hex('05 00 00 03 0a'), Buffer.from('relay.test'), hex('00 35')]));
      const before = handles();
      let r: unknown;
      const seen = await noCrash(async () => {
        const lookup = (host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => {
          if (host === LOCAL) return cb(null, LOCAL, 4);
          if (how === 'resets') proxy.reset();
          else for (const t of targets) for (const s of t.sockets) s.end();
          setTimeout(() => cb(null, LOCAL, 4), 200);
        };
        r = await udpAssociate({ proxy: `socks5://${LOCAL}:${proxy.port}`, lookup, handshakeTimeout: 3000 }).then(
          (u) => {
            u.close();
            return u;
          },
          (e: unknown) => e,
        );
      });
      expect(seen.map(String), 'uncaught errors').to.deep.equal([]);
      expect(r, 'udpAssociate() must reject').to.be.instanceOf(Error);
      await waitFor(() => handles() <= before, 3000, `handles back to ${before} (have ${handles()})`);
    });
  }
});
