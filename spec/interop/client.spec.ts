/**
 * The client against SOCKS servers nobody here wrote, on 127.0.0.1 only:
 * Dante (danted) for SOCKS5/4/4a CONNECT, BIND and UDP ASSOCIATE, microsocks
 * for RFC 1929 username/password, a chain through both, and the
 * sockskit-connect program end to end. Targets are tiny node servers on
 * port 0; the only name ever resolved is `localhost`.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { spawn, ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { connect, bind, ConnectResult } from '../../lib/client/connect.js';
import { udpAssociate } from '../../lib/client/udp.js';
import { ReplyError, AuthError } from '../../lib/protocol/errors.js';
import type { Duplex } from 'node:stream';
import { requireProgram, freePort, spawnDaemon, stopAll, stopChild, tempDir, echoServer } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';
import { danteConfig } from '../support/dante.js';

const CONNECT_JS = PROGRAM.connect;

/** Writes `data`, half-closes, and collects everything until the other side ends (bounded). */
function roundTrip(socket: Duplex, head: Buffer, data: Buffer | string, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [head];
    const t = setTimeout(() => { socket.destroy(); reject(new Error(`no end within ${ms} ms; got ${Buffer.concat(chunks).length} bytes`)); }, ms);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => { clearTimeout(t); socket.destroy(); resolve(Buffer.concat(chunks)); });
    socket.on('error', (e) => { clearTimeout(t); reject(e); });
    socket.end(data);
  });
}

/**
 * Writes `data`, waits for as many bytes back, then closes. For paths through
 * microsocks, which closes both directions when the client half-closes.
 */
async function exchange(socket: Duplex, head: Buffer, data: string): Promise<string> {
  socket.write(data);
  const got = await readN(socket, Buffer.byteLength(data), head);
  socket.destroy();
  return got.toString();
}

/** Reads until `n` bytes arrived (bounded). */
function readN(socket: Duplex, n: number, head: Buffer = Buffer.alloc(0), ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = head;
    const done = (err?: Error) => { clearTimeout(t); socket.off('data', onData); socket.pause(); if (err) reject(err); else resolve(buf); };
    const onData = (c: Buffer) => { buf = Buffer.concat([buf, c]); if (buf.length >= n) done(); };
    const t = setTimeout(() => done(new Error(`only ${buf.length} of ${n} bytes within ${ms} ms`)), ms);
    if (buf.length >= n) return done();
    socket.on('data', onData);
    socket.resume();
  });
}

interface CliRun { code: number | null; stdout: string; stderr: string }
const children = new Set<ChildProcess>();

/**
 * Runs sockskit-connect with `input` on stdin; killed after `ms`. With
 * `holdStdin`, stdin ends only once `input` has come back on stdout (paths
 * through microsocks lose replies after a half-close).
 */
function runCli(args: string[], input: string, ms = 8000, holdStdin = false): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CONNECT_JS, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => {
      stdout += b;
      if (holdStdin && stdout.length >= input.length) child.stdin.end();
    });
    child.stderr.on('data', (b) => { stderr += b; });
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code) => { clearTimeout(t); children.delete(child); resolve({ code, stdout, stderr }); });
    child.stdin.on('error', () => {});
    if (holdStdin) child.stdin.write(input);
    else child.stdin.end(input);
  });
}

async function stopChildren(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, 500)));
}

describe('interop: client', function () {
  this.timeout(20000);
  let dantePort = 0;
  let microPort = 0;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let closedPort = 0;
  const tmp = tempDir('sockskit-interop-');
  /** Starts danted once (skips or fails visibly when it is missing). */
  async function ensureDante(ctx: Mocha.Context): Promise<void> {
    const danted = requireProgram(ctx, 'danted');
    if (dantePort) return;
    const port = await freePort();
    const conf = tmp.write('danted.conf', danteConfig(port));
    await spawnDaemon(danted, ['-f', conf], { readyPort: port, readyTimeout: 8000 });
    dantePort = port;
  }
  async function ensureMicro(ctx: Mocha.Context): Promise<void> {
    const ms = requireProgram(ctx, 'microsocks');
    if (microPort) return;
    const port = await freePort();
    await spawnDaemon(ms, ['-i', '127.0.0.1', '-p', String(port), '-u', 'alice', '-P', 's3cret'], { readyPort: port });
    microPort = port;
  }

  before(async function () {
    echo = await echoServer();
    closedPort = await freePort();
  });

  after(async () => {
    await stopChildren();
    await stopAll();
    await echo?.close();
    tmp.cleanup();
  });

  const dante = (v: string) => `${v}://127.0.0.1:${dantePort}`;
  const micro = (creds = 'alice:s3cret') => `socks5h://${creds}@127.0.0.1:${microPort}`;

  describe('Dante', function () {
    before(async function () {
      await ensureDante(this);
    });

    it('SOCKS5 CONNECT to an IPv4 address', async () => {
      const r = await connect({ proxy: { host: '127.0.0.1', port: dantePort }, destination: { host: '127.0.0.1', port: echo.port } });
      expect(r.bound.type).to.equal('ipv4');
      expect(r.bound.host).to.equal('127.0.0.1');
      const back = await roundTrip(r.socket, r.head, 'hello dante\n');
      expect(back.toString()).to.equal('hello dante\n');
    });

    it('socks5h: the name localhost is sent to and resolved by Dante', async () => {
      let lookups = 0;
      const lookup = (_h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => { lookups++; cb(null, '127.0.0.1', 4); };
      const r = await connect({ proxy: dante('socks5h'), destination: { host: 'localhost', port: echo.port }, lookup });
      expect(lookups, 'no local lookup for socks5h').to.equal(0);
      expect((await roundTrip(r.socket, r.head, 'by name')).toString()).to.equal('by name');
    });

    it('socks5: localhost is resolved locally through the injected lookup', async () => {
      const asked: string[] = [];
      const lookup = (h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => { asked.push(h); cb(null, '127.0.0.1', 4); };
      const r = await connect({ proxy: dante('socks5'), destination: { host: 'localhost', port: echo.port }, lookup });
      expect(asked).to.deep.equal(['localhost']);
      expect((await roundTrip(r.socket, r.head, 'resolved here')).toString()).to.equal('resolved here');
    });

    it('SOCKS4 CONNECT', async () => {
      const r = await connect({ proxy: dante('socks4'), destination: { host: '127.0.0.1', port: echo.port } });
      expect((await roundTrip(r.socket, r.head, 'four')).toString()).to.equal('four');
    });

    it('SOCKS4a: Dante does not implement 4a and rejects 0.0.0.1 with 5B (typed, version 4)', async () => {
      let err: unknown;
      try {
        await connect({ proxy: { host: '127.0.0.1', port: dantePort, version: '4a', userId: 'nobody' }, destination: { host: 'localhost', port: echo.port } });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ReplyError);
      expect((err as ReplyError).version).to.equal(4);
      expect((err as ReplyError).reply).to.equal(0x5b);
    });

    it('a refused destination is a ReplyError with the server\'s code', async () => {
      let err: unknown;
      try {
        await connect({ proxy: dante('socks5'), destination: { host: '127.0.0.1', port: closedPort } });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ReplyError);
      expect((err as ReplyError).version).to.equal(5);
      expect((err as ReplyError).reply).to.be.oneOf([0x01, 0x04, 0x05]);
    });

    for (const version of [5, 4] as const) {
      it(`SOCKS${version} BIND: both replies, the second naming the peer; data both ways`, async () => {
        const b = await bind({ proxy: { host: '127.0.0.1', port: dantePort, version }, destination: { host: '127.0.0.1', port: 0 }, acceptTimeout: 5000 });
        try {
          expect(b.bound.host).to.equal('127.0.0.1');
          expect(b.bound.port).to.be.above(0);
          const peer = net.connect({ host: b.bound.host, port: b.bound.port });
          peer.on('error', () => {});
          await new Promise<void>((res, rej) => { peer.once('connect', res); peer.once('error', rej); });
          const acc: ConnectResult = await b.accepted;
          expect(acc.bound.host).to.equal('127.0.0.1');
          expect(acc.bound.port).to.equal(peer.localPort);
          peer.write('from peer');
          expect((await readN(acc.socket, 9, acc.head)).toString()).to.equal('from peer');
          acc.socket.write('to peer');
          expect((await readN(peer, 7)).toString()).to.equal('to peer');
          peer.destroy();
          acc.socket.destroy();
        } finally {
          b.close();
        }
      });
    }

    it('UDP ASSOCIATE: datagrams there and back with the header added and stripped', async () => {
      const target = dgram.createSocket('udp4');
      target.on('message', (m, r) => target.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
      await new Promise<void>((res) => target.bind(0, '127.0.0.1', res));
      const tport = target.address().port;
      const u = await udpAssociate({ proxy: { host: '127.0.0.1', port: dantePort } });
      try {
        expect(u.relay.host).to.equal('127.0.0.1');
        const got = new Promise<[Buffer, { address: string; port: number }]>((res, rej) => {
          const t = setTimeout(() => rej(new Error('no datagram within 5 s')), 5000);
          u.once('message', (d: Buffer, r: { address: string; port: number }) => { clearTimeout(t); res([d, r]); });
        });
        // UDP may drop on a busy machine: send a few times, bounded.
        const sender = setInterval(() => u.send('ping', tport, '127.0.0.1'), 200);
        u.send('ping', tport, '127.0.0.1');
        try {
          const [data, rinfo] = await got;
          expect(data.toString()).to.equal('echo:ping');
          expect(rinfo).to.deep.include({ address: '127.0.0.1', port: tport });
        } finally {
          clearInterval(sender);
        }
        // Closing the control connection ends the association.
        const closed = new Promise<void>((res) => u.once('close', res));
        u.control.destroy();
        await closed;
      } finally {
        u.close();
        target.close();
      }
    });
  });

  describe('microsocks', function () {
    before(async function () {
      await ensureMicro(this);
    });

    it('username/password from the URL (percent-decoded user)', async () => {
      const r = await connect({ proxy: `socks5h://%61lice:s3cret@127.0.0.1:${microPort}`, destination: { host: '127.0.0.1', port: echo.port } });
      expect(r.methods[0]?.name).to.equal('userpass');
      expect(await exchange(r.socket, r.head, 'with a password')).to.equal('with a password');
    });

    it('a wrong password is a clear AuthError, and the secret is not in it', async () => {
      let err: unknown;
      try {
        await connect({ proxy: micro('alice:wrong-pw'), destination: { host: '127.0.0.1', port: echo.port } });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(AuthError);
      expect((err as AuthError).message).to.match(/rejected the username\/password/);
      expect((err as AuthError).message).to.not.include('wrong-pw');
    });

    it('without credentials: 05 FF as an AuthError', async () => {
      let err: unknown;
      try {
        await connect({ proxy: `socks5h://127.0.0.1:${microPort}`, destination: { host: '127.0.0.1', port: echo.port } });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(AuthError);
      expect((err as AuthError).message).to.match(/05 FF/);
    });
  });

  describe('chains', function () {
    before(async function () {
      await ensureDante(this);
      await ensureMicro(this);
    });

    it('Dante (SOCKS5) → microsocks (userpass) → target', async () => {
      const r = await connect({ proxy: [dante('socks5h'), micro()], destination: { host: '127.0.0.1', port: echo.port } });
      expect(r.methods.map((m) => m?.name)).to.deep.equal(['none', 'userpass']);
      expect(await exchange(r.socket, r.head, 'two hops')).to.equal('two hops');
    });

    it('mixed versions: Dante (SOCKS4) → microsocks (SOCKS5, name localhost) → target', async () => {
      const r = await connect({ proxy: [dante('socks4'), micro()], destination: { host: 'localhost', port: echo.port } });
      expect(await exchange(r.socket, r.head, 'four then five')).to.equal('four then five');
    });

    it('microsocks → Dante → target (a failure at the last hop is that hop\'s ReplyError)', async () => {
      let err: unknown;
      try {
        await connect({ proxy: [micro(), dante('socks5')], destination: { host: '127.0.0.1', port: closedPort } });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ReplyError);
    });
  });

  describe('sockskit-connect', function () {
    before(async function () {
      await ensureDante(this);
      await ensureMicro(this);
    });

    it('stdin → tunnel → stdout through Dante, exit 0 on a clean end', async () => {
      const r = await runCli(['--proxy', dante('socks5h'), 'localhost', String(echo.port)], 'line one\nline two\n');
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal('line one\nline two\n');
      expect(r.code).to.equal(0);
    });

    it('through microsocks with credentials', async () => {
      const r = await runCli(['--proxy', micro(), '127.0.0.1', String(echo.port)], 'micro\n', 8000, true);
      expect(r.stdout).to.equal('micro\n');
      expect(r.code).to.equal(0);
    });

    it('through a chain: --proxy repeated, in order', async () => {
      const r = await runCli(['--proxy', dante('socks4'), '--proxy', micro(), '127.0.0.1', String(echo.port)], 'chained\n', 8000, true);
      expect(r.stdout).to.equal('chained\n');
      expect(r.code).to.equal(0);
    });

    it('a refused destination: one line naming the failure, exit 1', async () => {
      const r = await runCli(['--proxy', dante('socks5'), '127.0.0.1', String(closedPort)], '');
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/^sockskit-connect: proxy refused the request: .*\(0[145]\)\n$/);
    });

    it('a wrong password: one line, exit 1, no secret', async () => {
      const r = await runCli(['--proxy', micro('alice:nope-secret'), '127.0.0.1', String(echo.port)], '');
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/^sockskit-connect: proxy rejected the username\/password \(status 0x[0-9a-f]{2}\)\n$/, r.stderr);
      expect(r.stderr).to.not.include('nope-secret');
    });

    it('-L: a local port forward, one tunnel per connection', async () => {
      const child = spawn(process.execPath, [CONNECT_JS, '--proxy', dante('socks5h'), '-L', '127.0.0.1:0', '127.0.0.1', String(echo.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      try {
        const port = await new Promise<number>((res, rej) => {
          let err = '';
          const t = setTimeout(() => rej(new Error(`not listening within 5 s: ${err}`)), 5000);
          child.stderr.on('data', (b) => {
            err += b;
            const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
            if (m) { clearTimeout(t); res(Number(m[1])); }
          });
        });
        const before = echo.connections;
        for (const text of ['first', 'second']) {
          const s = net.connect({ host: '127.0.0.1', port });
          await new Promise<void>((res, rej) => { s.once('connect', res); s.once('error', rej); });
          expect((await roundTrip(s, Buffer.alloc(0), text)).toString()).to.equal(text);
        }
        expect(echo.connections - before).to.equal(2);
      } finally {
        await stopChild(child, 500);
      }
    });
  });
});
