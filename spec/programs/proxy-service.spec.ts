/**
 * sockskit-proxy as a service: access log (text and JSON, peer strings
 * escaped), config file / environment / flags, --check, SIGHUP reload,
 * SIGTERM drain, /metrics, --workers, scrypt users.
 */
import { expect } from 'chai';
import http from 'node:http';
import { mkdtempSync, writeFileSync, appendFileSync, readFileSync, chmodSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, waitFor, type Target } from '../support/server.js';
import { spawnDaemon, stopAll, runProgram, cleanEnv, which, listeningPort, requireProgram, type Daemon } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';

const PROXY = PROGRAM.proxy;
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'sockskit-ops-'));
  dirs.push(d);
  return d;
}

/** Starts the proxy and returns its SOCKS port (and the metrics port when --metrics is given). */
async function startProxy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ daemon: Daemon; port: number; metricsPort?: number }> {
  const daemon = await spawnDaemon(process.execPath, [PROXY, ...args], { env: cleanEnv(env) });
  const port = await listeningPort(daemon);
  const mm = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/;
  if (args.includes('--metrics')) await waitFor(() => mm.test(daemon.output()), 5000, 'metrics to listen');
  const metricsPort = mm.test(daemon.output()) ? Number(mm.exec(daemon.output())![1]) : undefined;
  return { daemon, port, metricsPort };
}

const port16 = (p: number) => Buffer.from([p >> 8, p & 255]);
function connectRequest(host: string, port: number): Buffer {
  const name = Buffer.from(host, 'latin1');
  return Buffer.concat([hex('05 01 00 03'), Buffer.from([name.length]), name, port16(port)]);
}
function authGreeting(user: string, pass: string): Buffer {
  return Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)]);
}

/** Opens a tunnel through the proxy to 127.0.0.1:port (userpass when `user` is given); resolves with the client after the reply. */
async function tunnel(proxyPort: number, port: number, user?: [string, string]): Promise<{ c: RawClient; reply: Buffer }> {
  const c = await RawClient.connect(proxyPort);
  const req = Buffer.concat([hex('05 01 00 01 7f 00 00 01'), port16(port)]);
  if (user) {
    c.write(Buffer.concat([authGreeting(...user), req]));
    const sel = await c.read(2);
    const auth = await c.read(2);
    if (auth[1] !== 0) return { c, reply: Buffer.concat([sel, auth]) };
    return { c, reply: await c.read(10) };
  }
  c.write(Buffer.concat([hex('05 01 00'), req]));
  await c.read(2);
  return { c, reply: await c.read(10) };
}

function httpGet(port: number, p = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const ACCESS_LINE = /^\d{4}-\d\d-\d\dT[^ ]+ listener=/;
const accessLines = (out: string) => out.split('\n').filter((l) => ACCESS_LINE.test(l));

describe('sockskit-proxy as a service', function () {
  this.timeout(30000);
  let web: http.Server;
  let webPort: number;
  let echoT: Target;
  before(async () => {
    web = http.createServer((_q, r) => r.end('hello from the target\n'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as { port: number }).port;
    echoT = await startTarget(echo);
  });
  after(async () => {
    await stopAll();
    web.close();
    await echoT.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  describe('access log', () => {
    it('curl --socks5-hostname yields exactly one text line with the fields; CR/LF in a hostname cannot forge a line', async function () {
      const curl = requireProgram(this, 'curl');
      const d = tmp();
      // Name-only rules decide before any DNS query: the CR/LF name is blocked without being looked up.
      writeFileSync(path.join(d, 'p.yaml'), 'listen: 127.0.0.1:0\nrules:\n  - { action: pass, to: localhost }\n  - { action: block }\n');
      const { daemon, port } = await startProxy(['--config', path.join(d, 'p.yaml')]);
      const r = await runProgram(curl, ['-sS', '--max-time', '5', '--socks5-hostname', `127.0.0.1:${port}`, `http://localhost:${webPort}/`], { env: cleanEnv() });
      expect(r.stdout).to.equal('hello from the target\n');
      await waitFor(() => accessLines(daemon.output()).length >= 1, 5000, 'the access-log line');
      await new Promise((res) => setTimeout(res, 200));
      const lines = accessLines(daemon.output());
      expect(lines, daemon.output()).to.have.length(1);
      const f = Object.fromEntries(lines[0]!.split(' ').slice(1).map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
      expect(f).to.deep.include({ method: 'none', identity: '-', command: 'connect', destination: `localhost:${webPort}`, dialled: `127.0.0.1:${webPort}`, rule: '0', reply: '0', end: 'closed', error: '-' });
      expect(f.client).to.match(/^127\.0\.0\.1:\d+$/);
      expect(f.listener).to.equal(`127.0.0.1:${port}`);
      expect(Number(f.bytesUp)).to.be.greaterThan(30);
      expect(Number(f.bytesDown)).to.be.greaterThan(100);
      expect(Number(f.durationMs)).to.be.at.least(0);

      // CR/LF in a name: the engine refuses it (04, as an empty name) and the line stays one line.
      const c = await RawClient.connect(port);
      c.write(Buffer.concat([hex('05 01 00'), connectRequest('evil\r\n2026-01-01T00:00:00.000Z listener=forged', 80)]));
      expect((await c.read(12)).subarray(0, 4)).to.deep.equal(hex('05 00 05 04'));
      c.destroy();
      await waitFor(() => accessLines(daemon.output()).length >= 2, 5000, 'the second line');
      expect(daemon.output()).to.not.match(/\n2026-01-01T00:00:00\.000Z listener=forged/);
      // Blanks and '=' in a name reach the log escaped: no field can be forged.
      const d2 = await RawClient.connect(port);
      d2.write(Buffer.concat([hex('05 01 00'), connectRequest('evil 2026-01-01T00:00:00.000Z listener=forged', 80)]));
      expect((await d2.read(12)).subarray(0, 4)).to.deep.equal(hex('05 00 05 02'));
      d2.destroy();
      await waitFor(() => accessLines(daemon.output()).length >= 3, 5000, 'the third line');
      const all = accessLines(daemon.output());
      expect(all).to.have.length(3);
      expect(all[2]).to.include('destination=evil\\x202026-01-01T00:00:00.000Z\\x20listener=forged:80');
      expect(all[2]).to.include('reply=2 ');
      expect(all[2]).to.include('error=ruleset');
    });

    it('--access-log FILE --access-log-format json: one JSON object per line (jq parses it); SIGHUP reopens the file', async function () {
      const curl = requireProgram(this, 'curl');
      const d = tmp();
      const log = path.join(d, 'access.log');
      const { daemon, port } = await startProxy(['--listen', '127.0.0.1:0', '--access-log', log, '--access-log-format', 'json']);
      await runProgram(curl, ['-sS', '--max-time', '5', '--socks5-hostname', `127.0.0.1:${port}`, `http://localhost:${webPort}/`], { env: cleanEnv() });
      await waitFor(() => { try { return readFileSync(log, 'utf8').includes('\n'); } catch { return false; } }, 5000, 'the log file');
      expect(accessLines(daemon.output())).to.have.length(0);
      const text = readFileSync(log, 'utf8');
      expect(text.trim().split('\n')).to.have.length(1);
      const rec = JSON.parse(text);
      expect(rec).to.deep.include({ method: 'none', command: 'connect', destination: `localhost:${webPort}`, reply: 0, end: 'closed' });
      const jq = requireProgram(this, 'jq');
      const r = await runProgram(jq, ['-e', '.bytesDown > 100 and .reply == 0', log]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.trim()).to.equal('true');
      // logrotate: move the file away, HUP, the next line goes to a new file.
      rmSync(log);
      daemon.child.kill('SIGHUP');
      await waitFor(() => /configuration reloaded/.test(daemon.output()), 5000, 'the reload');
      await runProgram(curl, ['-sS', '--max-time', '5', '--socks5-hostname', `127.0.0.1:${port}`, `http://localhost:${webPort}/`], { env: cleanEnv() });
      await waitFor(() => { try { return readFileSync(log, 'utf8').includes('\n'); } catch { return false; } }, 5000, 'the reopened log file');
    });
  });

  describe('configuration: --config, SOCKSKIT_*, flags, --check', () => {
    const check = (args: string[], env: NodeJS.ProcessEnv = {}) => runProgram(process.execPath, [PROXY, '--check', ...args], { env: cleanEnv(env) });

    it('--check exits 0 on a good configuration and 2 naming the key or line at fault', async () => {
      const d = tmp();
      const good = path.join(d, 'good.yaml');
      writeFileSync(good, '# comment\nlisten: [127.0.0.1:1080]\nmax-connections: 100\nno-udp: true\nrules:\n  - { action: block, to: [.internal, 10.0.0.0/8], port: 1-1023 }\n  - { action: pass }\n');
      const ok = await check(['--config', good]);
      expect([ok.code, ok.stdout]).to.deep.equal([0, 'sockskit-proxy: configuration OK\n']);
      const cases: [string, string, RegExp][] = [
        ['unknown.yaml', 'listen: 127.0.0.1:1\nmax-conections: 5\n', /unknown\.yaml line 2: max-conections: unknown key/],
        ['type.yaml', 'no-udp: yes please\n', /type\.yaml line 1: no-udp: expected true or false/],
        ['syntax.yaml', 'listen: [127.0.0.1:1\nfoo: 1\n', /syntax\.yaml line \d+: /],
        ['rule.yaml', 'rules:\n  - { action: pass }\n  - { action: block, port: 99999 }\n', /rule\.yaml: rules\[1\]\.port: invalid port or range "?99999"?/],
        ['value.yaml', 'max-connections: lots\n', /--max-connections wants a non-negative number, got "lots"/],
      ];
      for (const [name, text, want] of cases) {
        writeFileSync(path.join(d, name), text);
        const r = await check(['--config', path.join(d, name)]);
        expect(r.code, `${name}: ${r.stderr}`).to.equal(2);
        expect(r.stderr).to.match(want);
      }
      const env = await check([], { SOCKSKIT_NO_UDP: 'maybe' });
      expect([env.code, env.stderr.split('\n')[0]]).to.deep.equal([2, 'sockskit-proxy: SOCKSKIT_NO_UDP: expected true or false, got "maybe"']);
      const typo = await check([], { SOCKSKIT_MAX_CONECTIONS: '5' });
      expect([typo.code, typo.stderr]).to.deep.equal([0, 'sockskit-proxy: warning: SOCKSKIT_MAX_CONECTIONS is not an option of this program; ignored\n']);
      const log = await check(['--access-log', path.join(d, 'no-such-dir', 'access.log')]);
      expect([log.code, log.stderr.split('\n')[0]]).to.deep.equal([2, `sockskit-proxy: cannot open --access-log file ${path.join(d, 'no-such-dir', 'access.log')}: no such file`]);
      const missing = await check(['--users', path.join(d, 'nope')]);
      expect([missing.code, missing.stderr.split('\n')[0]]).to.deep.equal([2, `sockskit-proxy: cannot read --users file ${path.join(d, 'nope')}: no such file`]);
    });

    it('precedence: flags > SOCKSKIT_* environment > config file; secrets by environment', async () => {
      const d = tmp();
      const conf = path.join(d, 'p.yaml');
      writeFileSync(conf, 'listen: 127.0.0.1:0\nuser: [file:fpass]\n');
      const base = await startProxy(['--config', conf]);
      expect((await tunnel(base.port, echoT.port, ['file', 'fpass'])).reply[1]).to.equal(0);
      // The environment replaces the file's user list (secrets need never be in argv).
      const env = await startProxy([], { SOCKSKIT_CONFIG: conf, SOCKSKIT_USER: 'envuser:p,w with comma\nsecond:pw2' });
      expect((await tunnel(env.port, echoT.port, ['envuser', 'p,w with comma'])).reply[1]).to.equal(0);
      expect((await tunnel(env.port, echoT.port, ['second', 'pw2'])).reply[1]).to.equal(0);
      expect((await tunnel(env.port, echoT.port, ['file', 'fpass'])).reply).to.deep.equal(hex('05 02 01 01'));
      // A flag replaces the environment.
      const flag = await startProxy(['--user', 'flaguser:x'], { SOCKSKIT_CONFIG: conf, SOCKSKIT_USER: 'envuser:y' });
      expect((await tunnel(flag.port, echoT.port, ['flaguser', 'x'])).reply[1]).to.equal(0);
      expect((await tunnel(flag.port, echoT.port, ['envuser', 'y'])).reply).to.deep.equal(hex('05 02 01 01'));
      expect(flag.daemon.output()).to.not.include('pw2');
    });
  });

  describe('signals', () => {
    it('SIGHUP: a user added to the users file gets in, the open tunnel still carries data; a broken file keeps the old configuration', async () => {
      const d = tmp();
      const users = path.join(d, 'users');
      writeFileSync(users, 'alice:apw\n', { mode: 0o600 });
      const { daemon, port } = await startProxy(['--listen', '127.0.0.1:0', '--users', users, '--access-log', 'off']);
      const { c, reply } = await tunnel(port, echoT.port, ['alice', 'apw']);
      expect(reply[1]).to.equal(0);
      expect((await tunnel(port, echoT.port, ['bob', 'bpw'])).reply).to.deep.equal(hex('05 02 01 01'));
      appendFileSync(users, 'bob:bpw\n');
      daemon.child.kill('SIGHUP');
      await waitFor(() => /configuration reloaded/.test(daemon.output()), 5000, 'the reload');
      expect((await tunnel(port, echoT.port, ['bob', 'bpw'])).reply[1]).to.equal(0);
      c.write('still here');
      expect((await c.read(10)).toString()).to.equal('still here');
      // Broken: a line without a colon. The old users stay.
      appendFileSync(users, 'carol-without-password\n');
      daemon.child.kill('SIGHUP');
      await waitFor(() => /reload failed, keeping the running configuration: .*users line 3: expected NAME:PASSWORD/.test(daemon.output()), 5000, 'the failed reload');
      expect((await tunnel(port, echoT.port, ['bob', 'bpw'])).reply[1]).to.equal(0);
      c.write('and still');
      expect((await c.read(9)).toString()).to.equal('and still');
      expect(daemon.child.exitCode).to.equal(null);
      c.destroy();
    });

    it('SIGTERM drains: no new connections, the open tunnel finishes, then exit 0', async () => {
      const { daemon, port } = await startProxy(['--listen', '127.0.0.1:0', '--drain-timeout', '10000', '--access-log', 'off']);
      const { c } = await tunnel(port, echoT.port);
      const exited = new Promise<number | null>((r) => daemon.child.once('exit', (code) => r(code)));
      daemon.child.kill('SIGTERM');
      await waitFor(() => /draining/.test(daemon.output()), 5000, 'draining');
      const refused = await RawClient.connect(port).then((x) => { x.destroy(); return false; }, () => true);
      expect(refused).to.equal(true);
      c.write('during drain');
      expect((await c.read(12)).toString()).to.equal('during drain');
      expect(daemon.child.exitCode).to.equal(null);
      c.socket.end();
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))])).to.equal(0);
    });
  });

  describe('a second SIGINT', () => {
    for (const workers of ['1', '2']) {
      it(`cuts the open tunnels and still writes their access-log lines (--workers ${workers})`, async function () {
        this.timeout(40000);
        const { daemon, port } = await startProxy(['--listen', '127.0.0.1:0', '--drain-timeout', '30000', '--workers', workers]);
        if (workers === '2') await waitFor(() => (daemon.output().match(/listening on/g) ?? []).length === 2, 20000, 'both workers');
        const { c } = await tunnel(port, echoT.port);
        c.write('x');
        await c.read(1);
        const exited = new Promise<number | null>((r) => daemon.child.once('exit', (code) => r(code)));
        daemon.child.kill('SIGINT');
        await waitFor(() => /draining/.test(daemon.output()), 5000, 'draining');
        daemon.child.kill('SIGINT');
        expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 8000))])).to.equal(130);
        expect(daemon.output()).to.match(new RegExp(`command=connect destination=127\\.0\\.0\\.1:${echoT.port} .* up=1 down=1 .*end=shutdown`));
        c.destroy();
      });
    }
  });

  describe('--metrics', () => {
    it('serves Prometheus text at /metrics; counters move with traffic', async () => {
      const { port, metricsPort } = await startProxy(['--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--user', 'alice:apw', '--access-log', 'off']);
      const before = await httpGet(metricsPort!, '/metrics');
      expect(before.status).to.equal(200);
      expect(await httpGet(metricsPort!, '/')).to.deep.include({ status: 404 });
      const value = (body: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (m) => '\\' + m)} (\\S+)$`, 'm').exec(body)?.[1]);
      expect(value(before.body, 'sockskit_connections_accepted_total')).to.equal(0);
      const { c } = await tunnel(port, echoT.port, ['alice', 'apw']);
      c.write('12345');
      await c.read(5);
      const mid = (await httpGet(metricsPort!, '/metrics')).body;
      expect(value(mid, 'sockskit_tunnels_open')).to.equal(1);
      c.destroy();
      expect((await tunnel(port, echoT.port, ['alice', 'wrong'])).reply).to.deep.equal(hex('05 02 01 01'));
      await new Promise((r) => setTimeout(r, 200));
      const after = (await httpGet(metricsPort!, '/metrics')).body;
      expect(value(after, 'sockskit_connections_accepted_total')).to.equal(2);
      expect(value(after, 'sockskit_tunnels_open')).to.equal(0);
      expect(value(after, 'sockskit_bytes_up_total')).to.equal(5);
      expect(value(after, 'sockskit_bytes_down_total')).to.equal(5);
      expect(value(after, 'sockskit_auth_failures_total{method="userpass"}')).to.equal(1);
      expect(value(after, 'sockskit_replies_total{code="0"}')).to.equal(1);
      expect(value(after, 'sockskit_errors_total{class="auth"}')).to.equal(1);
      // Both handshakes ended (one in success, one in an auth failure).
      expect(value(after, 'sockskit_handshake_duration_seconds_count')).to.equal(2);
      // Every sample line is NAME{LABELS} VALUE; every family has HELP and TYPE.
      for (const line of after.trim().split('\n')) {
        if (line.startsWith('#')) expect(line).to.match(/^# (HELP|TYPE) (sockskit|process)_[a-z_]+ .+$/);
        else expect(line).to.match(/^(sockskit|process)_[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.e+-]+$/);
      }
      const promtool = which('promtool');
      if (promtool) {
        const r = await runProgram(promtool, ['check', 'metrics'], { input: after });
        expect(r.code, r.stdout + r.stderr).to.equal(0);
      }
    });
  });

  describe('--workers', () => {
    // The default: each worker accepts from the shared socket (which one gets a
    // connection is the kernel's choice); NODE_CLUSTER_SCHED_POLICY=rr: the primary deals them out in turn.
    for (const policy of ['none (default)', 'rr']) it(`scheduling ${policy}: two workers serve (with rr the access log shows both), a killed worker is replaced, SIGTERM stops all`, async () => {
      const d = tmp();
      const log = path.join(d, 'access.log');
      const { daemon, port, metricsPort } = await startProxy(['--listen', '127.0.0.1:0', '--workers', '2', '--access-log', log, '--access-log-format', 'json', '--metrics', '127.0.0.1:0', '--drain-timeout', '1000'], policy === 'rr' ? { NODE_CLUSTER_SCHED_POLICY: 'rr' } : {});
      await waitFor(() => (daemon.output().match(/listening on/g) ?? []).length === 2, 10000, 'both workers');
      const pids = [...daemon.output().matchAll(/\(worker (\d+), pid (\d+)\)/g)].map((m) => Number(m[2]));
      expect(pids).to.have.length(2);
      for (let i = 0; i < 6; i++) {
        const { c, reply } = await tunnel(port, echoT.port);
        expect(reply[1]).to.equal(0);
        c.destroy();
      }
      await waitFor(() => { try { return readFileSync(log, 'utf8').trim().split('\n').length >= 6; } catch { return false; } }, 5000, 'six log lines');
      const workers = [...new Set(readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l).worker))].sort();
      if (policy === 'rr') expect(workers).to.deep.equal([1, 2]);
      else expect([[1], [2], [1, 2]]).to.deep.include(workers);
      const m = (await httpGet(metricsPort!, '/metrics')).body;
      expect(m).to.match(/^sockskit_connections_accepted_total 6$/m);
      expect(m).to.match(/^sockskit_workers 2$/m);
      daemon.child.kill('SIGUSR1');
      await waitFor(() => /stats \{.*\}\n/.test(daemon.output()), 5000, 'the summed counters');
      expect(JSON.parse(/stats (\{.*\})\n/.exec(daemon.output())![1]!)).to.deep.include({ accepted: 6, tunnels: 6, workers: 2 });
      process.kill(pids[0]!, 'SIGKILL');
      await waitFor(() => /worker \d+ \(pid \d+\) exited \(SIGKILL\); starting a new one/.test(daemon.output()) && (daemon.output().match(/listening on/g) ?? []).length === 3, 10000, 'a new worker');
      const { c, reply } = await tunnel(port, echoT.port);
      expect(reply[1]).to.equal(0);
      c.destroy();
      const allPids = [...daemon.output().matchAll(/\(worker (\d+), pid (\d+)\)/g)].map((x) => Number(x[2]));
      const exited = new Promise<number | null>((r) => daemon.child.once('exit', (code) => r(code)));
      daemon.child.kill('SIGTERM');
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 8000))])).to.equal(0);
      for (const pid of allPids) expect(() => process.kill(pid, 0), `pid ${pid}`).to.throw();
    });
  });

  describe('users file', () => {
    it('accepts scrypt hashes from sockskit-keys hash, and warns when others can read it', async () => {
      const h = await runProgram(process.execPath, [PROGRAM.keys, 'hash'], { input: 's3cret\n' });
      expect(h.code, h.stderr).to.equal(0);
      expect(h.stdout).to.match(/^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}\n$/);
      const d = tmp();
      const users = path.join(d, 'users');
      writeFileSync(users, `alice:${h.stdout}plain:pw\n`);
      chmodSync(users, 0o644);
      const { daemon, port } = await startProxy(['--listen', '127.0.0.1:0', '--users', users, '--access-log', 'off']);
      expect(daemon.output()).to.include(`warning: ${users}: password file is accessible by others (mode 0644)`);
      expect((await tunnel(port, echoT.port, ['alice', 's3cret'])).reply[1]).to.equal(0);
      expect((await tunnel(port, echoT.port, ['alice', 'wrong'])).reply).to.deep.equal(hex('05 02 01 01'));
      expect((await tunnel(port, echoT.port, ['nobody', 's3cret'])).reply).to.deep.equal(hex('05 02 01 01'));
      expect((await tunnel(port, echoT.port, ['plain', 'pw'])).reply[1]).to.equal(0);
      writeFileSync(path.join(d, 'bad'), 'x:$scrypt$N=3,r=8,p=1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==\n');
      const r = await runProgram(process.execPath, [PROXY, '--check', '--users', path.join(d, 'bad')]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/bad line 1: scrypt parameters out of range/);
    });
  });
});
