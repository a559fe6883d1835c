/**
 * Happy Eyeballs (RFC 8305) on loopback: a name whose first address never
 * answers (a listener with a full accept queue: SYNs dropped) or refuses
 * (127.0.0.3, nothing bound) and whose next address is live (127.0.0.2, the
 * same port). The race connects within its deadline and every losing socket
 * is destroyed; the server checks its rules on each address before dialling.
 */
import net from 'node:net';
import { expect } from 'chai';
import { race, interleave, lookupAll, type Candidate } from '../../lib/transport/happy-eyeballs.js';
import { connect } from '../../lib/client/connect.js';
import { parseCidr } from '../../lib/server/rules.js';
import { fullBacklog, startTarget, echo, type Target } from '../support/server.js';
import { startServer } from '../support/udp-bind.js';
import { tcpSockets } from '../support/proc-net.js';

type Cb = (err: NodeJS.ErrnoException | null, addresses: { address: string; family: number }[]) => void;
/** A lookup that answers every name with `list` (all form) and records the questions. */
function fakeLookup(list: Candidate[], asked: string[] = []) {
  return (host: string, _o: unknown, cb: Cb) => {
    asked.push(host);
    cb(null, list);
  };
}

/** Sockets of this process in SYN-SENT towards 127.0.0.1:port (the blackhole). */
function synSent(port: number): number {
  return tcpSockets().filter((s) => s.state === 'syn-sent' && s.remote.host === '127.0.0.1' && s.remote.port === port).length;
}

describe('Happy Eyeballs', function () {
  this.timeout(15000);
  let hole: Awaited<ReturnType<typeof fullBacklog>>;
  let live: Target;

  before(async function () {
    hole = await fullBacklog();
    if (!hole.ok) {
      hole.close();
      this.skip();
    }
    live = await startTarget(echo, '127.0.0.2', hole.port);
  });
  after(async () => {
    hole?.close();
    await live?.close();
  });

  const blackhole = (): Candidate => ({ address: '127.0.0.1', family: 4 });
  const refused = (): Candidate => ({ address: '127.0.0.3', family: 4 });
  const alive = (): Candidate => ({ address: '127.0.0.2', family: 4 });

  it('interleaves by family, starting with the first answer\'s family (§4)', () => {
    const v6 = (n: number): Candidate => ({ address: `::${n}`, family: 6 });
    const v4 = (n: number): Candidate => ({ address: `127.0.0.${n}`, family: 4 });
    expect(interleave([v6(1), v6(2), v6(3), v4(1), v4(2)])).to.deep.equal([v6(1), v4(1), v6(2), v4(2), v6(3)]);
    expect(interleave([v4(1), v6(1)])).to.deep.equal([v4(1), v6(1)]);
  });

  it('lookupAll asks with all: true and accepts a lookup answering one address', async () => {
    const seen: unknown[] = [];
    const single = (h: string, o: unknown, cb: (e: null, a: string, f: number) => void) => { seen.push(o); cb(null, '127.0.0.2', 4); };
    expect(await lookupAll(single, 'svc.test')).to.deep.equal([alive()]);
    expect(seen).to.deep.equal([{ family: 0, all: true }]);
    expect(await lookupAll(undefined, '::1')).to.deep.equal([{ address: '::1', family: 6 }]);
  });

  it('dead (blackhole) then refused then live: the live one wins within the deadline, every other socket destroyed', async () => {
    const sockets: net.Socket[] = [];
    const before = synSent(hole.port); // the helper's own filler that never got in
    const t0 = Date.now();
    const sock = await race({ candidates: [blackhole(), refused(), alive()], port: hole.port, attemptDelay: 100, deadline: 3000, onAttempt: (s) => sockets.push(s) });
    const took = Date.now() - t0;
    expect(sock.remoteAddress).to.equal('127.0.0.2');
    expect(took, 'stagger, not the deadline').to.be.below(1500);
    expect(sockets.length).to.equal(3);
    expect(sockets.filter((s) => s !== sock).every((s) => s.destroyed)).to.equal(true);
    expect(synSent(hole.port), 'no attempt left in SYN-SENT').to.equal(before);
    sock.destroy();
  });

  it('the deadline covers the whole race and closes every attempt', async () => {
    const sockets: net.Socket[] = [];
    const t0 = Date.now();
    let err: NodeJS.ErrnoException | undefined;
    try {
      await race({ candidates: [blackhole(), blackhole()], port: hole.port, attemptDelay: 50, deadline: 400, onAttempt: (s) => sockets.push(s) });
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).to.equal('ETIMEDOUT');
    expect(Date.now() - t0).to.be.within(350, 1500);
    expect(sockets.length).to.equal(2);
    expect(sockets.every((s) => s.destroyed)).to.equal(true);
  });

  it('all refused: rejects with the attempt\'s error at once', async () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      await race({ candidates: [refused(), { address: '127.0.0.4', family: 4 }], port: hole.port, deadline: 3000 });
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).to.equal('ECONNREFUSED');
  });

  it('an abort destroys every attempt', async () => {
    const sockets: net.Socket[] = [];
    const ac = new AbortController();
    const p = race({ candidates: [blackhole()], port: hole.port, signal: ac.signal, onAttempt: (s) => sockets.push(s) });
    setTimeout(() => ac.abort(new Error('stop')), 50);
    let err: Error | undefined;
    try {
      await p;
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.equal('stop');
    expect(sockets.every((s) => s.destroyed)).to.equal(true);
  });

  it('server CONNECT: a name resolving to a dead then a live address is connected within connectTimeout', async () => {
    const asked: string[] = [];
    const srv = await startServer({ lookup: fakeLookup([blackhole(), alive()], asked) as never, happyEyeballsDelay: 100, connectTimeout: 3000 });
    try {
      const before = synSent(hole.port);
      const accepted = live.sockets.length;
      const t0 = Date.now();
      const r = await connect({ proxy: `socks5h://127.0.0.1:${srv.port}`, destination: { host: 'svc.test', port: hole.port } });
      expect(Date.now() - t0).to.be.below(1500);
      expect(asked).to.deep.equal(['svc.test']);
      expect(live.sockets.length, 'the live address took the connection').to.equal(accepted + 1);
      r.socket.write('ping');
      const back = await new Promise<string>((res) => r.socket.once('data', (d: Buffer) => res(d.toString())));
      expect(back).to.equal('ping');
      expect(synSent(hole.port), 'the dead attempt was closed').to.equal(before);
      r.socket.destroy();
    } finally {
      await srv.close();
    }
  });

  it('server CONNECT: a broken IPv6 first (::1 refuses) falls back to IPv4 at once', async () => {
    const srv = await startServer({ lookup: fakeLookup([{ address: '::1', family: 6 }, alive()]) as never, happyEyeballsDelay: 5000, connectTimeout: 8000 });
    try {
      const accepted = live.sockets.length;
      const t0 = Date.now();
      const r = await connect({ proxy: `socks5h://127.0.0.1:${srv.port}`, destination: { host: 'dual.test', port: hole.port } });
      expect(Date.now() - t0, 'a failed attempt starts the next one without the stagger').to.be.below(2000);
      expect(live.sockets.length).to.equal(accepted + 1);
      r.socket.destroy();
    } finally {
      await srv.close();
    }
  });

  it('server CONNECT: the rules are checked on each address before dialling', async () => {
    // 127.0.0.1 (the blackhole) is denied: only the live address is dialled, so no stagger wait.
    const srv = await startServer({ lookup: fakeLookup([blackhole(), alive()]) as never, happyEyeballsDelay: 2000, connectTimeout: 5000, rules: { deny: [parseCidr('127.0.0.1/32')] } });
    try {
      const accepted = live.sockets.length;
      const t0 = Date.now();
      const r = await connect({ proxy: `socks5h://127.0.0.1:${srv.port}`, destination: { host: 'svc.test', port: hole.port } });
      expect(Date.now() - t0, 'the denied address was never tried').to.be.below(1000);
      expect(live.sockets.length).to.equal(accepted + 1);
      r.socket.destroy();
      let err: { reply?: number } | undefined;
      try {
        await connect({ proxy: `socks5h://127.0.0.1:${srv.port}`, destination: { host: '127.0.0.1', port: hole.port } });
      } catch (e) {
        err = e as { reply?: number };
      }
      expect(err?.reply, 'all denied: 02').to.equal(0x02);
    } finally {
      await srv.close();
    }
  });

  it('one deadline for the whole race: the server answers 06 at connectTimeout, the client rejects at its own', async () => {
    const srv = await startServer({ lookup: fakeLookup([blackhole(), blackhole()]) as never, happyEyeballsDelay: 100, connectTimeout: 400 });
    try {
      let t0 = Date.now();
      let err = await connect({ proxy: `socks5h://127.0.0.1:${srv.port}`, destination: { host: 'svc.test', port: hole.port } }).then(() => undefined, (e: { reply?: number; code?: string }) => e);
      expect(err?.reply, 'TTL expired').to.equal(0x06);
      expect(Date.now() - t0).to.be.within(350, 2000);
      t0 = Date.now();
      err = await connect({
        proxy: `socks5h://proxy.test:${hole.port}`,
        destination: { host: '127.0.0.1', port: 1 },
        lookup: fakeLookup([blackhole(), blackhole()]) as never,
        happyEyeballsDelay: 100,
        connectTimeout: 400,
      }).then(() => undefined, (e: { reply?: number; code?: string; cause?: { code?: string } }) => e);
      // The proxy never answered in time: unreachable, the deadline as the cause.
      expect(err?.code).to.equal('ERR_SOCKS_PROXY_UNREACHABLE');
      expect((err as { cause?: { code?: string } })?.cause?.code).to.equal('ERR_SOCKS_TIMEOUT');
      expect(Date.now() - t0).to.be.within(350, 2000);
    } finally {
      await srv.close();
    }
  });

  it('client: the first proxy\'s name resolving to a dead then a live address is reached', async () => {
    const srv = await startServer({}, '127.0.0.2');
    try {
      const r = await connect({
        proxy: `socks5h://proxy.test:${srv.port}`,
        destination: { host: '127.0.0.2', port: hole.port },
        lookup: fakeLookup([{ address: '127.0.0.3', family: 4 }, alive()]) as never,
        happyEyeballsDelay: 100,
        connectTimeout: 3000,
      });
      expect((r.transport as net.Socket).remoteAddress).to.equal('127.0.0.2');
      r.socket.destroy();
    } finally {
      await srv.close();
    }
  });
});
