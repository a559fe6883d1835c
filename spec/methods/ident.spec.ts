/**
 * Ident (RFC 1413): the reply parser at every split, the lookup client
 * against stand-in identds on 127.0.0.1, and the SOCKS4 / SOCKS5 policies
 * through the server engine.
 */
import { expect } from 'chai';
import net from 'node:net';
import { ServerHandshake, ServerAction } from '../../lib/protocol/server-handshake.js';
import { makeAddress } from '../../lib/protocol/codec/address.js';
import { encodeSocks4Request } from '../../lib/protocol/codec/socks4.js';
import { SocksError } from '../../lib/protocol/errors.js';
import { runCheck } from '../../lib/protocol/method.js';
import {
  parseIdentReply, IdentReplyReader, IdentError, identLookup, encodeIdentQuery, IdentReply, IdentLookupOptions,
} from '../../methods/ident/lookup.js';
import { identSocks4, identMethod } from '../../methods/ident/index.js';
import { hex, splits, prng } from '../support/helpers.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('ident reply parser (RFC 1413)', () => {
  const good: [string, Partial<Extract<IdentReply, { type: 'USERID' }>> | Partial<Extract<IdentReply, { type: 'ERROR' }>>][] = [
    // RFC 1413 §7 example: the user id keeps its leading space.
    ['6193, 23 : USERID : UNIX : stjohns', { type: 'USERID', portOnServer: 6193, portOnClient: 23, opsys: 'UNIX', charset: 'US-ASCII', userId: ' stjohns', user: 'stjohns' }],
    // oidentd's style: no white space at all.
    ['45830,37949:USERID:UNIX:root', { type: 'USERID', portOnServer: 45830, portOnClient: 37949, userId: 'root', user: 'root' }],
    ['  1 ,\t65535 :USERID: OTHER , UTF-8 :Zoë  ', { type: 'USERID', portOnServer: 1, portOnClient: 65535, opsys: 'OTHER', charset: 'UTF-8', userId: 'Zoë  ', user: 'Zoë' }],
    ['23,6191 : USERID : UNIX : a:b : c', { userId: ' a:b : c', user: 'a:b : c' }],
    ['6195, 23 : ERROR : NO-USER', { type: 'ERROR', portOnServer: 6195, portOnClient: 23, error: 'NO-USER' }],
    ['6195, 23 : ERROR : INVALID-PORT  ', { type: 'ERROR', error: 'INVALID-PORT' }],
    ['6195, 23 : ERROR : HIDDEN-USER', { type: 'ERROR', error: 'HIDDEN-USER' }],
    ['6195, 23 : ERROR : UNKNOWN-ERROR', { type: 'ERROR', error: 'UNKNOWN-ERROR' }],
    ['6195, 23 : ERROR : X-BUSY', { type: 'ERROR', error: 'X-BUSY' }],
  ];
  for (const [line, want] of good) {
    it(`parses ${JSON.stringify(line)}`, () => {
      expect(parseIdentReply(Buffer.from(line, 'utf8'))).to.deep.include(want);
    });
  }

  it('accepts a 512-octet user id', () => {
    const id = 'u'.repeat(512);
    expect(parseIdentReply(b(`1,2:USERID:UNIX:${id}`))).to.deep.include({ user: id });
  });

  const bad: [string, string][] = [
    ['0 , 23 : USERID : UNIX : x', 'port 0'],
    ['123456 , 23 : USERID : UNIX : x', '6-digit port'],
    ['70000 , 23 : USERID : UNIX : x', 'port over 65535'],
    [', 23 : USERID : UNIX : x', 'missing port'],
    ['1 23 : USERID : UNIX : x', 'missing comma'],
    ['1 , 23 USERID : UNIX : x', 'missing colon'],
    ['1 , 23 : USERNAME : UNIX : x', 'unknown reply type'],
    ['1 , 23 : USERID : UNIX', 'no user id field'],
    ['1 , 23 : USERID : UNIX :   ', 'blank user id'],
    ['1 , 23 : USERID : UNIX : a\u0000b', 'NUL in the user id'],
    ['1 , 23 : USERID : UNIX : a\rb', 'CR in the user id'],
    ['1 , 23 : USERID : : x', 'empty opsys'],
    [`1 , 23 : USERID : ${'U'.repeat(65)} : x`, 'opsys over 64 characters'],
    ['1 , 23 : ERROR : NO-SUCH-THING', 'unknown error type'],
    ['1 , 23 : ERROR : X', 'X alone'],
    ['1 , 23 : ERROR : NO-USER extra', 'text after the error'],
    ['', 'empty line'],
    ['garbage', 'garbage'],
  ];
  for (const [line, why] of bad) {
    it(`rejects ${why}`, () => {
      expect(() => parseIdentReply(b(line))).to.throw(IdentError).with.property('reason', 'malformed');
    });
  }

  it('every split of a reply (CRLF, bare LF, trailing bytes) gives the same result', () => {
    const cases: [string, string][] = [
      ['6193, 23 : USERID : UNIX : stjohns\r\n', ' stjohns'],
      ['6193,23:USERID:UNIX:root\n', 'root'],
      ['6193,23:USERID:UNIX:root\r\nextra junk', 'root'],
    ];
    for (const [text, userId] of cases) {
      for (const { name, chunks } of splits(b(text))) {
        const r = new IdentReplyReader();
        let got: IdentReply | undefined;
        for (const c of chunks) got = r.push(c) ?? got;
        expect(got, `${JSON.stringify(text)} ${name}`).to.deep.include({ type: 'USERID', userId });
      }
    }
    for (const { name, chunks } of splits(b('6195 , 23 : ERROR : NO-USER\r\n'))) {
      const r = new IdentReplyReader();
      let got: IdentReply | undefined;
      for (const c of chunks) got = r.push(c) ?? got;
      expect(got, name).to.deep.include({ type: 'ERROR', error: 'NO-USER' });
    }
  });

  it('a premature close means ERROR : UNKNOWN-ERROR, at every split', () => {
    const text = b('6193, 23 : USERID : UNIX : stjohns');
    for (let i = 0; i <= text.length; i++) {
      const r = new IdentReplyReader();
      expect(r.push(text.subarray(0, i))).to.equal(undefined);
      expect(r.end()).to.deep.include({ type: 'ERROR', error: 'UNKNOWN-ERROR', implied: true });
    }
  });

  it('gives up after 1000 bytes without an EOL, however it is split', () => {
    const long = Buffer.alloc(1001, 0x41);
    for (const size of [1, 7, 999, 1000, 1001]) {
      const r = new IdentReplyReader();
      expect(() => {
        for (let off = 0; off < long.length; off += size) r.push(long.subarray(off, off + size));
      }, `chunks of ${size}`).to.throw(IdentError).with.property('reason', 'overlong');
    }
    // 1000 bytes and then the EOL is fine.
    const line = b(`1,2:USERID:UNIX:${'x'.repeat(1000 - 16)}\r\n`);
    expect(new IdentReplyReader().push(line)).to.deep.include({ type: 'USERID' });
  });

  it('the query is "<client port> , <server port>\\r\\n"', () => {
    expect(encodeIdentQuery(6191, 1080)).to.deep.equal(b('6191 , 1080\r\n'));
  });
});

/** A stand-in identd: `behave` gets the socket and the query line. */
async function fakeIdentd(behave: (s: net.Socket, query: string) => void): Promise<{ port: number; queries: { line: string; remote: string }[]; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const queries: { line: string; remote: string }[] = [];
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\n');
      if (i >= 0) {
        const line = buf.slice(0, i + 1);
        buf = buf.slice(i + 1);
        queries.push({ line, remote: s.remoteAddress! });
        behave(s, line);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    queries,
    close: () => new Promise<void>((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }),
  };
}

/** Closed port: listen, note the port, close. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const Q = (identPort: number, timeout = 2000): IdentLookupOptions => ({
  client: { host: '127.0.0.1', port: 40001 },
  server: { host: '127.0.0.1', port: 1080 },
  identPort,
  timeout,
});

describe('ident lookup client', () => {
  const started: { close(): Promise<void> }[] = [];
  afterEach(async () => { await Promise.all(started.splice(0).map((s) => s.close())); });
  const identd = async (behave: (s: net.Socket, q: string) => void) => {
    const d = await fakeIdentd(behave);
    started.push(d);
    return d;
  };

  it('sends the query from the server address and parses USERID', async () => {
    const d = await identd((s, q) => s.end(`${q.trim().replace(' , ', ',')}:USERID:UNIX:alice\r\n`));
    const r = await identLookup(Q(d.port));
    expect(d.queries[0]).to.deep.equal({ line: '40001 , 1080\r\n', remote: '127.0.0.1' });
    expect(r).to.deep.include({ type: 'USERID', user: 'alice', portOnServer: 40001, portOnClient: 1080 });
  });

  it('an ERROR reply resolves as such', async () => {
    const d = await identd((s) => s.end('40001 , 1080 : ERROR : HIDDEN-USER\r\n'));
    expect(await identLookup(Q(d.port))).to.deep.include({ type: 'ERROR', error: 'HIDDEN-USER' });
  });

  it('a reply for another port pair is rejected', async () => {
    const d = await identd((s) => s.end('40002 , 1080 : USERID : UNIX : mallory\r\n'));
    const err = await identLookup(Q(d.port)).catch((e) => e);
    expect(err).to.be.instanceOf(IdentError).with.property('reason', 'malformed');
  });

  it('a premature close is UNKNOWN-ERROR', async () => {
    const d = await identd((s) => s.end('40001 , 1080 : USERID : UN'));
    expect(await identLookup(Q(d.port))).to.deep.include({ type: 'ERROR', error: 'UNKNOWN-ERROR' });
    const d2 = await identd((s) => s.destroy());
    expect(await identLookup(Q(d2.port))).to.deep.include({ type: 'ERROR', error: 'UNKNOWN-ERROR' });
  });

  it('a refused connection is unreachable (5C)', async () => {
    const err = await identLookup(Q(await closedPort())).catch((e) => e);
    expect(err).to.be.instanceOf(IdentError).with.property('reason', 'unreachable');
    expect(err.reply).to.equal(0x5c);
  });

  it('a silent identd times out within the bound', async () => {
    const d = await identd(() => {});
    const t0 = Date.now();
    const err = await identLookup(Q(d.port, 300)).catch((e) => e);
    expect(err).to.be.instanceOf(IdentError).with.property('reason', 'timeout');
    expect(err.code).to.equal('ERR_SOCKS_TIMEOUT');
    expect(Date.now() - t0).to.be.within(250, 1500);
  });

  it('a trickling identd is still bounded by the timeout', async () => {
    const d = await identd((s) => {
      const t = setInterval(() => s.write('4'), 20);
      s.on('close', () => clearInterval(t));
    });
    const err = await identLookup(Q(d.port, 300)).catch((e) => e);
    expect(err).to.be.instanceOf(IdentError).with.property('reason', 'timeout');
  });

  it('an abort during the lookup closes the identd connection and rejects with reason aborted', async () => {
    let closed = false;
    const d = await identd((s) => s.on('close', () => (closed = true)));
    const ac = new AbortController();
    const p = identLookup({ ...Q(d.port, 10000), signal: ac.signal }).catch((e) => e);
    for (let i = 0; i < 100 && d.queries.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(d.queries.length, 'the query arrived').to.equal(1);
    const t0 = Date.now();
    ac.abort();
    const err = await p;
    expect(err).to.be.instanceOf(IdentError).with.property('reason', 'aborted');
    expect(err.code).to.equal('ERR_SOCKS_CLOSED');
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closed, 'identd saw the close').to.equal(true);
    expect(Date.now() - t0).to.be.below(1000);
    // Already aborted: no connection at all.
    const before = d.queries.length;
    const err2 = await identLookup({ ...Q(d.port), signal: ac.signal }).catch((e) => e);
    expect(err2).to.be.instanceOf(IdentError).with.property('reason', 'aborted');
    await new Promise((r) => setTimeout(r, 50));
    expect(d.queries.length).to.equal(before);
  });

  it('an oversized reply is cut off after 1000 bytes', async () => {
    const d = await identd((s) => s.write(Buffer.alloc(5000, 0x41)));
    const err = await identLookup(Q(d.port)).catch((e) => e);
    expect(err).to.be.instanceOf(IdentError).with.property('reason', 'overlong');
  });

  it('garbage is malformed', async () => {
    const d = await identd((s) => s.end('HTTP/1.0 400 Bad Request\r\n'));
    const err = await identLookup(Q(d.port)).catch((e) => e);
    expect(err).to.be.instanceOf(IdentError).with.property('reason', 'malformed');
  });
});

// ---------------------------------------------------------------- policies through the engine

type Lookup = (q: IdentLookupOptions) => Promise<IdentReply>;
const userid = (user: string): Lookup => async (q) => ({
  type: 'USERID', portOnServer: q.client.port, portOnClient: q.server.port, opsys: 'UNIX', charset: 'US-ASCII', userId: user, raw: b(user), user,
});
const failing = (err: unknown): Lookup => async () => { throw err; };
const errorReply = (error: string): Lookup => async () => ({ type: 'ERROR', error });

const CTX = { source: makeAddress('127.0.0.1', 40001), local: makeAddress('127.0.0.1', 1080) };

/** Runs a server engine over `input`, awaiting verify checks. */
async function run(hs: ServerHandshake, input: Buffer) {
  const written: Buffer[] = [];
  let request: Extract<ServerAction, { type: 'request' }>['request'] | undefined;
  let error: SocksError | undefined;
  let closed = false;
  const apply = async (as: ServerAction[]): Promise<void> => {
    for (const a of as) {
      if (a.type === 'write') written.push(a.data);
      if (a.type === 'close') { closed = true; error = a.error; }
      if (a.type === 'request') request = a.request;
      if (a.type === 'verify') {
        await apply(hs.verified(await runCheck(a.check)));
      }
    }
  };
  await apply(hs.receive(input));
  return { written: Buffer.concat(written), request, error, closed };
}

const S4 = (user: string) => encodeSocks4Request(1, makeAddress('10.0.0.1', 80), user);

describe('ident policy for SOCKS4', () => {
  it('off: no lookup, no identity; the USERID kept as an unverified claim', async () => {
    const hs = new ServerHandshake({ methods: [], socks4Identify: identSocks4({ mode: 'off', lookup: failing(new Error('no')) }), context: CTX });
    const r = await run(hs, S4('bob'));
    expect(r.request).to.deep.include({ version: 4, identity: null, userId: 'bob' });
  });

  it('verify: identd agrees → request with the verified identity', async () => {
    const seen: IdentLookupOptions[] = [];
    const lookup: Lookup = (q) => { seen.push(q); return userid('root')(q); };
    const hs = new ServerHandshake({ methods: [], socks4Identify: identSocks4({ mode: 'verify', port: 11300, timeout: 1234, lookup }), context: CTX });
    const r = await run(hs, S4('root'));
    expect(r.request).to.deep.include({ identity: 'root', userId: 'root' });
    expect(seen[0]).to.deep.include({ client: { host: '127.0.0.1', port: 40001 }, server: { host: '127.0.0.1', port: 1080 }, identPort: 11300, timeout: 1234 });
  });

  it('verify: a different user → 00 5D and close', async () => {
    const hs = new ServerHandshake({ methods: [], socks4Identify: identSocks4({ mode: 'verify', lookup: userid('root') }), context: CTX });
    const r = await run(hs, S4('mallory'));
    expect(r.written).to.deep.equal(hex('00 5d 00 00 00 00 00 00'));
    expect(r.error).to.be.instanceOf(IdentError).with.property('reason', 'mismatch');
    expect(r.request).to.equal(undefined);
  });

  const fiveC: [string, Lookup][] = [
    ['identd unreachable', failing(new IdentError('unreachable', 'refused'))],
    ['identd timing out', failing(new IdentError('timeout', 'slow'))],
    ['identd answering NO-USER', errorReply('NO-USER')],
    ['identd closing early', errorReply('UNKNOWN-ERROR')],
    ['identd sending garbage', failing(new IdentError('malformed', 'junk'))],
  ];
  for (const [name, lookup] of fiveC) {
    it(`verify: ${name} → 00 5C and close`, async () => {
      const hs = new ServerHandshake({ methods: [], socks4Identify: identSocks4({ mode: 'verify', lookup }), context: CTX });
      const r = await run(hs, S4('root'));
      expect(r.written).to.deep.equal(hex('00 5c 00 00 00 00 00 00'));
      expect(r.closed).to.equal(true);
      expect(r.error?.reply).to.equal(0x5c);
    });
  }

  it('verify: unknown connection addresses → 5C', async () => {
    const hs = new ServerHandshake({ methods: [], socks4Identify: identSocks4({ mode: 'verify', lookup: userid('root') }) });
    const r = await run(hs, S4('root'));
    expect(r.written).to.deep.equal(hex('00 5c 00 00 00 00 00 00'));
  });

  it('verify: pipelined data after the request is kept while identd is asked', async () => {
    const hs = new ServerHandshake({ methods: [], socks4Identify: identSocks4({ mode: 'verify', lookup: userid('root') }), context: CTX });
    const r = await run(hs, Buffer.concat([S4('root'), b('early')]));
    expect(r.request).to.deep.include({ identity: 'root' });
    const acts = hs.accept();
    expect(acts.find((a) => a.type === 'established')).to.deep.include({ head: b('early') });
  });
});

describe('ident as a SOCKS5 no-auth identity source (rfc931)', () => {
  const req = hex('05 01 00 01 0a 00 00 01 00 50');

  it('is method 00 on the wire; the identity is the ident user', async () => {
    const m = identMethod({ lookup: userid('carol') });
    expect(m.code).to.equal(0x00);
    const hs = new ServerHandshake({ methods: [m], context: CTX });
    const r = await run(hs, Buffer.concat([hex('05 01 00'), req]));
    expect(r.written).to.deep.equal(hex('05 00'));
    expect(r.request).to.deep.include({ identity: 'carol' });
  });

  it('required: an ident failure closes after 05 00, nothing else written', async () => {
    const hs = new ServerHandshake({ methods: [identMethod({ policy: 'required', lookup: errorReply('NO-USER') })], context: CTX });
    const r = await run(hs, Buffer.concat([hex('05 01 00'), req]));
    expect(r.written).to.deep.equal(hex('05 00'));
    expect(r.closed).to.equal(true);
    expect(r.error?.code).to.equal('ERR_SOCKS_AUTH_FAILED');
  });

  it('optional: an ident failure gives identity null', async () => {
    const hs = new ServerHandshake({ methods: [identMethod({ policy: 'optional', lookup: failing(new IdentError('timeout', 'slow')) })], context: CTX });
    const r = await run(hs, Buffer.concat([hex('05 01 00'), req]));
    expect(r.request).to.deep.include({ identity: null });
  });
});

describe('ident parser, seeded random input', () => {
  it('random lines give a reply or an IdentError, never anything else', () => {
    const rnd = prng(1413);
    const alphabet = b('0123456789 ,:\tUSERIDERRORUNIXOTHERX-NO-USER\u0000\r');
    for (let i = 0; i < 2000; i++) {
      const line = Buffer.from(Array.from({ length: Math.floor(rnd() * 60) }, () => alphabet[Math.floor(rnd() * alphabet.length)]!));
      try {
        const r = parseIdentReply(line);
        expect(['USERID', 'ERROR']).to.include(r.type);
      } catch (err) {
        expect(err).to.be.instanceOf(IdentError);
      }
    }
  });
});
