/**
 * Interop: real clients (curl, ncat, Python's PySocks) through the built
 * program `node dist/examples/proxy.js --listen 127.0.0.1:0`, to tiny node
 * targets on loopback. Also the program's own behaviour: --help, a bad flag,
 * EADDRINUSE, SIGTERM. A missing client program skips visibly, or fails when
 * SOCKSKIT_INTEROP_REQUIRED=1 (CI).
 */
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { requireProgram, spawnDaemon, stopAll, stopChild, echoServer, Daemon, cleanEnv, runProgram, RunResult } from '../support/interop.js';
import { RawClient, waitFor } from '../support/server.js';
import { hex, toHex } from '../support/helpers.js';
import { PROGRAM } from '../support/paths.js';

const PROXY = PROGRAM.proxy;
const LOCAL = '127.0.0.1';
/** Debian's python with python3-socks, not whatever python3 is first on PATH. */
const PYTHON = '/usr/bin/python3';

type Result = RunResult;

/** Runs a program to completion, feeding `input`; killed after `timeout` ms. */
function run(cmd: string, args: string[], input = '', timeout = 15000): Promise<Result> {
  return runProgram(cmd, args, { input, timeout });
}

/** Starts the proxy on an ephemeral port and reads the port from its "listening on" line. */
async function startProxy(args: string[] = []): Promise<{ port: number; daemon: Daemon }> {
  const daemon = await spawnDaemon(process.execPath, [PROXY, '--listen', `${LOCAL}:0`, ...args], { env: cleanEnv() });
  let port = 0;
  await waitFor(
    () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(daemon.output());
      if (m) port = Number(m[1]);
      return port > 0 || daemon.child.exitCode !== null;
    },
    10000,
    'the proxy to listen',
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n${daemon.output()}`);
  });
  if (!port) throw new Error(`proxy exited: ${daemon.output()}`);
  return { port, daemon };
}

/** An HTTP target answering with its own fixed body, on 127.0.0.1 and (if it can) ::1 on the same port. */
async function httpTarget(): Promise<{ port: number; close(): Promise<void> }> {
  const handler: http.RequestListener = (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from target ${req.url}`);
  };
  const v4 = http.createServer(handler);
  await new Promise<void>((r) => v4.listen(0, LOCAL, () => r()));
  const port = (v4.address() as net.AddressInfo).port;
  // `localhost` may resolve to ::1 first; serve there too so --socks5-hostname works either way.
  const v6 = http.createServer(handler);
  await new Promise<void>((r) => {
    v6.once('error', () => r());
    v6.listen(port, '::1', () => r());
  });
  const closeOne = (s: http.Server) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()));
  return {
    port,
    close: async () => {
      v4.closeAllConnections();
      v6.closeAllConnections();
      await Promise.all([closeOne(v4), closeOne(v6)]);
    },
  };
}

const PY_CLIENT = `
import socks, sys
kind, proxy_port, host, port, rdns, user, password = sys.argv[1:8]
s = socks.socksocket()
s.set_proxy(getattr(socks, kind), '127.0.0.1', int(proxy_port), rdns=(rdns == '1'),
            username=user or None, password=password or None)
s.settimeout(10)
try:
    s.connect((host, int(port)))
except socks.ProxyError as e:
    print('PROXYERROR', type(e).__name__)
    sys.exit(3)
s.sendall(b'ping from python')
got = b''
while len(got) < 16:
    d = s.recv(100)
    if not d:
        break
    got += d
print(got.decode())
`;

describe('interop: sockskit-proxy with real clients', function () {
  this.timeout(60000);
  let http4: Awaited<ReturnType<typeof httpTarget>>;
  let echo: Awaited<ReturnType<typeof echoServer>>;

  before(async () => {
    http4 = await httpTarget();
    echo = await echoServer();
  });
  after(async () => {
    await stopAll();
    await http4?.close();
    await echo?.close();
  });

  describe('no authentication', () => {
    let proxy: number;
    before(async () => {
      proxy = (await startProxy()).port;
    });

    const curlCases: [string, string[], () => string][] = [
      ['curl --socks5', ['--socks5'], () => `http://${LOCAL}:${http4.port}/s5`],
      ['curl --socks5-hostname (localhost resolved by the proxy)', ['--socks5-hostname'], () => `http://localhost:${http4.port}/s5h`],
      ['curl --socks4', ['--socks4'], () => `http://${LOCAL}:${http4.port}/s4`],
      ['curl --socks4a (localhost resolved by the proxy)', ['--socks4a'], () => `http://localhost:${http4.port}/s4a`],
    ];
    for (const [name, flags, url] of curlCases) {
      it(name, async function () {
        const curl = requireProgram(this, 'curl');
        const u = url();
        const r = await run(curl, ['-sS', '--max-time', '10', ...flags, `${LOCAL}:${proxy}`, u]);
        expect(r.stderr).to.equal('');
        expect(r.code).to.equal(0);
        expect(r.stdout).to.equal(`hello from target ${new URL(u).pathname}`);
      });
    }

    for (const type of ['socks5', 'socks4']) {
      it(`ncat --proxy-type ${type}`, async function () {
        const ncat = requireProgram(this, 'ncat');
        const r = await run(ncat, ['--proxy', `${LOCAL}:${proxy}`, '--proxy-type', type, LOCAL, String(echo.port)], `ping over ${type}\n`);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.equal(`ping over ${type}\n`);
      });
    }

    const pyCases: [string, string[]][] = [
      ['PySocks SOCKS5', ['SOCKS5', LOCAL, '0', '', '']],
      ['PySocks SOCKS5 with remote DNS (localhost)', ['SOCKS5', 'localhost', '1', '', '']],
      ['PySocks SOCKS4', ['SOCKS4', LOCAL, '0', '', '']],
      ['PySocks SOCKS4a (localhost)', ['SOCKS4', 'localhost', '1', '', '']],
    ];
    for (const [name, [kind, host, rdns, user, pass]] of pyCases) {
      it(name, async function () {
        requireProgram(this, PYTHON);
        // A local echo target that also listens on ::1 is not needed: echo is on 127.0.0.1 and
        // the proxy dials what `localhost` resolves to, so resolve it the way the proxy does.
        const target = host === 'localhost' ? await localhostEcho() : { host, port: echo.port, close: async () => {} };
        try {
          const r = await run(PYTHON, ['-c', PY_CLIENT, kind!, String(proxy), host!, String(target.port), rdns!, user!, pass!]);
          if (/No module named 'socks'/.test(r.stderr)) {
            if (process.env.SOCKSKIT_INTEROP_REQUIRED === '1') throw new Error('python3-socks missing (SOCKSKIT_INTEROP_REQUIRED=1)');
            console.log('      (skipped: python3-socks not installed for /usr/bin/python3)');
            return this.skip();
          }
          expect(r.code, r.stderr + r.stdout).to.equal(0);
          expect(r.stdout.trim()).to.equal('ping from python');
        } finally {
          await target.close();
        }
      });
    }

    it('a raw client that pipelines greeting, request and payload in one write', async () => {
      const c = await RawClient.connect(proxy);
      try {
        const req = Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01'), Buffer.from([echo.port >> 8, echo.port & 0xff])]);
        c.write(Buffer.concat([req, Buffer.from('pipelined payload')]));
        expect(toHex(await c.read(2))).to.equal('05 00');
        expect(toHex((await c.read(10)).subarray(0, 4))).to.equal('05 00 00 01');
        expect((await c.read(17)).toString()).to.equal('pipelined payload');
      } finally {
        c.destroy();
      }
    });
  });

  describe('--user alice:s3cret', () => {
    let proxy: number;
    before(async () => {
      proxy = (await startProxy(['--user', 'alice:s3cret'])).port;
    });

    it('curl -U alice:s3cret --socks5 gets through', async function () {
      const curl = requireProgram(this, 'curl');
      const r = await run(curl, ['-sS', '--max-time', '10', '--socks5', `${LOCAL}:${proxy}`, '-U', 'alice:s3cret', `http://${LOCAL}:${http4.port}/auth`]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('hello from target /auth');
    });

    const refused: [string, string[]][] = [
      ['a wrong password', ['--socks5', '-U', 'alice:wrong']],
      ['an empty username', ['--socks5', '-U', ':s3cret']],
      ['no credentials', ['--socks5']],
      ['SOCKS4 (no password possible)', ['--socks4']],
    ];
    for (const [name, flags] of refused) {
      it(`curl with ${name} fails with exit 97 (proxy handshake error)`, async function () {
        const curl = requireProgram(this, 'curl');
        const [mode, ...rest] = flags;
        const r = await run(curl, ['-sS', '--max-time', '10', mode!, `${LOCAL}:${proxy}`, ...rest, `http://${LOCAL}:${http4.port}/no`]);
        expect(r.code, r.stderr).to.equal(97);
        expect(r.stdout).to.equal('');
      });
    }

    it('ncat --proxy-auth alice:s3cret', async function () {
      const ncat = requireProgram(this, 'ncat');
      const r = await run(ncat, ['--proxy', `${LOCAL}:${proxy}`, '--proxy-type', 'socks5', '--proxy-auth', 'alice:s3cret', LOCAL, String(echo.port)], 'authed ping\n');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('authed ping\n');
    });

    it('ncat with a wrong password is refused', async function () {
      const ncat = requireProgram(this, 'ncat');
      const r = await run(ncat, ['--proxy', `${LOCAL}:${proxy}`, '--proxy-type', 'socks5', '--proxy-auth', 'alice:nope', LOCAL, String(echo.port)], 'x\n');
      expect(r.code).to.not.equal(0);
      expect(r.stdout).to.equal('');
    });

    it('PySocks with username/password; a wrong password is a proxy error', async function () {
      requireProgram(this, PYTHON);
      const ok = await run(PYTHON, ['-c', PY_CLIENT, 'SOCKS5', String(proxy), LOCAL, String(echo.port), '0', 'alice', 's3cret']);
      if (/No module named 'socks'/.test(ok.stderr)) {
        if (process.env.SOCKSKIT_INTEROP_REQUIRED === '1') throw new Error('python3-socks missing (SOCKSKIT_INTEROP_REQUIRED=1)');
        console.log('      (skipped: python3-socks not installed for /usr/bin/python3)');
        return this.skip();
      }
      expect(ok.code, ok.stderr).to.equal(0);
      expect(ok.stdout.trim()).to.equal('ping from python');
      const bad = await run(PYTHON, ['-c', PY_CLIENT, 'SOCKS5', String(proxy), LOCAL, String(echo.port), '0', 'alice', 'wrong']);
      expect(bad.code, bad.stderr).to.equal(3);
      expect(bad.stdout).to.match(/^PROXYERROR /);
    });

    it('a raw client pipelining greeting, auth, request and payload in one write', async () => {
      const c = await RawClient.connect(proxy);
      try {
        const auth = Buffer.concat([hex('01 05'), Buffer.from('alice'), hex('06'), Buffer.from('s3cret')]);
        const req = Buffer.concat([hex('05 01 00 01 7f 00 00 01'), Buffer.from([echo.port >> 8, echo.port & 0xff])]);
        c.write(Buffer.concat([hex('05 01 02'), auth, req, Buffer.from('after auth')]));
        expect(toHex(await c.read(4))).to.equal('05 02 01 00');
        expect(toHex((await c.read(10)).subarray(0, 4))).to.equal('05 00 00 01');
        expect((await c.read(10)).toString()).to.equal('after auth');
      } finally {
        c.destroy();
      }
    });
  });
});

/** An echo server on whatever address `localhost` resolves to first, as the proxy will dial it. */
async function localhostEcho(): Promise<{ host: string; port: number; close(): Promise<void> }> {
  const dns = await import('node:dns/promises');
  const { address } = await dns.lookup('localhost');
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, address, () => r()));
  return { host: address, port: (server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('sockskit-proxy: the program', function () {
  this.timeout(30000);
  after(stopAll);

  it('--help prints the usage on stdout and exits 0', async () => {
    const r = await run(process.execPath, [PROXY, '--help']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^Usage: sockskit-proxy \[options\]/);
    for (const flag of ['--listen', '--user', '--users', '--no-socks4', '--allow', '--deny', '--handshake-timeout', '--connect-timeout']) {
      expect(r.stdout).to.include(flag);
    }
    expect(r.stderr).to.equal('');
  });

  it('a bad flag: one clear line (plus a hint), no stack trace, exit 2', async () => {
    const r = await run(process.execPath, [PROXY, '--bogus']);
    expect(r.code).to.equal(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).to.match(/^sockskit-proxy: .*--bogus/);
    expect(lines.slice(1).every((l) => /^Try 'sockskit-proxy --help'\.$/.test(l))).to.equal(true);
    expect(r.stderr).to.not.match(/\n\s+at /);
    expect(r.stdout).to.equal('');
  });

  it('a bad value: one clear line, exit 2', async () => {
    const r = await run(process.execPath, [PROXY, '--listen', 'nope']);
    expect(r.code).to.equal(2);
    expect(r.stderr.split('\n')[0]).to.match(/^sockskit-proxy: expected HOST:PORT, got "nope"$/);
  });

  it('EADDRINUSE: a one-line error and exit 1', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, LOCAL, () => r()));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await run(process.execPath, [PROXY, '--listen', `${LOCAL}:${port}`]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal('sockskit-proxy: cannot listen: address already in use\n');
    } finally {
      busy.close();
    }
  });

  it('exits 0 on SIGTERM, with a tunnel open (closed when --drain-timeout runs out)', async () => {
    const echo = await echoServer();
    try {
      const { port, daemon } = await startProxy(['--drain-timeout', '500']);
      const c = await RawClient.connect(port);
      c.write(Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01'), Buffer.from([echo.port >> 8, echo.port & 0xff])]));
      await c.read(12);
      const exited = new Promise<[number | null, string | null]>((r) => daemon.child.once('exit', (code, sig) => r([code, sig])));
      daemon.child.kill('SIGTERM');
      const [code, sig] = await Promise.race([exited, new Promise<[null, string]>((r) => setTimeout(() => r([null, 'still running after 5 s']), 5000))]);
      expect([code, sig]).to.deep.equal([0, null]);
      await waitFor(() => c.ended || c.closed, 3000, 'the tunnel to be closed');
      c.destroy();
      await stopChild(daemon.child);
    } finally {
      await echo.close();
    }
  });
});
