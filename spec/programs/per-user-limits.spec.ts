/**
 * Issue 20 item 4: per-user limits. --max-connections-per-user refuses a
 * user's request past N with REP 02 (other users unaffected);
 * --rate-per-user holds a user's tunnels together to RATE bytes per second
 * in each direction (measured over 5 s on loopback, within 10 %).
 */
import { expect } from 'chai';
import net from 'node:net';
import { PROGRAM } from '../support/paths.js';
import { cleanEnv, startProgram, stopPrograms } from '../support/interop.js';
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

describe('per-user limits (issue 20 item 4)', () => {
  afterEach(() => stopPrograms());

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
});
