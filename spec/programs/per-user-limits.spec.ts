/**
 * Issue 20 item 4: per-user limits. --max-connections-per-user refuses a
 * user's request past N with REP 02 (other users unaffected);
 * --rate-per-user holds a user's tunnels together to RATE bytes per second
 * in each direction (measured over 5 s on loopback, within 10 %). The same
 * as rule fields: a pass rule's maxConnections:/rate: set the cap and rate
 * of the requests it decides, per user it names; other users keep the flags.
 */
import { expect } from 'chai';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROGRAM, ROOT } from '../support/paths.js';
import { cleanEnv, runProgram, startProgram, stopPrograms, tempDir } from '../support/interop.js';
import { hex } from '../support/helpers.js';

/** RFC 1929 login and CONNECT 127.0.0.1:port; resolves with the socket and the reply code. */
function tunnel(proxyPort: number, port: number, user: string, pass: string): Promise<{ s: net.Socket; rep: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxyPort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => reject(new Error('no reply')), 5000);
    s.on('error', reject);
    s.on('connect', () => s.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass), hex('05 01 00 01 7f 00 00 01'), Buffer.from([port >> 8, port & 255])])));
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 8) return;
      clearTimeout(t);
      s.removeListener('data', onData);
      s.pause();
      resolve({ s, rep: buf[5]! });
    };
    s.on('data', onData);
  });
}

/** A server that writes to every connection as fast as it reads (source) or counts what it receives (sink). */
async function server(kind: 'source' | 'sink'): Promise<{ port: number; received: () => number; close: () => void }> {
  let received = 0;
  const conns = new Set<net.Socket>();
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const srv = net.createServer((c) => {
    conns.add(c);
    c.on('error', () => {});
    c.on('close', () => conns.delete(c));
    if (kind === 'sink') c.on('data', (d) => (received += d.length));
    else {
      const pump = () => {
        while (!c.destroyed && c.write(chunk));
      };
      c.on('drain', pump);
      pump();
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as net.AddressInfo).port, received: () => received, close: () => (conns.forEach((c) => c.destroy()), srv.close()) };
}

async function startProxy(args: string[]): Promise<number> {
  const p = startProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--user', 'alice:apw', '--user', 'bob:bpw', '--access-log', 'off', ...args], cleanEnv());
  return Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10000))[1]);
}

/** A config file holding `yaml` (and removed after the test). */
let dirs: { cleanup(): void }[] = [];
function configFile(yaml: string): string {
  const d = tempDir('sockskit-rulelimits-');
  dirs.push(d);
  return d.write('proxy.yaml', yaml);
}

/** Bytes per second `t` delivers over `seconds`, reading as fast as it can. */
async function downloadRate(t: { s: net.Socket }, seconds: number): Promise<() => number> {
  let got = 0;
  t.s.on('data', (d: Buffer) => (got += d.length)).resume();
  // The first tenth of a second fills the socket buffers: measured after it.
  await new Promise((r) => setTimeout(r, 100));
  const got0 = got;
  const t0 = performance.now();
  return () => (got - got0) / ((performance.now() - t0) / 1000 || seconds);
}

describe('per-user limits (issue 20 item 4)', () => {
  afterEach(async () => {
    await stopPrograms();
    for (const d of dirs) d.cleanup();
    dirs = [];
  });

  it('--max-connections-per-user 2: the third request of a user gets REP 02, other users are served, a closed one frees a place', async function () {
    this.timeout(20000);
    const sink = await server('sink');
    try {
      const port = await startProxy(['--max-connections-per-user', '2']);
      const a1 = await tunnel(port, sink.port, 'alice', 'apw');
      const a2 = await tunnel(port, sink.port, 'alice', 'apw');
      expect([a1.rep, a2.rep]).to.deep.equal([0, 0]);
      const a3 = await tunnel(port, sink.port, 'alice', 'apw');
      expect(a3.rep, 'alice, third').to.equal(2);
      const b1 = await tunnel(port, sink.port, 'bob', 'bpw');
      expect(b1.rep, 'bob').to.equal(0);
      a1.s.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const a4 = await tunnel(port, sink.port, 'alice', 'apw');
      expect(a4.rep, 'alice, after one closed').to.equal(0);
      for (const t of [a2, a3, b1, a4]) t.s.destroy();
    } finally {
      sink.close();
    }
  });

  it('--rate-per-user 1M: two downloads share 1 MiB/s, an upload at the same time gets its own 1 MiB/s (5 s, within 10 %)', async function () {
    this.timeout(30000);
    const RATE = 1024 * 1024;
    const [source, sink] = [await server('source'), await server('sink')];
    try {
      const port = await startProxy(['--rate-per-user', '1M']);
      const down = [await tunnel(port, source.port, 'alice', 'apw'), await tunnel(port, source.port, 'alice', 'apw')];
      const up = await tunnel(port, sink.port, 'alice', 'apw');
      expect([...down, up].map((t) => t.rep)).to.deep.equal([0, 0, 0]);
      let got = 0;
      for (const t of down) t.s.on('data', (d: Buffer) => (got += d.length)).resume();
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      const pump = () => {
        while (!up.s.destroyed && up.s.write(chunk));
      };
      up.s.on('drain', pump);
      pump();
      const [got0, sent0] = [got, sink.received()];
      await new Promise((r) => setTimeout(r, 5000));
      const [downRate, upRate] = [(got - got0) / 5, (sink.received() - sent0) / 5];
      expect(downRate / RATE, `down ${downRate} B/s`).to.be.within(0.9, 1.1);
      expect(upRate / RATE, `up ${upRate} B/s`).to.be.within(0.9, 1.1);
      for (const t of [...down, up]) t.s.destroy();
    } finally {
      source.close();
      sink.close();
    }
  });

  it('rule maxConnections: 1 for alice: her second request gets REP 02; bob falls back to the flag (3); carol and dave, one rule of 2, get 2 each', async function () {
    this.timeout(20000);
    const sink = await server('sink');
    try {
      const config = configFile('rules:\n  - { action: pass, user: [alice], maxConnections: 1 }\n  - { action: pass, user: [carol, dave], maxConnections: 2 }\n  - { action: pass }\n');
      const port = await startProxy(['--config', config, '--max-connections-per-user', '3', '--user', 'carol:cpw', '--user', 'dave:dpw']);
      const open: { s: net.Socket }[] = [];
      const reps = async (user: string, pass: string, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const t = await tunnel(port, sink.port, user, pass);
          open.push(t);
          out.push(t.rep);
        }
        return out;
      };
      expect(await reps('alice', 'apw', 2), 'alice').to.deep.equal([0, 2]);
      expect(await reps('bob', 'bpw', 4), 'bob').to.deep.equal([0, 0, 0, 2]);
      expect(await reps('carol', 'cpw', 3), 'carol').to.deep.equal([0, 0, 2]);
      expect(await reps('dave', 'dpw', 3), 'dave').to.deep.equal([0, 0, 2]);
      for (const t of open) t.s.destroy();
    } finally {
      sink.close();
    }
  });

  it('rule rate: 256K for alice: her download holds 256 KiB/s (4 s, within 10 %) while bob, under a rule without a rate, is not throttled', async function () {
    this.timeout(30000);
    const RATE = 256 * 1024;
    const source = await server('source');
    try {
      const config = configFile('rules:\n  - { action: pass, user: alice, rate: 256K }\n  - { action: pass }\n');
      const port = await startProxy(['--config', config]);
      const [a, b] = [await tunnel(port, source.port, 'alice', 'apw'), await tunnel(port, source.port, 'bob', 'bpw')];
      expect([a.rep, b.rep]).to.deep.equal([0, 0]);
      const [aRate, bRate] = [await downloadRate(a, 4), await downloadRate(b, 4)];
      await new Promise((r) => setTimeout(r, 4000));
      const [ra, rb] = [aRate(), bRate()];
      expect(ra / RATE, `alice ${Math.round(ra)} B/s`).to.be.within(0.9, 1.1);
      expect(rb / RATE, `bob ${Math.round(rb)} B/s`).to.be.above(4);
      for (const t of [a, b]) t.s.destroy();
    } finally {
      source.close();
    }
  });

  it('--check refuses a bad maxConnections or rate, and either on a block rule, naming the rule', async function () {
    this.timeout(20000);
    const cases: [string, RegExp][] = [
      ['  - { action: pass }\n  - { action: pass, user: alice, maxConnections: 0 }', /rules\[1\]\.maxConnections: expected a whole number of requests from 1, or unlimited, got 0/],
      ['  - { action: pass, user: alice, maxConnections: 2.5 }', /rules\[0\]\.maxConnections: expected a whole number/],
      ['  - { action: pass }\n  - { action: pass }\n  - { action: pass, rate: 10X }', /rules\[2\]\.rate: expected a rate in bytes per second such as 500K or 10M, got "10X"/],
      ['  - { action: pass, rate: 0 }', /rules\[0\]\.rate: a rate must be at least 1 byte per second/],
      ['  - { action: block, user: alice, rate: 1M }', /rules\[0\]\.rate: only a pass rule sets limits/],
      ['  - { action: pass, maxconnections: 1 }', /rules\[0\]\.maxconnections: unknown key/],
    ];
    for (const [rules, re] of cases) {
      const r = await runProgram(process.execPath, [PROGRAM.proxy, '--config', configFile(`rules:\n${rules}\n`), '--check']);
      expect(r.code, rules).to.equal(2);
      expect(r.stderr, rules).to.match(re);
    }
    const ok = await runProgram(process.execPath, [PROGRAM.proxy, '--config', configFile('rules:\n  - { action: pass, user: admin, maxConnections: unlimited, rate: unlimited }\n  - { action: pass, maxConnections: 8, rate: 1.5M }\n'), '--check']);
    expect([ok.code, ok.stdout.trim()]).to.deep.equal([0, 'sockskit-proxy: configuration OK']);
  });

  it('the shipped example config passes --check as shipped and with its limits rule uncommented', async function () {
    this.timeout(20000);
    const example = readFileSync(path.join(ROOT, 'examples', 'sockskit-proxy.yaml'), 'utf8');
    const uncommented = example.replace(/^# (- \{ action: pass, [^\n]*maxConnections: \d+, rate: \w+ \})$/m, '  $1');
    expect(uncommented, 'the commented limits rule').not.to.equal(example);
    for (const text of [example, uncommented]) {
      const r = await runProgram(process.execPath, [PROGRAM.proxy, '--config', configFile(text), '--check']);
      expect([r.code, r.stdout.trim()]).to.deep.equal([0, 'sockskit-proxy: configuration OK']);
    }
  });
});
