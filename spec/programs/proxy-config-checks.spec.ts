/**
 * sockskit-proxy refuses or warns about configurations that weaken it:
 * empty user names and passwords (exit 2), credential files readable by
 * others (warning), PROXY protocol trusted from anyone (warning), and the
 * per-source connection limit flag.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { PROGRAM } from '../support/paths.js';
import { runProgram, tempDir, cleanEnv, killRunning } from '../support/interop.js';
import { Conn } from '../support/udp-bind.js';
import { hex } from '../support/helpers.js';

/** Starts the proxy, returns its stderr once it listens (or exits), and stops it. */
async function startupOutput(args: string[], andThen?: (port: number) => Promise<void>): Promise<{ stderr: string; code: number | null }> {
  const child = spawn(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  try {
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => resolve(null), 5000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
      child.stderr.on('data', () => {
        if (/listening on/.test(stderr)) {
          clearTimeout(t);
          resolve(null);
        }
      });
    });
    if (code === null && andThen) await andThen(Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)![1]));
    return { stderr, code };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('sockskit-proxy configuration checks', function () {
  this.timeout(20000);
  const tmp = tempDir('sockskit-proxy-checks-');
  after(() => {
    tmp.cleanup();
    killRunning();
  });

  for (const [flag, value] of [['--user', ':pw'], ['--user', 'bob:']] as const) {
    it(`${flag} ${value}: refused, exit 2`, async () => {
      const r = await runProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', flag, value], { timeout: 5000 });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/empty (user name|password)/);
    });
  }

  it('--users with an empty name or password on a line: refused, exit 2, naming the line', async () => {
    for (const [text, line] of [['alice:pw1\n:pw2\n', 2], ['# c\nbob:\n', 2]] as const) {
      const f = tmp.write('users', text);
      chmodSync(f, 0o600);
      const r = await runProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--users', f], { timeout: 5000 });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.include(`line ${line}`);
      expect(r.stderr).to.match(/empty (user name|password)/);
    }
  });

  it('--users file readable by others: warns (and starts); mode 0600: no warning', async () => {
    const f = tmp.write('users2', 'alice:secret1\n');
    chmodSync(f, 0o644);
    const open = await startupOutput(['--users', f]);
    expect(open.code).to.equal(null);
    expect(open.stderr).to.match(/warning: .*users2.* accessible by others \(mode 0644\)/);
    chmodSync(f, 0o600);
    const closed = await startupOutput(['--users', f]);
    expect(closed.stderr).to.not.match(/warning/);
  });

  it('--gssapi-psk key file readable by others: warns (and starts)', async () => {
    const f = tmp.write('gss.key', `${'ab'.repeat(32)}\n`);
    chmodSync(f, 0o644);
    const r = await startupOutput(['--gssapi-psk', f]);
    expect(r.code).to.equal(null);
    expect(r.stderr).to.match(/warning: .*gss\.key: GSS-API key file is accessible by others \(mode 0644\)/);
  });

  it('--proxy-protocol without --proxy-protocol-from: warns naming the flag; with it: no warning', async () => {
    const open = await startupOutput(['--proxy-protocol', 'any']);
    expect(open.stderr).to.match(/WARNING: .*--proxy-protocol-from/);
    const trusted = await startupOutput(['--proxy-protocol', 'any', '--proxy-protocol-from', '127.0.0.1/32']);
    expect(trusted.stderr).to.not.match(/WARNING/);
  });

  it('--max-connections-per-source 1: a second connection from the same address is closed', async () => {
    const r = await startupOutput(['--max-connections-per-source', '1'], async (port) => {
      const a = await Conn.open(port);
      a.write(hex('05'));
      const b = await Conn.open(port);
      await b.whenClosed();
      expect(a.closed).to.equal(false);
      a.destroy();
    });
    expect(r.code).to.equal(null);
    const bad = await runProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--max-connections-per-source', '-1'], { timeout: 5000 });
    expect(bad.code).to.equal(2);
  });

  describe('millisecond options past what a Node timer holds (2^31-1 ms): refused once, for every program and every source', () => {
    const tmp = tempDir('sockskit-ms-');
    after(() => tmp.cleanup());
    const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
      ['proxy flag', [PROGRAM.proxy, '--check', '--handshake-timeout', '2592000000'], {}, /--handshake-timeout wants at most 2147483647 ms/],
      ['proxy environment', [PROGRAM.proxy, '--check'], { SOCKSKIT_IDLE_TIMEOUT: '2147483648' }, /SOCKSKIT_IDLE_TIMEOUT.*at most 2147483647 ms/],
      ['gateway flag', [PROGRAM.electrumGateway, '--check', '--backend', '127.0.0.1:1', '--auth-token', 'q7x2kz9m4t1v8w3b6n5c0pdfr', '--backend-timeout', '9e9'], {}, /--backend-timeout wants at most 2147483647 ms/],
      ['connect flag', [PROGRAM.connect, '--timeout', '2592000000', 'localhost', '1'], {}, /--timeout wants at most 2147483647 ms/],
    ];
    for (const [what, args, env, re] of cases) {
      it(`${what}: exit 2 with a readable line`, async () => {
        const r = await runProgram(process.execPath, args, { env: cleanEnv(env) });
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stderr).to.match(re);
      });
    }
    it('config file key: exit 2 naming the file; 2147483647 itself is accepted', async () => {
      const file = tmp.write('ms.yaml', 'drain-timeout: 3000000000\n');
      const r = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--config', file], { env: cleanEnv() });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/ms\.yaml: drain-timeout.*at most 2147483647 ms/);
      const ok = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--connect-timeout', '2147483647'], { env: cleanEnv() });
      expect(ok.code, ok.stderr).to.equal(0);
    });
  });

  it('--access-log FILE that is a symbolic link: refused, exit 2 (at --check and at start)', async () => {
    const tmp = tempDir('sockskit-log-');
    try {
      const real = tmp.write('real.log', '');
      const link = `${tmp.dir}/access.log`;
      (await import('node:fs')).symlinkSync(real, link);
      const r = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--access-log', link], { env: cleanEnv() });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/--access-log .*access\.log is a symbolic link: refused/);
      const started = await startupOutput(['--access-log', link]);
      expect(started.code, started.stderr).to.equal(2);
    } finally {
      tmp.cleanup();
    }
  });
});
