/**
 * connect() against tiny servers on 127.0.0.1 that misbehave. Each case must
 * end in a typed error within its deadline, with the client socket destroyed
 * (the rogue server sees its connection close) and no handle left open.
 */
import { expect } from 'chai';
import { connect, ConnectOptions } from '../../lib/client/connect.js';
import { SocksError, ReplyError, AuthError, RemoteProtocolError, TimeoutError, ProxyUnreachableError } from '../../lib/protocol/errors.js';
import { userpass } from '../../methods/userpass.js';
import { none } from '../../methods/none.js';
import { hex, sleep, waitFor } from '../support/helpers.js';
import { rogue } from '../support/rogue.js';

const activeHandles = (): number => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;


/** Reads a SOCKS5 request (any ATYP) from the rogue's reader. */
async function readRequest(read: (n: number) => Promise<Buffer>): Promise<Buffer> {
  const h = await read(4);
  const rest = h[3] === 1 ? 6 : h[3] === 4 ? 18 : (await read(1))[0]! + 2;
  return Buffer.concat([h, await read(rest)]);
}

const DST = { host: '127.0.0.1', port: 9 };

describe('connect() against rogue servers', function () {
  this.timeout(5000);

  interface Case {
    name: string;
    script: Parameters<typeof rogue>[0];
    options?: Partial<ConnectOptions>;
    version?: 4 | 5;
    check: (err: SocksError) => void;
    /** The error must come within this many ms. */
    within: number;
  }

  const cases: Case[] = [
    {
      name: 'truncated method selection, then close',
      script: async (s, read) => { await read(3); s.end(hex('05')); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_CLOSED'); expect(e.message).to.match(/method selection/); },
      within: 1000,
    },
    {
      name: 'truncated reply (IPv4 cut short), then close',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); await readRequest(read); s.end(hex('05 00 00 01 7f 00')); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_CLOSED'); expect(e.message).to.match(/SOCKS5 reply \(6 bytes/); },
      within: 1000,
    },
    {
      name: 'connection reset in the middle of the reply (a reset is ProxyUnreachableError, the Node error its cause)',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); await readRequest(read); s.write(hex('05 00 00')); await sleep(20); s.resetAndDestroy(); },
      check: (e) => { expect(e).to.be.instanceOf(ProxyUnreachableError); expect(e.code).to.equal('ERR_SOCKS_PROXY_UNREACHABLE'); expect((e.cause as NodeJS.ErrnoException).code).to.equal('ECONNRESET'); },
      within: 1000,
    },
    {
      name: 'method selection with the wrong version',
      script: async (s, read) => { await read(3); s.write(hex('04 00')); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_BAD_VERSION'); },
      within: 1000,
    },
    {
      name: 'reply with the wrong version',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); await readRequest(read); s.write(hex('01 00 00 01 00000000 0000')); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_BAD_VERSION'); },
      within: 1000,
    },
    {
      name: 'an HTTP server instead of a proxy',
      script: async (s, read) => { await read(3); s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_BAD_VERSION'); },
      within: 1000,
    },
    {
      name: 'reply with an unknown ATYP',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); await readRequest(read); s.write(hex('05 00 00 09 00000000 0000')); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_BAD_ADDRESS_TYPE'); },
      within: 1000,
    },
    {
      name: 'oversize domain: length 255 announced, 10 bytes sent, then a stall',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); await readRequest(read); s.write(Buffer.concat([hex('05 00 00 03 ff'), Buffer.alloc(10, 0x61)])); },
      options: { handshakeTimeout: 300 },
      check: (e) => { expect(e).to.be.instanceOf(TimeoutError); expect(e.code).to.equal('ERR_SOCKS_TIMEOUT'); },
      within: 1000,
    },
    {
      name: '05 FF: no acceptable method',
      script: async (s, read) => { await read(3); s.end(hex('05 ff')); },
      check: (e) => { expect(e).to.be.instanceOf(AuthError); expect(e.message).to.match(/05 FF/); },
      within: 1000,
    },
    {
      name: 'the server selects a method we did not offer',
      script: async (s, read) => { await read(3); s.write(hex('05 02')); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_NO_METHOD'); },
      within: 1000,
    },
    {
      name: 'bad username/password status (01 01), then close',
      script: async (s, read) => { await read(4); s.write(hex('05 02')); await read(3 + 5 + 6); s.end(hex('01 01')); },
      options: { methods: [userpass({ username: 'alice', password: 's3cret' }), none()] },
      check: (e) => { expect(e).to.be.instanceOf(AuthError); expect(e.message).to.match(/status 0x01/); expect(e.message).to.not.include('s3cret'); },
      within: 1000,
    },
    {
      name: 'REP 05 connection refused',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); await readRequest(read); s.end(hex('05 05 00 01 00000000 0000')); },
      check: (e) => {
        expect(e).to.be.instanceOf(ReplyError);
        expect(e.reply).to.equal(5);
        expect((e as ReplyError).version).to.equal(5);
        expect(e.message).to.equal('proxy refused the request: connection refused (05)');
      },
      within: 1000,
    },
    {
      name: 'SOCKS4 rejection 5B',
      version: 4,
      script: async (s, read) => { await read(9); s.end(hex('00 5b 0000 00000000')); },
      check: (e) => { expect(e).to.be.instanceOf(ReplyError); expect(e.reply).to.equal(0x5b); expect((e as ReplyError).version).to.equal(4); },
      within: 1000,
    },
    {
      name: 'SOCKS4 reply with VN 04',
      version: 4,
      script: async (s, read) => { await read(9); s.write(hex('04 5a 0000 00000000')); },
      check: (e) => { expect(e).to.be.instanceOf(RemoteProtocolError); expect(e.code).to.equal('ERR_SOCKS_BAD_VERSION'); },
      within: 1000,
    },
    {
      name: 'a server that accepts and never answers',
      script: () => {},
      options: { handshakeTimeout: 300 },
      check: (e) => { expect(e).to.be.instanceOf(TimeoutError); expect(e.message).to.match(/handshake with 127\.0\.0\.1:\d+ timed out after 300 ms/); },
      within: 1000,
    },
    {
      name: 'a server that stalls after the method selection',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); },
      options: { handshakeTimeout: 300 },
      check: (e) => { expect(e).to.be.instanceOf(TimeoutError); },
      within: 1000,
    },
    {
      name: 'BIND: a server that never sends the second reply (accept deadline)',
      script: async (s, read) => { await read(3); s.write(hex('05 00')); await readRequest(read); s.write(hex('05 00 00 01 7f000001 1234')); },
      options: { command: 'bind', acceptTimeout: 300 },
      check: (e) => { expect(e).to.be.instanceOf(TimeoutError); expect(e.message).to.match(/BIND peer/); },
      within: 1000,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const r = await rogue(c.script);
      try {
        const handles = activeHandles();
        const t0 = Date.now();
        let err: unknown;
        try {
          await connect({ proxy: { host: '127.0.0.1', port: r.port, version: c.version ?? 5 }, destination: DST, ...c.options });
        } catch (e) {
          err = e;
        }
        const took = Date.now() - t0;
        expect(err, 'connect() must reject').to.be.instanceOf(SocksError);
        c.check(err as SocksError);
        expect(took).to.be.below(c.within);
        expect(r.accepted).to.equal(1);
        await waitFor(() => r.closed === 1, 1000, 'the client closed its connection');
        await waitFor(() => activeHandles() <= handles, 1000, 'no handle left open');
      } finally {
        await r.close();
      }
    });
  }

  it('an aborted signal ends a stalled handshake with its reason and closes the socket', async () => {
    const r = await rogue(() => {});
    try {
      const ac = new AbortController();
      const p = connect({ proxy: `socks5h://127.0.0.1:${r.port}`, destination: DST, signal: ac.signal });
      await waitFor(() => r.accepted === 1, 1000);
      const reason = new Error('user gave up');
      ac.abort(reason);
      let err: unknown;
      try { await p; } catch (e) { err = e; }
      expect(err).to.equal(reason);
      await waitFor(() => r.closed === 1, 1000);
    } finally {
      await r.close();
    }
  });

  it('connect deadline: a proxy name whose lookup never answers is a ProxyUnreachableError caused by a TimeoutError', async () => {
    const t0 = Date.now();
    let err: unknown;
    try {
      await connect({ proxy: { host: 'proxy.invalid', port: 1080 }, destination: DST, connectTimeout: 200, lookup: () => {} });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ProxyUnreachableError);
    expect((err as ProxyUnreachableError).cause).to.be.instanceOf(TimeoutError);
    expect(((err as ProxyUnreachableError).cause as TimeoutError).message).to.equal('connect to proxy proxy.invalid:1080 timed out after 200 ms');
    expect(Date.now() - t0).to.be.below(1000);
  });

  it('a proxy that is not listening: ProxyUnreachableError with the Node error as cause, nothing left open', async () => {
    const r = await rogue(() => {});
    const port = r.port;
    await r.close();
    const handles = activeHandles();
    let err: ProxyUnreachableError | undefined;
    try {
      await connect({ proxy: { host: '127.0.0.1', port }, destination: DST });
    } catch (e) {
      err = e as ProxyUnreachableError;
    }
    expect(err).to.be.instanceOf(ProxyUnreachableError);
    expect((err?.cause as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
    await waitFor(() => activeHandles() <= handles, 1000);
  });

  it('a failed local lookup (socks5://) is a typed error and dials nothing further', async () => {
    const r = await rogue(async (s, read) => { await read(3); s.write(hex('05 00')); });
    try {
      const lookup = (_h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => {
        const e = Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
        cb(e, '', 0);
      };
      let err: SocksError | undefined;
      try {
        await connect({ proxy: `socks5://127.0.0.1:${r.port}`, destination: { host: 'no-such-host.invalid', port: 80 }, lookup });
      } catch (e) {
        err = e as SocksError;
      }
      expect(err).to.be.instanceOf(SocksError);
      expect(err!.code).to.equal('ERR_SOCKS_BAD_ADDRESS');
      expect(err!.message).to.equal('cannot resolve no-such-host.invalid: ENOTFOUND');
      await waitFor(() => r.closed === r.accepted, 1000);
    } finally {
      await r.close();
    }
  });
});
