/**
 * sockskit-proxy's login flags: --auth-helper with Debian's basic_ncsa_auth
 * over an htpasswd file (logins, the access log, /metrics'
 * sockskit_logins_total), the login throttle (on by default: a guesser is
 * slowed, then refused, while the config file can tune it), and --check on
 * the flags' mistakes and on scrypt hashes that would cost too much memory.
 */
import http from 'node:http';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, waitFor, type Target } from '../support/server.js';
import { spawnDaemon, stopAll, runProgram, cleanEnv, listeningPort, requireProgram, tempDir, type Daemon } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';

const PROXY = PROGRAM.proxy;
const NCSA = '/usr/lib/squid/basic_ncsa_auth';

async function startProxy(args: string[]): Promise<{ daemon: Daemon; port: number; metricsPort?: number }> {
  const daemon = await spawnDaemon(process.execPath, [PROXY, '--listen', '127.0.0.1:0', ...args], { env: cleanEnv() });
  const port = await listeningPort(daemon);
  const mm = /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/;
  if (args.includes('--metrics')) await waitFor(() => mm.test(daemon.output()), 5000, 'metrics to listen');
  const metricsPort = mm.test(daemon.output()) ? Number(mm.exec(daemon.output())![1]) : undefined;
  return { daemon, port, metricsPort };
}

/** Greeting + login from `localAddress`; resolves with the 4 answer bytes (or fewer) and how long they took. */
async function login(port: number, user: string, pass: string, localAddress = '127.0.0.1'): Promise<{ answer: Buffer; ms: number; c: RawClient }> {
  const c = await new Promise<RawClient>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => resolve(new RawClient(s)));
    s.once('error', reject);
  });
  const t0 = Date.now();
  c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([Buffer.byteLength(user)]), Buffer.from(user), Buffer.from([Buffer.byteLength(pass)]), Buffer.from(pass)]));
  const answer = Buffer.concat([await c.read(2, 10000), await c.read(2, 10000).catch(() => Buffer.alloc(0))]);
  return { answer, ms: Date.now() - t0, c };
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const OK = hex('05 02 01 00');
const FAIL = hex('05 02 01 01');

describe('sockskit-proxy: --auth-helper, login throttling, --scrypt-concurrency', function () {
  this.timeout(30000);
  const tmp = tempDir('sockskit-login-');
  let target: Target;
  before(async () => {
    target = await startTarget(echo);
  });
  afterEach(() => stopAll());
  after(async () => {
    await target.close();
    tmp.cleanup();
  });

  it('--auth-helper runs basic_ncsa_auth over an htpasswd file; logins counted in /metrics', async function () {
    const htpasswd = requireProgram(this, 'htpasswd');
    requireProgram(this, NCSA);
    const file = `${tmp.dir}/htpasswd`;
    execFileSync(htpasswd, ['-c', '-b', '-B', '-C', '5', file, 'alice', 's3cret'], { stdio: 'ignore', timeout: 10000 });
    const { daemon, port, metricsPort } = await startProxy(['--auth-helper', `${NCSA} ${file}`, '--auth-helper-children', '1', '--metrics', '127.0.0.1:0']);
    expect(daemon.output()).to.match(/listening on 127\.0\.0\.1:\d+ \(username\/password, auth helper/);
    // The listening line names the helper program, never its arguments (they may hold a secret: basic_ldap_auth -w PASSWORD).
    expect(daemon.output()).to.include('auth helper "basic_ncsa_auth"').and.not.include(file);
    const good = await login(port, 'alice', 's3cret');
    expect(good.answer).to.deep.equal(OK);
    good.c.write(Buffer.concat([hex('05 01 00 01 7f 00 00 01'), Buffer.from([target.port >> 8, target.port & 255])]));
    expect((await good.c.read(10)).subarray(0, 2)).to.deep.equal(hex('05 00'));
    good.c.destroy();
    const bad = await login(port, 'alice', 'wrong');
    expect(bad.answer).to.deep.equal(FAIL);
    bad.c.destroy();
    await waitFor(() => /identity=alice/.test(daemon.output()), 5000, 'the access line');
    const metrics = await get(metricsPort!, '/metrics');
    expect(metrics).to.include('sockskit_logins_total{outcome="successes"} 1');
    expect(metrics).to.include('sockskit_logins_total{outcome="failures"} 1');
    expect(metrics).to.include('# TYPE sockskit_login_delays_total counter');
  });

  it('the login throttle is on by default: a guesser is slowed then refused; another address still logs in', async () => {
    const cfg = tmp.write('throttle.yaml', 'login-delay: 100\nlogin-max-failures: 6\n');
    const { port } = await startProxy(['--user', 'alice:right', '--config', cfg]);
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const g = await login(port, 'alice', `guess${i}`);
      g.c.destroy();
      expect(g.answer).to.deep.equal(FAIL);
      times.push(g.ms);
    }
    expect(times[3]!, `4th failure answered late (${times.join('/')} ms)`).to.be.at.least(95);
    expect(times[4]!).to.be.at.least(195);
    const locked = await login(port, 'alice', 'right');
    locked.c.destroy();
    expect(locked.answer, 'locked out: even the right password').to.deep.equal(FAIL);
    const other = await login(port, 'alice', 'right', '127.0.0.2');
    other.c.destroy();
    expect(other.answer).to.deep.equal(OK);
  });

  it('--login-throttle off: ten wrong passwords, then the right one is accepted at once', async () => {
    const { port } = await startProxy(['--user', 'alice:right', '--login-throttle', 'off']);
    let total = 0;
    for (let i = 0; i < 10; i++) {
      const g = await login(port, 'alice', `guess${i}`);
      g.c.destroy();
      total += g.ms;
    }
    // Throttled, guesses 4 to 10 alone would wait 250 + 500 + 1000 + 2000 + 4000 + 4000 + 4000 ms.
    expect(total, 'ten failures, no delay').to.be.below(5000);
    const r = await login(port, 'alice', 'right');
    r.c.destroy();
    expect(r.answer).to.deep.equal(OK);
  });

  it('--check refuses the flags\' mistakes, and scrypt hashes past 64 MiB, with a readable line', async () => {
    const check = (args: string[]) => runProgram(process.execPath, [PROXY, '--check', ...args]);
    const cases: [string[], RegExp][] = [
      [['--auth-helper-children', '2'], /--auth-helper-children needs --auth-helper/],
      [['--auth-helper', '/bin/true', '--user', 'a:b'], /--auth-helper and --user\/--users exclude each other/],
      [['--auth-helper', '"/bin/true'], /--auth-helper: unclosed " in/],
      [['--auth-helper', '/bin/true', '--auth-helper-children', '0'], /--auth-helper-children wants a whole number of at least 1/],
      [['--login-throttle', 'maybe'], /--login-throttle wants on or off/],
      [['--scrypt-concurrency', '1.5'], /--scrypt-concurrency wants a whole number/],
      [['--user', 'x:$scrypt$N=1048576,r=16,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='], /scrypt parameters out of range: N=1048576, r=16 need 2048 MiB per check \(128·N·r\); the limit is 64 MiB/],
    ];
    for (const [args, want] of cases) {
      const r = await check(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.match(want);
    }
    const ok = await check(['--auth-helper', `${NCSA} /etc/nonexistent`, '--auth-helper-concurrency', '4', '--scrypt-concurrency', '2']);
    expect(ok.code, ok.stderr).to.equal(0);
  });
});
