/**
 * sockskit-electrum-gateway as a service: default port away from 50001,
 * backend check at start, backend failures logged once per interval without
 * DEBUG, an access log that never shows the token, SIGUSR1 counters (never
 * the inspector), SIGHUP reloading --auth-token-file, --check.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { hex } from '../support/helpers.js';
import { DIST, TOKEN, startStandIn, StandIn, exchange, run, Proc, tokenBytes, paddedVersionRequest } from '../support/electrum.js';
import { closedPort } from '../support/server.js';
import { runProgram, cleanEnv } from '../support/interop.js';

const GATEWAY = path.join(DIST, 'examples', 'electrum-gateway.js');
const OK14 = hex('05 02 01 00 05 00 00 01 00 00 00 00 00 00');

const passwordPath = (token: string) => Buffer.concat([hex('05 01 02 01 00'), tokenBytes(token), hex('05 01 00 01 00 00 00 00 00 00')]);
const hostnamePath = (token: string) => Buffer.concat([hex('05 01 00 05 01 00 03'), tokenBytes(token), hex('00 00')]);

describe('sockskit-electrum-gateway as a service', function () {
  this.timeout(20000);
  const procs: Proc[] = [];
  let dir: string;
  let backend: StandIn;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-gw-'));
    backend = await startStandIn();
  });
  afterEach(() => {
    for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  });
  after(async () => {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ p: Proc; port: number }> => {
    const p = run(process.execPath, [GATEWAY, ...args], env);
    procs.push(p);
    const m = await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
    return { p, port: Number(m[1]) };
  };

  it('listens on 127.0.0.1:50011 by default (50001 is the Electrum server\'s)', async function () {
    const free = await new Promise<boolean>((r) => {
      const s = net.createServer().once('error', () => r(false)).listen(50011, '127.0.0.1', () => s.close(() => r(true)));
    });
    if (!free) this.skip();
    const { port } = await start(['--backend', `127.0.0.1:${backend.port}`, '--auth-token', TOKEN]);
    expect(port).to.equal(50011);
  });

  it('warns at start when the backend is down and keeps running; backend failures are logged once per interval without DEBUG', async () => {
    const dead = await closedPort();
    const { p, port } = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${dead}`, '--auth-token', TOKEN, '--access-log', 'off'], { DEBUG: '' });
    await p.waitFor(/warning: the backend 127\.0\.0\.1:\d+ is not reachable now/);
    for (let i = 0; i < 3; i++) await exchange(port, [passwordPath(TOKEN)], { settle: 100 });
    await new Promise((r) => setTimeout(r, 200));
    const lines = p.stderr().split('\n').filter((l) => l.includes(`backend 127.0.0.1:${dead}:`));
    expect(lines, p.stderr()).to.have.length(1);
    expect(lines[0]).to.match(/ECONNREFUSED/);
    expect(p.child.exitCode).to.equal(null);
    // With a short interval, the next report says how many were left out.
    const short = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${dead}`, '--auth-token', TOKEN, '--access-log', 'off', '--backend-log-interval', '300']);
    await short.p.waitFor(/is not reachable now/);
    await exchange(short.port, [passwordPath(TOKEN)], { settle: 100 });
    await new Promise((r) => setTimeout(r, 350));
    await exchange(short.port, [passwordPath(TOKEN)], { settle: 100 });
    await short.p.waitFor(/ECONNREFUSED[^\n]*\(1 more since the last report\)/);
  });

  it('the access log shows both paths and never the token', async () => {
    const { p, port } = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${backend.port}`, '--auth-token', TOKEN]);
    const a = await exchange(port, [passwordPath(TOKEN), paddedVersionRequest()], { expect: OK14.length + 1, settle: 100 });
    expect(a.data.subarray(0, OK14.length)).to.deep.equal(OK14);
    await exchange(port, [hostnamePath(TOKEN)], { expect: 12, settle: 100 });
    await exchange(port, [hostnamePath(TOKEN.slice(0, -1) + 'x')], { settle: 100 });
    await new Promise((r) => setTimeout(r, 300));
    const lines = p.stderr().split('\n').filter((l) => / listener=/.test(l));
    expect(lines, p.stderr()).to.have.length(3);
    // Each connection's line comes when it closes: in any order.
    const one = (re: RegExp) => expect(lines.filter((l) => re.test(l)), lines.join('\n')).to.have.length(1);
    one(/method=electrum-token-password identity=- user=- userid=- command=connect destination=- .* reply=0 .*end=handoff/);
    // Bytes after the hand-off: the version request up, the stand-in's answer down.
    const pw = lines.find((l) => l.includes('method=electrum-token-password'))!;
    expect(Number(/ bytesUp=(\d+)/.exec(pw)![1])).to.equal(paddedVersionRequest().length);
    expect(Number(/ bytesDown=(\d+)/.exec(pw)![1])).to.be.greaterThan(20);
    one(/method=none .*destination=- .*reply=0 .*end=handoff/);
    one(/method=none .*destination=- .*reply=2 .*error=ruleset/);
    expect(p.stderr()).to.not.include(TOKEN.slice(0, 10));
  });

  it('a hand-off whose backend connection fails is logged as a failure, not a success', async () => {
    const dead = await closedPort();
    const { p, port } = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${dead}`, '--auth-token', TOKEN]);
    await exchange(port, [passwordPath(TOKEN)], { settle: 100 });
    const line = (await p.waitFor(/[^\n]* listener=[^\n]*\n/))[0];
    expect(line).to.match(/ end=handoff error=refused/);
  });

  it('SIGUSR1 prints the counters and never opens the inspector', async () => {
    const { p, port } = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${backend.port}`, '--auth-token', TOKEN, '--access-log', 'off']);
    await exchange(port, [passwordPath('wrong-token')], { settle: 100 });
    p.child.kill('SIGUSR1');
    const m = await p.waitFor(/stats (\{.*\})\n/);
    const stats = JSON.parse(m[1]!);
    expect(stats).to.deep.include({ accepted: 1, authFailures: 1, backendErrors: 0 });
    expect(p.stderr()).to.not.match(/Debugger listening/);
    expect(p.child.exitCode).to.equal(null);
  });

  it('SIGHUP rereads --auth-token-file: the new token gets in, the old one not; --check validates', async () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const { p, port } = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${backend.port}`, '--auth-token-file', file, '--access-log', 'off']);
    const newToken = 'n3wt0k3nn3wt0k3nn3wt0k3nz';
    writeFileSync(file, `${newToken}\n`);
    p.child.kill('SIGHUP');
    await p.waitFor(/configuration reloaded/);
    const ok = await exchange(port, [passwordPath(newToken)], { expect: OK14.length, settle: 100 });
    expect(ok.data).to.deep.equal(OK14);
    const old = await exchange(port, [passwordPath(TOKEN)], { settle: 100 });
    expect(old.data).to.deep.equal(hex('05 02 01 01'));
    const good = await runProgram(process.execPath, [GATEWAY, '--check', '--backend', '127.0.0.1:1', '--auth-token-file', file], { env: cleanEnv() });
    expect([good.code, good.stdout]).to.deep.equal([0, 'sockskit-electrum-gateway: configuration OK\n']);
    writeFileSync(path.join(dir, 'g.yaml'), 'backend: 127.0.0.1:1\nauth-token-file: ' + file + '\nhttp: nowhere\n');
    const bad = await runProgram(process.execPath, [GATEWAY, '--check', '--config', path.join(dir, 'g.yaml')], { env: cleanEnv() });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/expected HOST:PORT, got "nowhere"/);
    const envTok = await runProgram(process.execPath, [GATEWAY, '--check', '--backend', '127.0.0.1:1'], { env: cleanEnv({ SOCKSKIT_AUTH_TOKEN: 'from-the-environment' }) });
    expect(envTok.code, envTok.stderr).to.equal(0);
  });

  const userPass = (user: string, pass: string) => Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass), hex('05 01 00 01 00 00 00 00 00 00')]);
  const status = (port: number, token: string) => new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/status', auth: `:${token}` }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject);
  });

  it('the --http status page follows a SIGHUP token rotation: the new token in, the start-up one out', async () => {
    const file = path.join(dir, 'rotating-token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const { p } = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${backend.port}`, '--auth-token-file', file, '--access-log', 'off', '--http', '127.0.0.1:0']);
    const httpPort = Number((await p.waitFor(/http status on 127\.0\.0\.1:(\d+)/))[1]);
    expect(await status(httpPort, TOKEN)).to.equal(200);
    const newToken = 'r0t4t3dr0t4t3dr0t4t3dr0tz';
    writeFileSync(file, `${newToken}\n`);
    p.child.kill('SIGHUP');
    await p.waitFor(/configuration reloaded/);
    expect(await status(httpPort, newToken)).to.equal(200);
    expect(await status(httpPort, TOKEN)).to.equal(401);
  });

  it('--auth-token-file refuses a symbolic link and a weak token, as cookie files do', async () => {
    const real = path.join(dir, 'real-token');
    writeFileSync(real, `${TOKEN}\n`, { mode: 0o600 });
    const link = path.join(dir, 'link-token');
    symlinkSync(real, link);
    const viaLink = await runProgram(process.execPath, [GATEWAY, '--check', '--backend', '127.0.0.1:1', '--auth-token-file', link], { env: cleanEnv() });
    expect(viaLink.code, viaLink.stderr).to.equal(2);
    expect(viaLink.stderr).to.match(/symbolic link: refused/);
    const weak = path.join(dir, 'weak-token');
    writeFileSync(weak, 'x\n', { mode: 0o600 });
    const oneByte = await runProgram(process.execPath, [GATEWAY, '--check', '--backend', '127.0.0.1:1', '--auth-token-file', weak], { env: cleanEnv() });
    expect(oneByte.code, oneByte.stderr).to.equal(2);
    expect(oneByte.stderr).to.match(/token too weak/);
  });

  it('a client sending TOKEN:TOKEN as username and password: the access log never shows the token', async () => {
    const { p, port } = await start(['--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${backend.port}`, '--auth-token', TOKEN]);
    const a = await exchange(port, [userPass(TOKEN, TOKEN)], { expect: OK14.length, settle: 100 });
    expect(a.data).to.deep.equal(OK14);
    await p.waitFor(/method=electrum-token-password .*end=handoff/);
    expect(p.stderr()).to.not.include(TOKEN.slice(0, 8));
  });
});
