/**
 * `sockskit-keys hash` on a terminal (a real pty, made by python3's pty
 * module): prompts on stderr with echo off, asks twice, refuses a mismatch;
 * through a pipe it reads the first line of stdin without prompting.
 */
import { expect } from 'chai';
import { verifyPassword } from '../../methods/userpass.js';
import { PROGRAM } from '../support/paths.js';
import { requireProgram, runProgram, cleanEnv } from '../support/interop.js';

/**
 * Runs `node keys.js hash` under a pty; `answers` are typed one by one, each
 * after the prompt that asks for it. Prints the whole terminal transcript,
 * then `EXIT <code>`.
 */
const PTY_DRIVER = String.raw`
import os, pty, sys, time, select
answers = sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], sys.argv[2], 'hash'])
out = b''
deadline = time.time() + 20
asked = 0
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if asked < len(answers) and out.count(b': ') > asked:
        os.write(fd, answers[asked].encode() + b'\r')
        asked += 1
done = os.waitpid(pid, os.WNOHANG)
if done == (0, 0):
    os.kill(pid, 9)
    done = os.waitpid(pid, 0)
status = done[1]
sys.stdout.write(out.decode('utf8', 'replace'))
sys.stdout.write('\nEXIT %d\n' % os.waitstatus_to_exitcode(status))
`;

async function onTerminal(ctx: Mocha.Context, answers: string[]): Promise<{ transcript: string; code: number }> {
  const py = requireProgram(ctx, 'python3');
  const r = await runProgram(py, ['-c', PTY_DRIVER, process.execPath, PROGRAM.keys, ...answers], { env: cleanEnv(), timeout: 30000 });
  const m = /\nEXIT (-?\d+)\n$/.exec(r.stdout);
  if (!m) throw new Error(`no exit status: ${r.stdout} ${r.stderr}`);
  return { transcript: r.stdout.slice(0, m.index), code: Number(m[1]) };
}

describe('sockskit-keys hash: the password prompt', function () {
  this.timeout(40000);

  it('on a terminal: two prompts, nothing echoed, a hash of the password', async function () {
    const { transcript, code } = await onTerminal(this, ['c0rrect horse', 'c0rrect horse']);
    expect(code, transcript).to.equal(0);
    expect(transcript).to.include('Password: ');
    expect(transcript).to.include('Again: ');
    expect(transcript).not.to.include('c0rrect');
    const hash = /\$scrypt\$\S+/.exec(transcript)![0];
    expect(await verifyPassword('c0rrect horse', hash)).to.equal(true);
  });

  it('on a terminal: two different answers are refused, no hash printed', async function () {
    const { transcript, code } = await onTerminal(this, ['one thing', 'another']);
    expect(code, transcript).to.equal(1);
    expect(transcript).to.match(/the passwords do not match/);
    expect(transcript).not.to.include('$scrypt$');
  });

  it('through a pipe: the first line of stdin, no prompt', async () => {
    const r = await runProgram(process.execPath, [PROGRAM.keys, 'hash'], { input: 'piped pw\nsecond line ignored\n', env: cleanEnv() });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(await verifyPassword('piped pw', r.stdout.trim())).to.equal(true);
  });
});
