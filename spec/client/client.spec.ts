/**
 * connect(), bind(), udpAssociate(), SocksAgent and the sockskit-connect
 * argument parser, against sockskit's own server (lib/server/server.ts) on
 * 127.0.0.1. The only name resolved for real is `localhost`.
 */
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { connect, parseProxy, bind, ConnectResult } from '../../lib/client/connect.js';
import { udpAssociate } from '../../lib/client/udp.js';
import { SocksAgent } from '../../lib/client/agent.js';
import { SocksServer, SocksServerOptions } from '../../lib/server/server.js';
import { bindHandler } from '../../lib/server/commands/bind.js';
import { udpHandler } from '../../lib/server/commands/udp.js';
import { LocalProtocolError, AuthError, ReplyError } from '../../lib/protocol/errors.js';
import { Method } from '../../lib/protocol/constants.js';
import { none } from '../../methods/none.js';
import { userpass } from '../../methods/userpass.js';
import type { AuthMethod, AuthStep, Encapsulation } from '../../lib/protocol/method.js';
import type { ByteQueue } from '../../lib/protocol/codec/byte-queue.js';
import { echoServer } from '../support/interop.js';
import { fixtureCerts } from '../support/certs.js';
import type { Duplex } from 'node:stream';
import { startSocksServer, type StartedServer } from '../support/socks-server.js';

function listen(options: SocksServerOptions): Promise<StartedServer> {
  return startSocksServer(options);
}

function readAll(socket: Duplex, head: Buffer, ms = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks = [head];
    const t = setTimeout(() => { socket.destroy(); reject(new Error('no end in time')); }, ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => { clearTimeout(t); socket.destroy(); resolve(Buffer.concat(chunks)); });
    socket.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

async function roundTrip(r: ConnectResult, text: string): Promise<string> {
  const p = readAll(r.socket, r.head);
  r.socket.end(text);
  return (await p).toString();
}

/**
 * A private method 0x81 with both halves: the server sends a 1-byte key,
 * then everything (request, reply, tunnel data) is XOR-ed with it. Proves
 * that connect() wraps the request, unwraps the reply and returns a wrapped
 * socket when a method encapsulates.
 */
function xorMethod(): AuthMethod {
  const enc = (k: number): Encapsulation => ({
    wrap: (b) => Buffer.from(b.map((x) => x ^ k)),
    unwrap: (b) => Buffer.from(b.map((x) => x ^ k)),
  });
  return {
    code: 0x81,
    name: 'xor',
    server: () => ({
      start: (): AuthStep => ({ kind: 'done', identity: 'xor', write: Buffer.from([0x3c]), encapsulation: enc(0x3c) }),
      receive: (): AuthStep => ({ kind: 'more' }),
    }),
    client: () => ({
      maxMessage: 1,
      receive: (q: ByteQueue): AuthStep => (q.length < 1 ? { kind: 'more' } : { kind: 'done', identity: null, encapsulation: enc(q.take(1)[0]!) }),
    }),
  };
}

describe('client', function () {
  this.timeout(10000);
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let open: { server: SocksServer; port: number };
  let auth: { server: SocksServer; port: number };
  const lookupLocalhost = (h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => {
    if (h === 'localhost') cb(null, '127.0.0.1', 4);
    else cb(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), '', 0);
  };

  before(async () => {
    echo = await echoServer();
    open = await listen({ methods: [none()], lookup: lookupLocalhost as never, bind: bindHandler({ timeout: 5000 }), udp: udpHandler() });
    auth = await listen({ methods: [userpass({ users: { alice: 's3c@ret:/' } })] });
  });
  after(async () => {
    open.server.close();
    auth.server.close();
    await echo.close();
  });

  describe('parseProxy', () => {
    it('schemes, default port, brackets, remote DNS', () => {
      expect(parseProxy('socks5://127.0.0.1')).to.deep.include({ host: '127.0.0.1', port: 1080, version: 5, remoteDns: false });
      expect(parseProxy('socks5h://[::1]:9050')).to.deep.include({ host: '::1', port: 9050, version: 5, remoteDns: true });
      expect(parseProxy('socks4://127.0.0.1:1')).to.deep.include({ version: 4, remoteDns: false });
      expect(parseProxy('socks4a://127.0.0.1:1')).to.deep.include({ version: '4a', remoteDns: true });
      expect(parseProxy({ host: '127.0.0.1', port: 1 })).to.deep.include({ version: 5, remoteDns: true });
      expect(parseProxy({ host: '127.0.0.1', port: 1, version: 4 })).to.deep.include({ remoteDns: false });
    });
    it('user:pass@ percent-decoded into userpass (offered before none); SOCKS4 user as USERID', () => {
      const hop = parseProxy('socks5h://al%69ce:s3c%40ret%3A%2F@127.0.0.1:1');
      expect(hop.methods.map((m) => m.code)).to.deep.equal([Method.UsernamePassword, Method.NoAuth]);
      expect(parseProxy('socks4://bob@127.0.0.1:1').userId).to.equal('bob');
    });
    it('rejects other schemes and bad ports, without echoing a password', () => {
      expect(() => parseProxy('http://127.0.0.1:1')).to.throw(LocalProtocolError, /unsupported proxy scheme http/);
      expect(() => parseProxy('socks5://127.0.0.1:0')).to.throw(LocalProtocolError, /invalid proxy port/);
      expect(() => parseProxy('not a url:pw@')).to.throw(LocalProtocolError);
    });
  });

  describe('against sockskit\'s server', () => {
    it('SOCKS5 CONNECT, object proxy; bound is the server\'s outgoing address', async () => {
      const r = await connect({ proxy: { host: '127.0.0.1', port: open.port }, destination: { host: '127.0.0.1', port: echo.port } });
      expect(r.bound.host).to.equal('127.0.0.1');
      expect(await roundTrip(r, 'hello')).to.equal('hello');
    });

    it('userpass from a URL with percent-encoded password', async () => {
      const r = await connect({ proxy: `socks5h://alice:s3c%40ret%3A%2F@127.0.0.1:${auth.port}`, destination: { host: '127.0.0.1', port: echo.port } });
      expect(r.methods[0]?.code).to.equal(Method.UsernamePassword);
      expect(await roundTrip(r, 'authenticated')).to.equal('authenticated');
    });

    it('wrong password: AuthError', async () => {
      let err: unknown;
      try {
        await connect({ proxy: `socks5h://alice:nope@127.0.0.1:${auth.port}`, destination: { host: '127.0.0.1', port: echo.port } });
      } catch (e) { err = e; }
      expect(err).to.be.instanceOf(AuthError);
    });

    it('SOCKS4a sends the name (the server resolves localhost)', async () => {
      const r = await connect({ proxy: `socks4a://127.0.0.1:${open.port}`, destination: { host: 'localhost', port: echo.port } });
      expect(await roundTrip(r, 'four-a')).to.equal('four-a');
    });

    it('SOCKS4 resolves locally with the injected lookup (family 4)', async () => {
      const asked: unknown[] = [];
      const lookup = (h: string, o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => { asked.push([h, o]); cb(null, '127.0.0.1', 4); };
      const r = await connect({ proxy: `socks4://127.0.0.1:${open.port}`, destination: { host: 'localhost', port: echo.port }, lookup });
      expect(asked).to.deep.equal([['localhost', { family: 4, all: true }]]);
      expect(await roundTrip(r, 'four')).to.equal('four');
    });

    it('the server\'s refusal is a ReplyError with its code (05)', async () => {
      const closed = await new Promise<number>((res) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => res(p)); }); });
      let err: unknown;
      try {
        await connect({ proxy: { host: '127.0.0.1', port: open.port }, destination: { host: '127.0.0.1', port: closed } });
      } catch (e) { err = e; }
      expect(err).to.be.instanceOf(ReplyError);
      expect((err as ReplyError).reply).to.equal(0x05);
    });

    it('a chain of three mixed hops, each with its own credentials', async () => {
      const r = await connect({
        proxy: [
          `socks4://127.0.0.1:${open.port}`,
          { host: '127.0.0.1', port: auth.port, methods: [userpass({ username: 'alice', password: 's3c@ret:/' })] },
          `socks5h://127.0.0.1:${open.port}`,
        ],
        destination: { host: 'localhost', port: echo.port },
      });
      expect(r.methods.map((m) => m?.name)).to.deep.equal([undefined, 'userpass', 'none']);
      expect(await roundTrip(r, 'three hops')).to.equal('three hops');
    });

    it('over an existing stream (the `socket` option)', async () => {
      const sock = net.connect({ host: '127.0.0.1', port: open.port });
      await new Promise<void>((r) => sock.once('connect', r));
      const r = await connect({ proxy: { host: '127.0.0.1', port: open.port }, socket: sock, destination: { host: '127.0.0.1', port: echo.port } });
      expect(r.transport).to.equal(sock);
      expect(await roundTrip(r, 'reused')).to.equal('reused');
    });

    it('data the target sends first arrives (in head or on the socket)', async () => {
      const banner = await echoServer('BANNER\n');
      try {
        const r = await connect({ proxy: { host: '127.0.0.1', port: open.port }, destination: { host: '127.0.0.1', port: banner.port } });
        expect(await roundTrip(r, 'x')).to.equal('BANNER\nx');
      } finally {
        await banner.close();
      }
    });

    it('an encapsulating method: request, reply and tunnel all wrapped', async () => {
      const x = await listen({ methods: [xorMethod()] });
      try {
        const r = await connect({ proxy: { host: '127.0.0.1', port: x.port, methods: [xorMethod()] }, destination: { host: '127.0.0.1', port: echo.port } });
        expect(r.encapsulation).to.not.equal(undefined);
        expect(r.socket).to.not.equal(r.transport);
        // On the wire the transport carries XOR-ed bytes; through `socket` they are plain.
        expect(await roundTrip(r, 'secret text')).to.equal('secret text');
      } finally {
        x.server.close();
      }
    });

    it('BIND: first reply, then the peer and data through accepted', async () => {
      const b = await bind({ proxy: { host: '127.0.0.1', port: open.port }, destination: { host: '127.0.0.1', port: 0 } });
      expect(b.bound.host).to.equal('127.0.0.1');
      const peer = net.connect({ host: '127.0.0.1', port: b.bound.port });
      peer.on('error', () => {});
      const acc = await b.accepted;
      await new Promise<void>((r) => (peer.connecting ? peer.once('connect', r) : r()));
      expect(acc.bound.port).to.equal(peer.localPort);
      const got = readAll(acc.socket, acc.head);
      peer.end('from the peer');
      expect((await got).toString()).to.equal('from the peer');
      peer.destroy();
    });

    it('UDP ASSOCIATE through sockskit\'s relay', async () => {
      const target = dgram.createSocket('udp4');
      target.on('message', (m, r) => target.send(Buffer.concat([Buffer.from('re:'), m]), r.port, r.address));
      await new Promise<void>((r) => target.bind(0, '127.0.0.1', r));
      const u = await udpAssociate({ proxy: { host: '127.0.0.1', port: open.port } });
      try {
        const got = new Promise<Buffer>((res, rej) => {
          const t = setTimeout(() => rej(new Error('no datagram')), 3000);
          u.once('message', (d: Buffer) => { clearTimeout(t); res(d); });
        });
        const timer = setInterval(() => u.send('dgram', target.address().port, '127.0.0.1'), 200);
        u.send('dgram', target.address().port, '127.0.0.1');
        try {
          expect((await got).toString()).to.equal('re:dgram');
        } finally {
          clearInterval(timer);
        }
      } finally {
        u.close();
        target.close();
      }
      expect(u.control.destroyed).to.equal(true);
    });
  });

  describe('SocksAgent', () => {
    it('http through the proxy, with keep-alive pooling', async () => {
      const web = http.createServer((req, res) => res.end(`you asked for ${req.url}`));
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
      const port = (web.address() as net.AddressInfo).port;
      const agent = new SocksAgent({ proxy: `socks5h://127.0.0.1:${open.port}`, agent: { keepAlive: true } });
      try {
        for (const path of ['/a', '/b']) {
          const body = await new Promise<string>((resolve, reject) => {
            http.get({ host: 'localhost', port, path, agent }, (res) => {
              let b = '';
              res.setEncoding('utf8');
              res.on('data', (c) => { b += c; });
              res.on('end', () => resolve(b));
            }).on('error', reject);
          });
          expect(body).to.equal(`you asked for ${path}`);
        }
      } finally {
        agent.destroy();
        web.close();
        web.closeAllConnections();
      }
    });

    it('https: TLS over the tunnel with SNI', async () => {
      const certs = fixtureCerts();
      const ca = readFileSync(certs.ca);
      let sni: string | undefined;
      const web = https.createServer(certs.leaf, (req, res) => {
        sni = (req.socket as unknown as { servername?: string }).servername;
        res.end('secure hello');
      });
      await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
      const port = (web.address() as net.AddressInfo).port;
      const agent = new SocksAgent({ proxy: `socks5h://127.0.0.1:${open.port}`, protocol: 'https:', tls: { ca } });
      try {
        const body = await new Promise<string>((resolve, reject) => {
          https.get({ host: 'localhost', port, path: '/', agent }, (res) => {
            let b = '';
            res.on('data', (c) => { b += c; });
            res.on('end', () => resolve(b));
          }).on('error', reject);
        });
        expect(body).to.equal('secure hello');
        expect(sni).to.equal('localhost');
      } finally {
        agent.destroy();
        web.close();
        web.closeAllConnections();
      }
    });
  });
});
