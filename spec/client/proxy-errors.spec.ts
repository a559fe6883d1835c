/**
 * Errors a library user meets first: a proxy that refuses, times out or
 * resets is a ProxyUnreachableError (ERR_SOCKS_PROXY_UNREACHABLE) naming the
 * proxy without credentials and its hop, with the Node error as `cause`; bad
 * proxy URLs, schemes and options throw at construction (SocksAgent,
 * socksDispatcher) or reject connect() before any socket is opened.
 */
import net from 'node:net';
import { expect } from 'chai';
import { connect } from '../../lib/client/connect.js';
import { SocksAgent } from '../../lib/client/agent.js';
import { socksDispatcher } from '../../lib/undici.js';
import { LocalProtocolError, ProxyUnreachableError, ReplyError, TimeoutError, isSocksError } from '../../lib/protocol/errors.js';
import { closedPort } from '../support/server.js';
import { rogue } from '../support/rogue.js';
import { startServer, cleanup, rogues, handles, LOCAL } from '../support/harness.js';
import { waitFor } from '../support/helpers.js';

const DST = { host: 'example.test', port: 80 };

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** A TCP server that counts connections: the "no socket was opened" witness. */
async function counter(): Promise<{ port: number; count: () => number; close: () => void }> {
  let n = 0;
  const server = net.createServer((s) => { n++; s.destroy(); });
  await new Promise<void>((r) => server.listen(0, LOCAL, r));
  return { port: (server.address() as net.AddressInfo).port, count: () => n, close: () => server.close() };
}

describe('client errors: unreachable proxies', () => {
  afterEach(cleanup);

  it('refused: ProxyUnreachableError, hop 0, the URL without credentials, cause ECONNREFUSED', async () => {
    const port = await closedPort();
    const before = handles();
    const err = await failure(connect({ proxy: `socks5h://alice:s3cret@127.0.0.1:${port}`, destination: DST }));
    expect(err).to.be.instanceOf(ProxyUnreachableError);
    const e = err as ProxyUnreachableError;
    expect(e.code).to.equal('ERR_SOCKS_PROXY_UNREACHABLE');
    expect(e.proxy).to.equal(`socks5h://127.0.0.1:${port}`);
    expect(e.hop).to.equal(0);
    expect((e.cause as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
    expect(e.message).to.equal(`cannot reach proxy socks5h://127.0.0.1:${port}: ECONNREFUSED`);
    expect(JSON.stringify(e) + e.message + e.stack).not.to.match(/alice|s3cret/);
    await waitFor(() => handles() <= before, 1000);
  });

  it('timed out (a lookup that never answers): ProxyUnreachableError whose cause is the TimeoutError', async () => {
    const err = await failure(connect({ proxy: { host: 'proxy.invalid', port: 1080 }, destination: DST, connectTimeout: 200, lookup: () => {} }));
    expect(err).to.be.instanceOf(ProxyUnreachableError);
    const e = err as ProxyUnreachableError;
    expect(e.proxy).to.equal('socks5h://proxy.invalid:1080');
    expect(e.cause).to.be.instanceOf(TimeoutError);
    expect((e.cause as TimeoutError).message).to.equal('connect to proxy proxy.invalid:1080 timed out after 200 ms');
  });

  it('reset during the handshake: ProxyUnreachableError, cause ECONNRESET', async () => {
    const r = await rogue(async (s, read) => { await read(3); s.resetAndDestroy(); });
    rogues.push(r);
    const err = await failure(connect({ proxy: `socks5h://127.0.0.1:${r.port}`, destination: DST }));
    expect(err).to.be.instanceOf(ProxyUnreachableError);
    expect((err as ProxyUnreachableError).hop).to.equal(0);
    expect(((err as ProxyUnreachableError).cause as NodeJS.ErrnoException).code).to.equal('ECONNRESET');
  });

  it('a chain whose second proxy is down: hop 1 named, the first hop\'s ReplyError as cause', async () => {
    const { port } = await startServer();
    const down = await closedPort();
    const err = await failure(connect({ proxy: [`socks5h://127.0.0.1:${port}`, `socks4a://bob@127.0.0.1:${down}`], destination: DST }));
    expect(err).to.be.instanceOf(ProxyUnreachableError);
    const e = err as ProxyUnreachableError;
    expect(e.hop).to.equal(1);
    expect(e.proxy).to.equal(`socks4a://127.0.0.1:${down}`);
    expect(e.cause).to.be.instanceOf(ReplyError);
    expect((e.cause as ReplyError).reply).to.equal(5);
    expect(e.message).to.equal(`cannot reach proxy socks4a://127.0.0.1:${down} (hop 1 of a chain of 2, from 0): the previous hop answered connection refused (05)`);
  });

  it('isSocksError() narrows, and switch (err.code) narrows to the class', async () => {
    const port = await closedPort();
    const err: unknown = await failure(connect({ proxy: `socks5h://127.0.0.1:${port}`, destination: DST }));
    let seen = '';
    if (isSocksError(err)) {
      switch (err.code) {
        case 'ERR_SOCKS_PROXY_UNREACHABLE': seen = `${err.proxy} ${err.hop}`; break;
        case 'ERR_SOCKS_REPLY': seen = `reply ${err.reply.toString(16)}`; break;
        default: seen = err.code;
      }
    }
    expect(seen).to.equal(`socks5h://127.0.0.1:${port} 0`);
  });
});

describe('client errors: bad input fails at construction, before any socket', () => {
  let witness: Awaited<ReturnType<typeof counter>>;
  before(async () => { witness = await counter(); });
  after(() => witness.close());

  const bad = (): [string, Record<string, unknown>, RegExp][] => [
    ['an ftp:// URL', { proxy: 'ftp://127.0.0.1:21' }, /unsupported proxy scheme ftp:\/\//],
    ['not a URL', { proxy: 'not a url' }, /not a proxy URL/],
    ['port out of range', { proxy: 'socks5://127.0.0.1:99999' }, /not a proxy URL|invalid proxy port/],
    ['an empty chain', { proxy: [] }, /no proxy given/],
    ['a bad hop in a chain', { proxy: [`socks5://127.0.0.1:${witness.port}`, 'http://127.0.0.1:3128'] }, /unsupported proxy scheme http:\/\//],
    ['a negative timeout', { proxy: `socks5://127.0.0.1:${witness.port}`, connectTimeout: -1 }, /connectTimeout must be a number of ms >= 0/],
    ['a string timeout', { proxy: `socks5://127.0.0.1:${witness.port}`, handshakeTimeout: '10s' }, /handshakeTimeout must be/],
    ['methods not a list', { proxy: `socks5://127.0.0.1:${witness.port}`, methods: 'userpass' }, /methods must be a list/],
  ];

  it('new SocksAgent() throws LocalProtocolError', () => {
    for (const [what, o, re] of bad()) expect(() => new SocksAgent(o as never), what).to.throw(LocalProtocolError, re);
    expect(() => new SocksAgent({ proxy: `socks5://127.0.0.1:${witness.port}`, protocol: 'ftp:' as never })).to.throw(LocalProtocolError, /protocol must be/);
    expect(witness.count()).to.equal(0);
  });

  it('socksDispatcher() throws LocalProtocolError', () => {
    for (const [what, o, re] of bad()) {
      const { proxy, ...rest } = o;
      expect(() => socksDispatcher(proxy as never, rest as never), what).to.throw(LocalProtocolError, re);
    }
    expect(witness.count()).to.equal(0);
  });

  it('connect() rejects with LocalProtocolError and opens no socket', async () => {
    for (const [what, o, re] of bad()) {
      const err = await failure(connect({ ...(o as { proxy: string }), destination: DST }));
      expect(err, what).to.be.instanceOf(LocalProtocolError);
      expect((err as Error).message, what).to.match(re);
    }
    for (const destination of [{ host: '', port: 80 }, { host: 'h', port: 70000 }, { host: 'h', port: 1.5 }]) {
      const err = await failure(connect({ proxy: `socks5://127.0.0.1:${witness.port}`, destination }));
      expect(err, JSON.stringify(destination)).to.be.instanceOf(LocalProtocolError);
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(witness.count()).to.equal(0);
  });
});
