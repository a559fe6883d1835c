/**
 * SocksServer, the Node adapter, on 127.0.0.1 with tiny node targets.
 * Replies are checked byte for byte; every error path must leave no socket
 * open (server.connections and the upstream set back to 0).
 */
import net from 'node:net';
import { expect } from 'chai';
import { SocksServer, SocksServerOptions, LookupFunction, RequestContext } from '../../lib/server/server.js';
import { parseCidr } from '../../lib/server/rules.js';
import { SocksError } from '../../lib/protocol/errors.js';
import { encodeRequest, SocksAddress } from '../../lib/protocol/codec/index.js';
import { encodeSocks4Request } from '../../lib/protocol/codec/socks4.js';
import { none } from '../../methods/none.js';
import { userpass } from '../../methods/userpass.js';
import { hex, toHex, prng } from '../support/helpers.js';
import { RawClient, waitFor, startTarget, echo, closedPort, fullBacklog, Target } from '../support/server.js';
import { startSocksServer, type StartedServer } from '../support/socks-server.js';

const LOCAL = '127.0.0.1';
const fail5 = (rep: number) => `05 ${rep.toString(16).padStart(2, '0')} 00 01 00 00 00 00 00 00`;
const S4_REJECT = '00 5b 00 00 00 00 00 00';

const connect5 = (host: string, port: number) => encodeRequest(1, addr(host, port));
function addr(host: string, port: number): SocksAddress {
  return net.isIPv4(host) ? { type: 'ipv4', host, port } : net.isIPv6(host) ? { type: 'ipv6', host, port } : { type: 'domain', host, port };
}

/** A dns.lookup stand-in: answers from `table`, or fails with an errno code. */
function fakeLookup(answer: (host: string) => { address: string; family: number } | { code: string } | 'hang', calls: string[] = []): LookupFunction {
  const f = (host: string, _opts: unknown, cb: (err: NodeJS.ErrnoException | null, address?: string, family?: number) => void) => {
    calls.push(host);
    const a = answer(host);
    if (a === 'hang') return;
    setImmediate(() => ('code' in a ? cb(Object.assign(new Error(`lookup ${host} failed`), { code: a.code })) : cb(null, a.address, a.family)));
  };
  return f as unknown as LookupFunction;
}

let servers: SocksServer[] = [];
let targets: Target[] = [];
let clients: RawClient[] = [];
let cleanups: (() => void)[] = [];

function startServer(options: SocksServerOptions = {}): Promise<StartedServer> {
  return startSocksServer(options, LOCAL, servers);
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  clients.push(c);
  return c;
}

async function target(onConnection: (s: net.Socket) => void, host = LOCAL): Promise<Target> {
  const t = await startTarget(onConnection, host);
  targets.push(t);
  return t;
}

/** Nothing left open: client connections and tunnel upstreams. */
async function drained(server: SocksServer, timeout = 3000): Promise<void> {
  await waitFor(() => server.connections === 0 && server.registry['upstreams'].size === 0, timeout, `connections 0 (have ${server.connections}, upstreams ${server.registry['upstreams'].size})`);
}

/** Greeting with no auth, then `request`; returns the reply bytes (length n). */
async function handshake(c: RawClient, request: Buffer, n = 10): Promise<string> {
  c.write(hex('05 01 00'));
  expect(toHex(await c.read(2))).to.equal('05 00');
  c.write(request);
  return toHex(await c.read(n));
}

/** Expects exactly `reply` and then the server closing the connection. */
async function expectRefused(c: RawClient, request: Buffer, reply: string): Promise<void> {
  expect(await handshake(c, request)).to.equal(reply);
  expect(toHex(await c.readToEnd())).to.equal('');
}

const be16 = (n: number) => toHex(Buffer.from([n >> 8, n & 0xff]));

/** Per-test cleanup, registered in each describe (a root-level hook would run for every spec file). */
async function cleanup(): Promise<void> {
  for (const c of clients) c.destroy();
  for (const f of cleanups) f();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await Promise.all(targets.map((t) => t.close()));
  servers = [];
  targets = [];
  clients = [];
  cleanups = [];
}

describe('SocksServer: CONNECT', () => {
  afterEach(cleanup);

  it('relays both ways; BND is the real local address of the outbound socket', async () => {
    const seen: { address?: string; port?: number }[] = [];
    const t = await target((s) => {
      seen.push({ address: s.remoteAddress, port: s.remotePort });
      echo(s);
    });
    const { server, port } = await startServer();
    const c = await client(port);
    const reply = await handshake(c, connect5(LOCAL, t.port));
    await waitFor(() => seen.length === 1);
    expect(seen[0]!.address).to.equal(LOCAL);
    expect(reply).to.equal(`05 00 00 01 7f 00 00 01 ${be16(seen[0]!.port!)}`);
    c.write('ping');
    expect((await c.read(4)).toString()).to.equal('ping');
    c.socket.end();
    expect((await c.readToEnd()).length).to.equal(0);
    await drained(server);
  });

  it('IPv6 destination [::1]: BND has ATYP 04 and the outbound port', async function () {
    let t: Target;
    try {
      t = await target(echo, '::1');
    } catch {
      console.log('      (skipped: no IPv6 loopback here)');
      return this.skip();
    }
    const ports: number[] = [];
    t.server.on('connection', (s) => ports.push(s.remotePort!));
    const { server, port } = await startServer();
    const c = await client(port);
    const reply = await handshake(c, connect5('::1', t.port), 22);
    await waitFor(() => ports.length === 1);
    expect(reply).to.equal(`05 00 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 ${be16(ports[0]!)}`);
    c.write('six');
    expect((await c.read(3)).toString()).to.equal('six');
    c.destroy();
    await drained(server);
  });

  it('a domain goes through the lookup option', async () => {
    const t = await target(echo);
    const calls: string[] = [];
    const { server, port } = await startServer({ lookup: fakeLookup(() => ({ address: LOCAL, family: 4 }), calls) });
    const c = await client(port);
    const reply = await handshake(c, connect5('target.test', t.port));
    expect(reply.slice(0, 11)).to.equal('05 00 00 01');
    expect(calls).to.deep.equal(['target.test']);
    c.write('dns');
    expect((await c.read(3)).toString()).to.equal('dns');
    c.destroy();
    await drained(server);
  });

  it('SOCKS4 CONNECT: 00 5A with the outbound address, then relay', async () => {
    const ports: number[] = [];
    const t = await target((s) => {
      ports.push(s.remotePort!);
      echo(s);
    });
    const { server, port } = await startServer();
    const c = await client(port);
    c.write(Buffer.concat([encodeSocks4Request(1, addr(LOCAL, t.port), 'bob'), Buffer.from('early')]));
    const reply = toHex(await c.read(8));
    await waitFor(() => ports.length === 1);
    expect(reply).to.equal(`00 5a ${be16(ports[0]!)} 7f 00 00 01`);
    expect((await c.read(5)).toString()).to.equal('early');
    c.destroy();
    await drained(server);
  });
});

describe('SocksServer: failure replies', () => {
  afterEach(cleanup);

  it('ECONNREFUSED → 05 (a closed port)', async () => {
    const dead = await closedPort();
    const { server, port, errors } = await startServer();
    await expectRefused(await client(port), connect5(LOCAL, dead), fail5(5));
    await drained(server);
    expect(errors.map((e) => e.reply)).to.include(5);
  });

  for (const code of ['ENOTFOUND', 'EAI_AGAIN']) {
    it(`lookup failing with ${code} → 04`, async () => {
      const { server, port } = await startServer({ lookup: fakeLookup(() => ({ code })) });
      await expectRefused(await client(port), connect5('nowhere.test', 80), fail5(4));
      await drained(server);
    });
  }

  it('connect timeout → 06 (a loopback listener whose accept queue is full)', async function () {
    // The SYN to a full accept queue is dropped by Linux, so the dial stays in
    // SYN-SENT until connectTimeout fires: a real timeout, on loopback only.
    const bl = await fullBacklog();
    cleanups.push(bl.close);
    if (!bl.ok) {
      console.log('      (skipped: could not fill a loopback accept queue here)');
      return this.skip();
    }
    const { server, port } = await startServer({ connectTimeout: 200, handshakeTimeout: 10000 });
    await expectRefused(await client(port), connect5(LOCAL, bl.port), fail5(6));
    await drained(server);
  });

  it('a client that leaves during a hanging dial: all closed once the dial gives up', async function () {
    // Reading is paused while the request is decided, so the client's FIN is
    // only seen when the dial ends; connectTimeout bounds that.
    const bl = await fullBacklog();
    cleanups.push(bl.close);
    if (!bl.ok) return this.skip();
    const { server, port } = await startServer({ connectTimeout: 300 });
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00'), connect5(LOCAL, bl.port)]));
    expect(toHex(await c.read(2))).to.equal('05 00');
    await new Promise((r) => setTimeout(r, 50));
    c.destroy();
    await drained(server, 5000);
  });

  it('a lookup that never answers is bounded by connectTimeout: exactly 06', async () => {
    const { server, port, errors } = await startServer({ lookup: fakeLookup(() => 'hang'), connectTimeout: 200, handshakeTimeout: 10000 });
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00'), connect5('slow.test', 80)]));
    expect(toHex(await c.read(2))).to.equal('05 00');
    expect(toHex(await c.readToEnd(3000))).to.equal(fail5(6));
    await drained(server);
    expect(errors.some((e) => e.code === 'ERR_SOCKS_TIMEOUT')).to.equal(true);
  });

  it('a request hook that never decides is answered 06 at the handshake deadline', async () => {
    const { server, port, errors } = await startServer({ onRequest: () => new Promise<void>(() => {}), handshakeTimeout: 200 });
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00'), connect5(LOCAL, 9)]));
    expect(toHex(await c.read(2))).to.equal('05 00');
    expect(toHex(await c.readToEnd(3000))).to.equal(fail5(6));
    await drained(server);
    expect(errors.some((e) => e.code === 'ERR_SOCKS_TIMEOUT')).to.equal(true);
  });

  it('ruleset deny 127.0.0.0/8 → 02, for an IP, for a name, and for its IPv4-mapped IPv6 form', async () => {
    const t = await target(echo);
    const rules = { deny: [parseCidr('127.0.0.0/8')] };
    const { server, port } = await startServer({ rules, lookup: fakeLookup(() => ({ address: LOCAL, family: 4 })) });
    await expectRefused(await client(port), connect5(LOCAL, t.port), fail5(2));
    await expectRefused(await client(port), connect5('localhost', t.port), fail5(2));
    await expectRefused(await client(port), connect5('::ffff:127.0.0.1', t.port), fail5(2));
    await drained(server);
    expect(t.sockets).to.have.length(0);
  });

  it('ruleset allow list: only listed destinations pass', async () => {
    const t = await target(echo);
    const { server, port } = await startServer({ rules: { allow: [parseCidr('10.0.0.0/8')] } });
    await expectRefused(await client(port), connect5(LOCAL, t.port), fail5(2));
    const { port: port2 } = await startServer({ rules: { allow: [parseCidr('127.0.0.1')] } });
    expect((await handshake(await client(port2), connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    await drained(server);
  });

  it('BIND and UDP ASSOCIATE → 07 when not among `commands`; SOCKS4 BIND → 5B', async () => {
    let called = 0;
    const spy = () => {
      called++;
    };
    const { server, port } = await startServer({ commands: ['connect'], bind: spy, udp: spy });
    await expectRefused(await client(port), encodeRequest(2, addr('0.0.0.0', 0)), fail5(7));
    await expectRefused(await client(port), encodeRequest(3, addr('0.0.0.0', 0)), fail5(7));
    const c4 = await client(port);
    c4.write(encodeSocks4Request(2, addr(LOCAL, 80)));
    expect(toHex(await c4.readToEnd())).to.equal(S4_REJECT);
    expect(called).to.equal(0);
    await drained(server);
  });

  it('BIND and UDP ASSOCIATE → 07 when their handlers are switched off (false)', async () => {
    const { server, port } = await startServer({ bind: false, udp: false });
    await expectRefused(await client(port), encodeRequest(2, addr('0.0.0.0', 0)), fail5(7));
    await expectRefused(await client(port), encodeRequest(3, addr('0.0.0.0', 0)), fail5(7));
    await drained(server);
  });

  it('Tor RESOLVE probe (CMD F0) → 05 07 00 01 00000000 0000', async () => {
    const { server, port } = await startServer();
    await expectRefused(await client(port), hex('05 F0 00 03 07' + Buffer.from('0.0.0.0').toString('hex') + '00 00'), fail5(7));
    await drained(server);
  });
});

describe('SocksServer: the request hook', () => {
  afterEach(cleanup);

  it('handoff: the hook gets `head` with the bytes pipelined behind the request', async () => {
    let seen: { head: string; dest: SocksAddress } | undefined;
    const { server, port } = await startServer({
      onRequest: (ctx) => {
        const { socket, head } = ctx.handoff({ reply: 0 });
        seen = { head: head.toString(), dest: ctx.request.destination };
        socket.resume(); // handed over paused (docs/decisions.md)
        socket.write(`got:${head.toString()}`);
        socket.on('data', (d: Buffer) => socket.write(`more:${d.toString()}`));
        socket.on('end', () => socket.end());
      },
    });
    const c = await client(port);
    // Greeting, request and payload in ONE write, as Electrum's probe does.
    c.write(Buffer.concat([hex('05 01 00'), connect5('electrum.test', 50001), Buffer.from('{"id":0}\n')]));
    expect(toHex(await c.read(12))).to.equal('05 00 05 00 00 01 00 00 00 00 00 00');
    expect((await c.read(13)).toString()).to.equal('got:{"id":0}\n');
    expect(seen).to.deep.equal({ head: '{"id":0}\n', dest: { type: 'domain', host: 'electrum.test', port: 50001 } });
    c.write('x');
    expect((await c.read(6)).toString()).to.equal('more:x');
    c.destroy();
    await drained(server);
  });

  it('handoff without a reply writes nothing after the method selection', async () => {
    const { server, port } = await startServer({
      onRequest: (ctx) => {
        const { socket, head } = ctx.handoff();
        socket.resume();
        socket.end(`raw:${head.toString()}`);
      },
    });
    const c = await client(port);
    c.write(Buffer.concat([hex('05 01 00'), connect5(LOCAL, 1), Buffer.from('abc')]));
    expect((await c.readToEnd()).toString('latin1')).to.equal('\x05\x00raw:abc');
    c.socket.end();
    await drained(server);
  });

  const denials: [string, (ctx: RequestContext) => void, string][] = [
    ['deny(03)', (ctx) => ctx.deny(3), fail5(3)],
    ['deny() defaults to 02', (ctx) => ctx.deny(), fail5(2)],
    ['deny(0) never sends a success', (ctx) => ctx.deny(0), fail5(1)],
  ];
  for (const [name, hook, reply] of denials) {
    it(`${name} writes exactly ${reply}`, async () => {
      const { server, port } = await startServer({ onRequest: hook });
      await expectRefused(await client(port), connect5(LOCAL, 1), reply);
      await drained(server);
    });
  }

  it('SOCKS4 deny → 00 5B', async () => {
    const { server, port } = await startServer({ onRequest: (ctx) => ctx.deny(2) });
    const c = await client(port);
    c.write(encodeSocks4Request(1, addr(LOCAL, 80), 'u'));
    expect(toHex(await c.readToEnd())).to.equal(S4_REJECT);
    await drained(server);
  });

  const throwers: [string, SocksServerOptions['onRequest'], number][] = [
    ['a sync throw with code ECONNREFUSED', () => { throw Object.assign(new Error('nope'), { code: 'ECONNREFUSED' }); }, 5],
    ['an async rejection with code EHOSTUNREACH', async () => { throw Object.assign(new Error('nope'), { code: 'EHOSTUNREACH' }); }, 4],
    ['a SocksError with reply 02', () => { throw new SocksError('ERR_SOCKS_DENIED', 'policy', 2); }, 2],
    ['a plain Error (message says "refused")', () => { throw new Error('connection refused'); }, 1],
    ['a thrown string', () => { throw 'oops'; }, 1],
  ];
  for (const [name, hook, rep] of throwers) {
    it(`hook throwing ${name} → ${rep.toString(16).padStart(2, '0')}`, async () => {
      const { server, port } = await startServer({ onRequest: hook });
      await expectRefused(await client(port), connect5(LOCAL, 1), fail5(rep));
      await drained(server);
    });
  }

  it('an async hook that returns without deciding accepts (default CONNECT)', async () => {
    const t = await target(echo);
    const { server, port } = await startServer({ onRequest: async (ctx) => { expect(ctx.request.command).to.equal('connect'); } });
    const c = await client(port);
    expect((await handshake(c, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    c.write('ok');
    expect((await c.read(2)).toString()).to.equal('ok');
    c.destroy();
    await drained(server);
  });

  it('ctx.relay(stream): success reply, then the application stream', async () => {
    const t = await target(echo);
    const { server, port } = await startServer({
      onRequest: (ctx) => {
        const up = net.connect(t.port, LOCAL);
        up.once('connect', () => ctx.relay(up, { type: 'ipv4', host: '192.0.2.1', port: 7 }));
      },
    });
    const c = await client(port);
    expect(await handshake(c, connect5('anything.test', 1))).to.equal('05 00 00 01 c0 00 02 01 00 07');
    c.write('via');
    expect((await c.read(3)).toString()).to.equal('via');
    c.destroy();
    await drained(server);
  });
});

describe('SocksServer: tunnels', () => {
  afterEach(cleanup);

  it('half-close: the client ends, the target sees end and can still answer', async () => {
    const got: string[] = [];
    const t = await target((s) => {
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('end', () => {
        got.push(data);
        s.end(`reply-to:${data}`);
      });
    });
    const { server, port } = await startServer();
    const c = await client(port);
    expect((await handshake(c, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    c.socket.end('hello');
    expect((await c.readToEnd()).toString()).to.equal('reply-to:hello');
    expect(got).to.deep.equal(['hello']);
    await drained(server);
  });

  it('half-close: the target ends, the client sees end and can still send', async () => {
    const got: string[] = [];
    const t = await target((s) => {
      let data = '';
      s.end('bye');
      s.on('data', (d) => (data += d));
      s.on('end', () => got.push(data));
    });
    const { server, port } = await startServer();
    const c = await client(port);
    expect((await handshake(c, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    const before = await c.read(3);
    expect(before.toString()).to.equal('bye');
    await waitFor(() => c.ended, 3000, 'client to see the end');
    c.socket.end('late data');
    await waitFor(() => got.length === 1, 3000, 'target to see the end');
    expect(got).to.deep.equal(['late data']);
    await drained(server);
  });

  it('an error on one side destroys both', async () => {
    const t = await target((s) => setTimeout(() => s.resetAndDestroy(), 20));
    const { server, port } = await startServer();
    const c = await client(port);
    expect((await handshake(c, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    await waitFor(() => c.ended || c.closed, 3000, 'the client side to be closed by the server');
    await drained(server);
  });

  it('backpressure: a target that stops reading bounds what the server holds', async function () {
    this.timeout(60000);
    let targetSock: net.Socket | undefined;
    const t = await target((s) => {
      targetSock = s;
      s.pause();
      s.on('end', () => s.end());
    });
    const { server, port } = await startServer();
    const c = await client(port);
    expect((await handshake(c, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    await waitFor(() => targetSock !== undefined);
    // Write a known pattern until the whole path is full: the client's write()
    // says stop and no 'drain' follows. A server that buffers without bound
    // would let the client write the whole CAP.
    const CHUNK = 256 * 1024;
    const CAP = 128 * 1024 * 1024;
    const pattern = Buffer.alloc(CHUNK);
    for (let i = 0; i < CHUNK; i++) pattern[i] = i % 251;
    let sent = 0;
    for (;;) {
      if (sent >= CAP) break;
      sent += CHUNK;
      if (!c.socket.write(pattern)) {
        const drained = await new Promise<boolean>((r) => {
          const timer = setTimeout(() => r(false), 500);
          c.socket.once('drain', () => {
            clearTimeout(timer);
            r(true);
          });
        });
        if (!drained) break;
      }
    }
    expect(sent, 'the client could write without limit: the server buffers everything').to.be.below(CAP);
    const clientSide = [...server.registry.open][0] as net.Socket;
    const upstream = [...server.registry['upstreams']][0] as net.Socket;
    // What the server holds in user space: its write queue to the target and
    // its read buffer from the client. Both stay near one chunk + high-water mark.
    expect(upstream.writableLength, 'server → target write queue').to.be.at.most(256 * 1024);
    expect(clientSide.readableLength, 'server read buffer from the client').to.be.at.most(256 * 1024);
    expect(clientSide.isPaused(), 'the server stopped reading the client').to.equal(true);
    // Let the target read: every byte arrives, in order.
    let received = 0;
    let bad = -1;
    targetSock!.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length && bad < 0; i++) if (d[i] !== (received + i) % CHUNK % 251) bad = received + i;
      received += d.length;
    });
    targetSock!.resume();
    await waitFor(() => received >= sent || bad >= 0, 30000, `all ${sent} bytes at the target (have ${received})`);
    expect(bad).to.equal(-1);
    expect(received).to.equal(sent);
    c.destroy();
    await drained(server);
  });
});

describe('SocksServer: limits and garbage', () => {
  afterEach(cleanup);

  it('the handshake deadline closes a stalled client (nothing written for a partial greeting)', async () => {
    const { server, port, errors } = await startServer({ handshakeTimeout: 150 });
    const c = await client(port);
    c.write(hex('05 01'));
    expect(toHex(await c.readToEnd(3000))).to.equal('');
    const c2 = await client(port);
    c2.write(hex('05 01 00 05 01 00 03 20'));
    expect(toHex(await c2.readToEnd(3000))).to.equal('05 00');
    await drained(server);
    expect(errors.filter((e) => e.code === 'ERR_SOCKS_TIMEOUT')).to.have.length(2);
  });

  it('maxConnections refuses the extra connection when all are tunnels, then serves again', async () => {
    const t = await target(echo);
    const { server, port } = await startServer({ maxConnections: 2 });
    // Tunnels: a connection still in its handshake would be closed to make room.
    const a = await client(port);
    expect((await handshake(a, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    const b = await client(port);
    expect((await handshake(b, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    await waitFor(() => server.connections === 2);
    const extra = await client(port);
    expect(toHex(await extra.readToEnd())).to.equal('');
    expect(server.connections).to.equal(2);
    a.destroy();
    b.destroy();
    await drained(server);
    const d = await client(port);
    expect((await handshake(d, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    d.destroy();
    await drained(server);
  });

  it('first byte G (HTTP): closed, nothing written', async () => {
    const { server, port } = await startServer();
    const c = await client(port);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(toHex(await c.readToEnd())).to.equal('');
    await drained(server);
  });

  it('never crashes on garbage, and serves a valid client afterwards', async () => {
    const t = await target(echo);
    const { server, port } = await startServer({ methods: [userpass({ users: { alice: 's3cret' } }), none()], handshakeTimeout: 300 });
    const r = prng(0xbad);
    const batch: Promise<void>[] = [];
    let lingering = 0;
    for (let i = 0; i < 40; i++) {
      const n = 1 + Math.floor(r() * 700);
      const junk = Buffer.alloc(n);
      for (let k = 0; k < n; k++) junk[k] = Math.floor(r() * 256);
      if (i % 3 === 0) junk[0] = 5;
      if (i % 3 === 1) junk[0] = 4;
      batch.push(
        (async () => {
          const c = await client(port);
          c.write(junk);
          if (i % 2) c.socket.end();
          // The server must close every one of them itself (deadline 300 ms).
          await waitFor(() => c.ended || c.closed, 5000, `garbage connection ${i} to be closed`).catch(() => {
            lingering++;
            c.destroy();
          });
        })(),
      );
    }
    await Promise.all(batch);
    expect(lingering, 'connections the server left open').to.equal(0);
    await drained(server);
    const ok = await client(port);
    expect((await handshake(ok, connect5(LOCAL, t.port))).slice(0, 5)).to.equal('05 00');
    ok.destroy();
    await drained(server);
  });

  it('SOCKS4 is refused with 00 5B when users are configured', async () => {
    const { server, port } = await startServer({ methods: [userpass({ users: { alice: 's3cret' } })] });
    const c = await client(port);
    c.write(encodeSocks4Request(1, addr(LOCAL, 80), 'alice'));
    expect(toHex(await c.readToEnd())).to.equal(S4_REJECT);
    await drained(server);
  });

  it('an empty username is refused unless configured', async () => {
    const t = await target(echo);
    const auth = (u: string, p: string) => Buffer.concat([hex('05 01 02'), Buffer.from([1, u.length]), Buffer.from(u), Buffer.from([p.length]), Buffer.from(p)]);
    const { server, port } = await startServer({ methods: [userpass({ users: { alice: 's3cret' } })] });
    const c = await client(port);
    c.write(auth('', 's3cret'));
    expect(toHex(await c.readToEnd())).to.equal('05 02 01 01');
    const { port: port2 } = await startServer({ methods: [userpass({ users: { '': 'guest' } })] });
    const c2 = await client(port2);
    c2.write(Buffer.concat([auth('', 'guest'), connect5(LOCAL, t.port)]));
    expect(toHex(await c2.read(4))).to.equal('05 02 01 00');
    expect(toHex(await c2.read(2))).to.equal('05 00');
    c2.destroy();
    await drained(server);
  });

  it('userpass over the adapter: right password relays, wrong one gets 01 01 and a close', async () => {
    const t = await target(echo);
    const { server, port } = await startServer({ methods: [userpass({ verify: async (u, p) => u === 'alice' && p === 's3cret' })] });
    const good = await client(port);
    good.write(Buffer.concat([hex('05 01 02 01 05'), Buffer.from('alice'), hex('06'), Buffer.from('s3cret'), connect5(LOCAL, t.port), Buffer.from('hi')]));
    expect(toHex(await good.read(4))).to.equal('05 02 01 00');
    expect(toHex(await good.read(2))).to.equal('05 00');
    await good.read(8);
    expect((await good.read(2)).toString()).to.equal('hi');
    const bad = await client(port);
    bad.write(Buffer.concat([hex('05 01 02 01 05'), Buffer.from('alice'), hex('05'), Buffer.from('wrong'), connect5(LOCAL, t.port)]));
    expect(toHex(await bad.readToEnd())).to.equal('05 02 01 01');
    good.destroy();
    await drained(server);
  });
});
