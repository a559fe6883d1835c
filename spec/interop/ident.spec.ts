/**
 * Ident end to end on 127.0.0.1: SocksServer with the SOCKS4 `verify`
 * policy asking a real identd (Debian's oidentd, in the foreground on a test
 * port) about curl's connections, and rogue identds (malformed, silent,
 * trickling, oversized, closing early) that must never hang or crash the
 * server.
 */
import { expect } from 'chai';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import { SocksServer } from '../../lib/server/server.js';
import { encodeSocks4Request } from '../../lib/protocol/codec/socks4.js';
import { makeAddress } from '../../lib/protocol/codec/address.js';
import { none } from '../../methods/none.js';
import { identSocks4, identMethod } from '../../methods/ident/index.js';
import { requireProgram, freePort, spawnDaemon, stopAll, runProgram, RunResult } from '../support/interop.js';
import { hex } from '../support/helpers.js';
import { PROGRAM } from '../support/paths.js';

function run(cmd: string, args: string[]): Promise<RunResult> {
  return runProgram(cmd, args, { timeout: 15000 });
}

async function startSocks(identPort: number, timeout = 2000): Promise<{ port: number; server: SocksServer; close(): Promise<void> }> {
  const server = new SocksServer({ methods: [none()], socks4: true, socks4Identify: identSocks4({ mode: 'verify', port: identPort, timeout }), handshakeTimeout: 8000 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { server.close(() => r()); setTimeout(r, 1000).unref(); }),
  };
}

async function httpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const srv = http.createServer((_req, res) => res.end('ident-ok\n'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

/** A raw SOCKS4 CONNECT; resolves with everything the server sent before closing (bounded). */
function socks4Raw(port: number, dest: number, user: string, wait = 8000): Promise<{ bytes: Buffer; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const t = setTimeout(() => { s.destroy(); reject(new Error('no answer in time')); }, wait);
    s.on('connect', () => s.write(encodeSocks4Request(1, makeAddress('127.0.0.1', dest), user)));
    s.on('data', (d) => {
      got.push(d);
      if (Buffer.concat(got).length >= 8) { clearTimeout(t); s.destroy(); resolve({ bytes: Buffer.concat(got), ms: Date.now() - t0 }); }
    });
    s.on('close', () => { clearTimeout(t); resolve({ bytes: Buffer.concat(got), ms: Date.now() - t0 }); });
    s.on('error', () => {});
  });
}

describe('ident against oidentd (SOCKS4 verify)', function () {
  this.timeout(30000);
  let curl: string;
  let identPort: number;
  let web: Awaited<ReturnType<typeof httpServer>>;
  let socks: Awaited<ReturnType<typeof startSocks>>;
  const me = os.userInfo().username;

  before(async function () {
    curl = requireProgram(this, 'curl');
    const oidentd = requireProgram(this, 'oidentd');
    identPort = await freePort();
    // -i foreground, -S log to stderr, bound to loopback on a test port.
    await spawnDaemon(oidentd, ['-i', '-S', '-a', '127.0.0.1', '-p', String(identPort)], { readyPort: identPort });
    web = await httpServer();
    socks = await startSocks(identPort);
  });
  after(async () => {
    await socks?.close();
    await web?.close();
    await stopAll();
  });

  it(`curl as the local user (${me}) is granted`, async () => {
    const r = await run(curl, ['-sS', '--max-time', '10', '-x', `socks4://${me}@127.0.0.1:${socks.port}`, `http://127.0.0.1:${web.port}/`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('ident-ok\n');
  });

  it('curl claiming another user is refused with 93 (5D)', async () => {
    const other = me === 'nobody' ? 'daemon' : 'nobody';
    const r = await run(curl, ['-sS', '--max-time', '10', '-x', `socks4://${other}@127.0.0.1:${socks.port}`, `http://127.0.0.1:${web.port}/`]);
    expect(r.code).to.equal(97);
    expect(r.stderr).to.match(/\(93\)/);
  });

  it('a raw client gets exactly 00 5D for a wrong USERID and 00 5A for its own', async () => {
    const bad = await socks4Raw(socks.port, web.port, 'not-' + me);
    expect(bad.bytes).to.deep.equal(hex('00 5d 00 00 00 00 00 00'));
    const good = await socks4Raw(socks.port, web.port, me);
    expect(good.bytes.subarray(0, 2)).to.deep.equal(hex('00 5a'));
  });

  it('curl is refused with 92 (5C) when identd is down', async () => {
    const down = await startSocks(await freePort());
    try {
      const r = await run(curl, ['-sS', '--max-time', '10', '-x', `socks4://${me}@127.0.0.1:${down.port}`, `http://127.0.0.1:${web.port}/`]);
      expect(r.code).to.equal(97);
      expect(r.stderr).to.match(/\(92\)/);
    } finally {
      await down.close();
    }
  });

  it('sockskit-proxy --ident verify --ident-port: granted as the local user, 93 otherwise', async () => {
    const proxyJs = PROGRAM.proxy;
    const port = await freePort();
    const d = await spawnDaemon(process.execPath, [proxyJs, '--listen', `127.0.0.1:${port}`, '--ident', 'verify', '--ident-port', String(identPort)], { readyPort: port });
    try {
      const ok = await run(curl, ['-sS', '--max-time', '10', '-x', `socks4://${me}@127.0.0.1:${port}`, `http://127.0.0.1:${web.port}/`]);
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout).to.equal('ident-ok\n');
      const bad = await run(curl, ['-sS', '--max-time', '10', '-x', `socks4://someone-else@127.0.0.1:${port}`, `http://127.0.0.1:${web.port}/`]);
      expect(bad.code).to.equal(97);
      expect(bad.stderr).to.match(/\(93\)/);
    } finally {
      await d.stop();
    }
  });

  it('SOCKS5 no-auth with ident as identity source (rfc931) sees the oidentd user', async () => {
    let identity: unknown;
    const server = new SocksServer({ methods: [identMethod({ port: identPort, timeout: 2000 })], onRequest: (ctx) => { identity = ctx.request.identity; } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const r = await run(curl, ['-sS', '--max-time', '10', '--socks5-basic', '--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${web.port}/`]);
      expect(r.code, r.stderr).to.equal(0);
      expect(identity).to.equal(me);
    } finally {
      await new Promise<void>((r) => { server.close(() => r()); setTimeout(r, 1000).unref(); });
    }
  });
});

describe('ident against rogue identds: the server never hangs or crashes', function () {
  this.timeout(30000);
  const sockets = new Set<net.Socket>();
  let rogue: net.Server | undefined;
  let socks: Awaited<ReturnType<typeof startSocks>> | undefined;
  let web: Awaited<ReturnType<typeof httpServer>>;
  before(async () => { web = await httpServer(); });
  after(async () => { await web.close(); });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await socks?.close();
    await new Promise<void>((r) => (rogue ? rogue.close(() => r()) : r()));
    rogue = undefined;
  });

  /** Starts a rogue identd and a SOCKS server asking it (lookup timeout 500 ms). */
  async function setup(behave: (s: net.Socket, query: string) => void): Promise<number> {
    rogue = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      let q = '';
      s.on('data', (d) => {
        q += d.toString('latin1');
        if (q.includes('\n')) { behave(s, q); q = ''; }
      });
    });
    await new Promise<void>((r) => rogue!.listen(0, '127.0.0.1', r));
    socks = await startSocks((rogue.address() as net.AddressInfo).port, 500);
    return socks.port;
  }

  const ports = (q: string) => q.trim().split(/\s*,\s*/).map(Number) as [number, number];
  const cases: [string, (s: net.Socket, q: string) => void][] = [
    ['malformed reply', (s) => s.end('this is not ident\r\n')],
    ['reply for another port pair', (s, q) => { const [a, b] = ports(q); s.end(`${a + 1},${b}:USERID:UNIX:root\r\n`); }],
    ['silent (never answers)', () => {}],
    ['trickling one byte at a time, never an EOL', (s) => { const t = setInterval(() => s.write('x'), 10); s.on('close', () => clearInterval(t)); }],
    ['oversized reply without EOL', (s) => s.write(Buffer.alloc(64 * 1024, 0x41))],
    ['premature close mid-reply', (s, q) => { const [a, b] = ports(q); s.end(`${a},${b}:USERID:UNIX:ro`); }],
    ['reset right away', (s) => s.resetAndDestroy()],
    ['ERROR : HIDDEN-USER', (s, q) => { const [a, b] = ports(q); s.end(`${a},${b}:ERROR:HIDDEN-USER\r\n`); }],
  ];
  for (const [name, behave] of cases) {
    it(`${name} → 00 5C within the bound, and the server keeps serving`, async () => {
      const port = await setup(behave);
      const r = await socks4Raw(port, web.port, 'root');
      expect(r.bytes).to.deep.equal(hex('00 5c 00 00 00 00 00 00'));
      expect(r.ms).to.be.below(3000);
      // Still alive: a second connection is answered too.
      const again = await socks4Raw(port, web.port, 'root');
      expect(again.bytes).to.deep.equal(hex('00 5c 00 00 00 00 00 00'));
    });
  }

  it('a well-behaved stand-in identd naming the claimed user is granted (control)', async () => {
    const port = await setup((s, q) => { const [a, b] = ports(q); s.end(`${a} , ${b} : USERID : UNIX : root\r\n`); });
    const r = await socks4Raw(port, web.port, 'root');
    expect(r.bytes.subarray(0, 2)).to.deep.equal(hex('00 5a'));
  });
});
