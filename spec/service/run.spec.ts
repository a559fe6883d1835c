/**
 * runService by import: one process with injected output and signals (an
 * EventEmitter, so the test process's own signals are never touched).
 * --workers is covered by spec/programs (cluster forks the program).
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { runService, proxyProgram, AccessLogFile, UsageError, type ServiceIo } from '../../lib/service/index.js';
import { ACCESS_LOG_FLUSH_MS, ACCESS_LOG_FLUSH_CHARS } from '../../lib/service/access-log-file.js';
import { formatText } from '../../lib/server/index.js';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo, waitFor, type Target } from '../support/server.js';
import { tempDir } from '../support/interop.js';

function fakeIo(): ServiceIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, signals: new EventEmitter(), out: () => out, err: () => err };
}

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

describe('runService (by import)', function () {
  this.timeout(10000);
  const tmp = tempDir('sockskit-run-');
  let target: Target;
  before(async () => { target = await startTarget(echo); });
  after(async () => { tmp.cleanup(); await target.close(); });

  it('--help and --version print and resolve 0; --check says OK; a usage error rejects as UsageError', async () => {
    const io = fakeIo();
    expect(await runService(proxyProgram({ argv: ['--help'], env: {} }), io)).to.equal(0);
    expect(io.out()).to.match(/^Usage: sockskit-proxy \[options\]\n/);
    expect(io.out()).to.contain('  --access-log FILE|-|off   one line per finished connection');
    expect(await runService(proxyProgram({ argv: ['--check'], env: {} }), io)).to.equal(0);
    expect(io.out()).to.contain('sockskit-proxy: configuration OK\n');
    const err = await runService(proxyProgram({ argv: ['--workers', '0'], env: {} }), io).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(UsageError);
    expect(io.signals.listenerCount('SIGTERM')).to.equal(0);
  });

  it('serves, logs to the access-log file, answers /metrics and USR1, reloads on HUP, drains on TERM and resolves 0', async () => {
    const io = fakeIo();
    const log = `${tmp.dir}/access.log`;
    const users = tmp.write('users', 'alice:pw\n');
    const done = runService(proxyProgram({ argv: ['--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--users', users, '--access-log', log], env: {} }), io);
    await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(io.err()) && /metrics on/.test(io.err()), 5000, 'listening');
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(io.err())![1]);
    const metricsPort = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(io.err())![1]);
    const tunnel = async (user: string) => {
      const c = await RawClient.connect(port);
      c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), hex('02 70 77 05 01 00 01 7f 00 00 01'), Buffer.from([target.port >> 8, target.port & 255])]));
      await c.read(2);
      const auth = await c.read(2);
      return { c, ok: auth[1] === 0 };
    };
    const first = await tunnel('alice');
    expect(first.ok).to.equal(true);
    await first.c.read(10);
    first.c.destroy();
    await waitFor(() => readFileSync(log, 'utf8').includes('identity=alice'), 5000, 'the access-log line');
    const m = await get(metricsPort, '/metrics');
    expect([m.status, /sockskit_connections_accepted_total 1\b/.test(m.body)]).to.deep.equal([200, true]);
    io.signals.emit('SIGUSR1');
    expect(io.err()).to.match(/stats \{"accepted":1,/);
    expect((await tunnel('bob')).ok).to.equal(false);
    writeFileSync(users, 'alice:pw\nbob:pw\n');
    io.signals.emit('SIGHUP');
    expect(io.err()).to.contain('configuration reloaded (username/password, 2 users)');
    const bob = await tunnel('bob');
    expect(bob.ok).to.equal(true);
    bob.c.destroy();
    io.signals.emit('SIGTERM');
    expect(await done).to.equal(0);
    expect(io.err()).to.contain('SIGTERM: draining');
    expect(['SIGHUP', 'SIGUSR1', 'SIGINT', 'SIGTERM'].map((s) => io.signals.listenerCount(s))).to.deep.equal([0, 0, 0, 0]);
  });

  it('AccessLogFile.reopen: a new target is opened before the old is closed; a failure keeps the old', () => {
    const a = `${tmp.dir}/a.log`;
    const f = new AccessLogFile(a, 'json');
    const rec = { time: new Date(0).toISOString() } as never;
    expect(() => f.reopen(`${tmp.dir}/missing/dir.log`, 'text')).to.throw(UsageError, /cannot open --access-log file .*: no such file/);
    f.write(rec);
    // Lines are batched per turn of the event loop; close() writes what is pending.
    f.close();
    expect(readFileSync(a, 'utf8')).to.match(/^\{.*\}\n$/);
  });

  const rec = (i: number) => ({ time: new Date(0).toISOString(), listener: '127.0.0.1:1080', client: `127.0.0.1:${i}`, method: 'none', identity: undefined, command: 'connect', destination: 'a b:80', dialled: undefined, reply: 0, bytesUp: i, bytesDown: 0, durationMs: 1, handshakeMs: 0, end: 'closed', error: undefined }) as const;

  it('AccessLogFile: the lines of a 50 ms window go out in one write, each as formatText makes it', async () => {
    const writes: string[] = [];
    const f = new AccessLogFile('-', 'text', 2, { write: (s: string) => writes.push(s) });
    for (let i = 1; i <= 3; i++) f.write(rec(i));
    await new Promise((r) => setImmediate(r));
    f.write(rec(4));
    expect(writes, 'nothing before the window ends').to.deep.equal([]);
    await new Promise((r) => setTimeout(r, ACCESS_LOG_FLUSH_MS + 30));
    expect(writes).to.have.length(1);
    const lines = writes[0]!.split('\n');
    expect(lines).to.have.length(5);
    expect(lines[0]).to.equal('1970-01-01T00:00:00.000Z listener=127.0.0.1:1080 client=127.0.0.1:1 method=none identity=- user=- userid=- command=connect destination=a\\x20b:80 dialled=- rule=- reply=0 bytesUp=1 bytesDown=0 durationMs=1 handshakeMs=0 end=closed error=- worker=2');
    expect(lines[4]).to.equal('');
    f.close();
  });

  it('AccessLogFile: 8 KiB of pending lines go out at the end of that turn of the event loop, not after the window', async () => {
    const writes: string[] = [];
    const f = new AccessLogFile('-', 'text', undefined, { write: (s: string) => writes.push(s) });
    const one = rec(1);
    let chars = 0;
    while (chars < ACCESS_LOG_FLUSH_CHARS) f.write(one), (chars += formatText(one).length);
    expect(writes, 'not inside the turn').to.deep.equal([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).to.have.length(1);
    expect(writes[0]!.length).to.equal(chars);
    f.write(one);
    await new Promise((r) => setImmediate(r));
    expect(writes, 'one line waits for the window').to.have.length(1);
    f.close();
    expect(writes).to.have.length(2);
  });
});
