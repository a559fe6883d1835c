/**
 * End to end on 127.0.0.1: the spawned sockskit-electrum-gateway in front of
 * a stand-in Electrum server, reached by ncat (password path), OpenBSD nc
 * (hostname path), the raw byte string, and the spawned sockskit-electrum
 * (call, bridge). Also: the cookie file, the HTTP status page, the flags, and
 * that the token never shows up in DEBUG=sockskit:* output.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { requireProgram } from '../support/interop.js';
import { hex, toHex } from '../support/helpers.js';
import { DIST, startStandIn, StandIn, exchange, run, Proc, jsonLine, paddedVersionRequest, tokenBytes } from '../support/electrum.js';

const GATEWAY = path.join(DIST, 'examples', 'electrum-gateway.js');
const CONNECTOR = path.join(DIST, 'examples', 'electrum-connect.js');
const VERSION_ANSWER = (id: number) => `{"jsonrpc":"2.0","id":${id},"result":["stand-in 1.0","1.4"]}\n`;
const OK14 = hex('05 02 01 00 05 00 00 01 00 00 00 00 00 00');

function rawSequence(token: string): Buffer {
  return Buffer.concat([hex('05 01 02 01 00'), tokenBytes(token), hex('05 01 00 01 00 00 00 00 00 00')]);
}

describe('electrum interop: sockskit-electrum-gateway (spawned) with a stand-in backend', function () {
  this.timeout(20000);
  let backend: StandIn;
  let dir: string;
  let cookie: string;
  let gw: Proc;
  let token: string;
  let port: number;
  let httpPort: number;
  const procs: Proc[] = [];
  const spawnNode = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const p = run(process.execPath, [script, ...args], env);
    procs.push(p);
    return p;
  };

  before(async () => {
    backend = await startStandIn();
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-electrum-'));
    cookie = path.join(dir, 'cookie');
    gw = spawnNode(GATEWAY, ['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${backend.port}`, '--auth-cookie', cookie, '--http', '127.0.0.1:0'], { DEBUG: 'sockskit:*' });
    port = Number((await gw.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    httpPort = Number((await gw.waitFor(/http status on 127\.0\.0\.1:(\d+)/))[1]);
    token = readFileSync(cookie, 'utf8');
  });
  after(async () => {
    for (const p of procs) p.kill();
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('created the cookie file: mode 0600, 25 characters of [a-z0-9], no newline', () => {
    expect(statSync(cookie).mode & 0o777).to.equal(0o600);
    expect(token).to.match(/^[a-z0-9]{25}$/);
    expect(gw.stderr()).to.include('created cookie file');
  });

  it('raw sequence with a padded server.version in the same write: 14 bytes, then the answer', async () => {
    const r = await exchange(port, [Buffer.concat([rawSequence(token), paddedVersionRequest()])], { expect: 14 + VERSION_ANSWER(0).length });
    expect(toHex(r.data.subarray(0, 14))).to.equal(toHex(OK14));
    expect(r.data.subarray(14).toString()).to.equal(VERSION_ANSWER(0));
    expect(backend.received.at(-1)!.length).to.equal(1023);
  });

  it('raw sequence, then JSON after the reply (what careful bwt clients do)', async () => {
    const r = await exchange(port, [rawSequence(token), jsonLine({ id: 3, method: 'server.ping', params: [] })], { expect: 14 + 36 });
    expect(toHex(r.data.subarray(0, 14))).to.equal(toHex(OK14));
    expect(r.data.subarray(14).toString()).to.equal('{"jsonrpc":"2.0","id":3,"result":null}\n');
  });

  it('failures through the gateway: 01 01, REP 02, 05 FF, the Tor probe, GET', async () => {
    const cases: [Buffer, string][] = [
      [rawSequence(token.toUpperCase()), '05 02 01 01'],
      [Buffer.concat([hex('05 01 00 05 01 00 03'), tokenBytes('wrong'), hex('00 01')]), '05 00 05 02 00 01 00 00 00 00 00 00'],
      [hex('05 01 80'), '05 ff'],
      [hex('05 01 00 05 F0 00 03 07 30 2E 30 2E 30 2E 30 00 00'), '05 00 05 07 00 01 00 00 00 00 00 00'],
      [Buffer.from('GET\n'), ''],
    ];
    for (const [send, reply] of cases) {
      const r = await exchange(port, [send]);
      expect(r.closed, reply).to.equal(true);
      expect(toHex(r.data)).to.equal(reply);
    }
  });

  async function viaProgram(prog: Proc, request: Buffer, answer: string): Promise<void> {
    prog.child.stdin!.write(request);
    await prog.waitFor(new RegExp(answer.trim().replace(/[[\]{}().*+?^$|\\]/g, '\\$&')), 5000);
    expect(prog.stdout()).to.equal(answer);
  }

  it('ncat --proxy-type socks5 --proxy-auth bwt:TOKEN (password path, any destination)', async function () {
    const ncat = requireProgram(this, 'ncat');
    const p = run(ncat, ['--proxy-type', 'socks5', '--proxy-auth', `bwt:${token}`, '--proxy', `127.0.0.1:${port}`, '127.0.0.1', '1']);
    procs.push(p);
    await viaProgram(p, jsonLine({ jsonrpc: '2.0', method: 'server.version', id: 0, params: ['ncat', '1.4'] }), VERSION_ANSWER(0));
    p.kill();
  });

  it('ncat with Electrum 4.6\'s 1024-byte padded first request', async function () {
    const ncat = requireProgram(this, 'ncat');
    const p = run(ncat, ['--proxy-type', 'socks5', '--proxy-auth', `bwt:${token}`, '--proxy', `127.0.0.1:${port}`, '10.1.2.3', '50001']);
    procs.push(p);
    await viaProgram(p, paddedVersionRequest(), VERSION_ANSWER(0));
    expect(backend.received.at(-1)!.length).to.equal(1023);
    p.kill();
  });

  it('OpenBSD nc -x with the token as hostname (hostname path)', async function () {
    const nc = requireProgram(this, 'nc.openbsd');
    const p = run(nc, ['-x', `127.0.0.1:${port}`, token, '1']);
    procs.push(p);
    await viaProgram(p, jsonLine({ jsonrpc: '2.0', method: 'server.version', id: 4, params: ['nc', '1.4'] }), VERSION_ANSWER(4));
    p.kill();
  });

  it('OpenBSD nc -x with a wrong hostname gets no tunnel', async function () {
    const nc = requireProgram(this, 'nc.openbsd');
    const p = run(nc, ['-x', `127.0.0.1:${port}`, 'notthetoken', '1']);
    procs.push(p);
    const code = await p.exited(5000);
    expect(code).to.not.equal(0);
    expect(p.stdout()).to.equal('');
  });

  for (const via of ['password', 'hostname', 'raw']) {
    it(`sockskit-electrum call server.version --via ${via}`, async () => {
      const p = spawnNode(CONNECTOR, ['--server', `127.0.0.1:${port}`, '--token', token, '--via', via, 'call', 'server.version', 'cli', '1.4'], { DEBUG: 'sockskit:*' });
      expect(await p.exited()).to.equal(0);
      expect(p.stdout()).to.equal('["stand-in 1.0","1.4"]\n');
      expect(p.stderr()).to.not.include(token);
    });
  }

  it('sockskit-electrum call: --token-file, params parsed as JSON, JSON-RPC error → exit 3', async () => {
    const p = spawnNode(CONNECTOR, ['--server', `127.0.0.1:${port}`, '--token-file', cookie, 'call', 'blockchain.nope', '1', 'abc', '[2]']);
    expect(await p.exited()).to.equal(3);
    expect(p.stdout()).to.equal('');
    expect(p.stderr()).to.equal('sockskit-electrum: server error -32601: unknown method blockchain.nope\n');
    const sent = JSON.parse(backend.received.at(-1)!) as { params: unknown[] };
    expect(sent.params).to.deep.equal([1, 'abc', [2]]);
  });

  it('sockskit-electrum call with a wrong token: exit 1 and one line on stderr', async () => {
    for (const via of ['password', 'hostname', 'raw']) {
      const p = spawnNode(CONNECTOR, ['--server', `127.0.0.1:${port}`, '--token', 'wrongtoken', '--via', via, 'call', 'server.version']);
      expect(await p.exited(), via).to.equal(1);
      expect(p.stdout(), via).to.equal('');
      expect(p.stderr().split('\n'), via).to.have.length(2); // one line + the final newline
      expect(p.stderr(), via).to.match(/^sockskit-electrum: .*(rejected|refused)/);
    }
  });

  it('sockskit-electrum bridge: an unauthenticated local port into the token-protected gateway', async () => {
    const b = spawnNode(CONNECTOR, ['--server', `127.0.0.1:${port}`, '--token', token, 'bridge', '--listen', '127.0.0.1:0'], { DEBUG: 'sockskit:*' });
    const bport = Number((await b.waitFor(/bridge listening on 127\.0\.0\.1:(\d+)/))[1]);
    // Two connections, the second with the padded request, each gets its own tunnel.
    const before = backend.connections;
    const r1 = await exchange(bport, [jsonLine({ jsonrpc: '2.0', method: 'server.version', id: 9, params: ['w', '1.4'] })], { expect: VERSION_ANSWER(9).length });
    expect(r1.data.toString()).to.equal(VERSION_ANSWER(9));
    const r2 = await exchange(bport, [paddedVersionRequest()], { expect: VERSION_ANSWER(0).length });
    expect(r2.data.toString()).to.equal(VERSION_ANSWER(0));
    expect(backend.connections - before).to.equal(2);
    expect(b.stderr()).to.not.include(token);
    b.kill();
  });

  it('bridge with a wrong token closes local connections and says why', async () => {
    const b = spawnNode(CONNECTOR, ['--server', `127.0.0.1:${port}`, '--token', 'wrongtoken', 'bridge', '--listen', '127.0.0.1:0']);
    const bport = Number((await b.waitFor(/bridge listening on 127\.0\.0\.1:(\d+)/))[1]);
    const r = await exchange(bport, [jsonLine({ id: 1, method: 'server.ping', params: [] })]);
    expect(r.closed).to.equal(true);
    expect(r.data.length).to.equal(0);
    await b.waitFor(/bridge: proxy rejected/);
    b.kill();
  });

  it('bridge refuses to listen beyond loopback without --allow-remote', async () => {
    const b = spawnNode(CONNECTOR, ['--server', `127.0.0.1:${port}`, '--token', token, 'bridge', '--listen', '0.0.0.0:0']);
    expect(await b.exited()).to.equal(2);
    expect(b.stderr()).to.match(/refusing to open an unauthenticated bridge/);
  });

  it('HTTP status: 401 with the challenge without the token, JSON counters with it', async () => {
    const url = `http://127.0.0.1:${httpPort}/`;
    const denied = await fetch(url, { headers: { Authorization: `Basic ${Buffer.from(':nope').toString('base64')}` } });
    expect(denied.status).to.equal(401);
    expect(denied.headers.get('www-authenticate')).to.equal('Basic realm="sockskit"');
    const ok = await fetch(url, { headers: { Authorization: `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}` } });
    expect(ok.status).to.equal(200);
    const body = (await ok.json()) as { connections: { open: number; total: number }; authFailures: number; authFailuresByReason: Record<string, number> };
    expect(body.connections.total).to.be.at.least(8);
    expect(body.authFailures).to.be.at.least(7);
    expect(body.authFailuresByReason.password).to.be.at.least(3);
    expect(body.authFailuresByReason.hostname).to.be.at.least(2);
    expect(body.authFailuresByReason['no-method']).to.be.at.least(1);
    expect((await fetch(`http://127.0.0.1:${httpPort}/other`, { headers: { Authorization: `Basic ${Buffer.from(`:${token}`).toString('base64')}` } })).status).to.equal(404);
  });

  it('the token never appears in the gateway\'s DEBUG=sockskit:* output', () => {
    const err = gw.stderr();
    expect(err).to.match(/sockskit:method:electrum-token/); // debug output is really on
    expect(err).to.match(/sockskit:server/);
    expect(err).to.not.include(token);
    expect(err).to.not.include(token.toUpperCase());
    expect(gw.stdout()).to.equal('');
  });
});

describe('electrum interop: sockskit-electrum-gateway flags', function () {
  this.timeout(15000);
  const procs: Proc[] = [];
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-electrum-flags-'))));
  after(() => {
    for (const p of procs) p.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const gateway = (args: string[]) => {
    const p = run(process.execPath, [GATEWAY, ...args]);
    procs.push(p);
    return p;
  };

  it('exactly one of --auth-token / --auth-cookie; --backend required', async () => {
    for (const [args, re] of [
      [['--backend', '127.0.0.1:1'], /exactly one of --auth-token TOKEN, --auth-token-file FILE or --auth-cookie FILE/],
      [['--backend', '127.0.0.1:1', '--auth-token', 'a', '--auth-cookie', path.join(dir, 'c')], /exactly one/],
      [['--auth-token', 'a'], /--backend HOST:PORT is required/],
      [['--backend', '127.0.0.1:1', '--auth-token', 'a', '--backend-tls-insecure'], /needs --backend-tls/],
    ] as [string[], RegExp][]) {
      const p = gateway(args);
      expect(await p.exited(), args.join(' ')).to.equal(2);
      expect(p.stderr()).to.match(re);
    }
  });

  it('--help and --version', async () => {
    const h = gateway(['--help']);
    expect(await h.exited()).to.equal(0);
    expect(h.stdout()).to.include('--auth-cookie FILE');
    const v = gateway(['--version']);
    expect(await v.exited()).to.equal(0);
    expect(v.stdout()).to.match(/^sockskit-electrum-gateway \d+\.\d+\.\d+\n$/);
  });

  it('--print-token with an existing cookie prints its token; --handshake-timeout closes stalled clients', async () => {
    const file = path.join(dir, 'existing');
    writeFileSync(file, 'given0token1given0token1given\n', { mode: 0o600 });
    const p = gateway(['--listen', '127.0.0.1:0', '--backend', '127.0.0.1:1', '--auth-cookie', file, '--print-token', '--handshake-timeout', '300']);
    const gport = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    expect(p.stdout()).to.equal('given0token1given0token1given\n');
    expect(p.stderr()).to.not.include('created cookie');
    const t0 = Date.now();
    const r = await exchange(gport, [hex('05 01 02')], { timeout: 3000 });
    expect(r.closed).to.equal(true);
    expect(toHex(r.data)).to.equal('05 02');
    expect(Date.now() - t0).to.be.within(250, 2000);
  });

  it('a backend that refuses the connection closes the client after the handshake', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const p = gateway(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${deadPort}`, '--auth-token', 'tok']);
    const gport = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const r = await exchange(gport, [Buffer.concat([rawSequence('tok'), paddedVersionRequest()])], { timeout: 3000 });
    expect(r.closed).to.equal(true);
    expect(toHex(r.data)).to.equal(toHex(OK14));
  });
});
