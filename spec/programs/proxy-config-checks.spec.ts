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
});
