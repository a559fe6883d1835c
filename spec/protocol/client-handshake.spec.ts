/**
 * The sans-I/O client engine against fixtures from RFC 1928 / RFC 1929 and
 * the SOCKS4/4a texts, fed at every split point, coalesced, and with
 * trailing bytes that must come back as `head`.
 */
import { expect } from 'chai';
import { ClientHandshake, ClientAction, ClientHandshakeOptions } from '../../lib/protocol/client-handshake.js';
import { makeAddress, SocksAddress } from '../../lib/protocol/codec/address.js';
import { SocksError, ReplyError, AuthError, RemoteProtocolError, LocalProtocolError } from '../../lib/protocol/errors.js';
import { none } from '../../methods/none.js';
import { userpass } from '../../methods/userpass.js';
import type { AuthMethod, AuthStep, Encapsulation } from '../../lib/protocol/method.js';
import type { ByteQueue } from '../../lib/protocol/codec/byte-queue.js';
import { hex, toHex, splits, prng } from '../support/helpers.js';

interface Outcome {
  written: Buffer;
  replies: SocksAddress[];
  established?: { bound: SocksAddress; head: Buffer };
  error?: SocksError;
  actions: string[];
}

/** Drives an engine: start, then each chunk; verify checks run synchronously. */
function drive(opts: ClientHandshakeOptions, chunks: Buffer[], end = false): Outcome {
  const hs = new ClientHandshake(opts);
  const o: Outcome = { written: Buffer.alloc(0), replies: [], actions: [] };
  let enc: Encapsulation | undefined;
  const apply = (actions: ClientAction[]): void => {
    for (const a of actions) {
      o.actions.push(a.type);
      switch (a.type) {
        case 'write': o.written = Buffer.concat([o.written, a.data]); break;
        case 'verify': {
          let r;
          try { r = { ok: true as const, value: a.check() }; } catch (error) { r = { ok: false as const, error }; }
          apply(hs.verified(r));
          break;
        }
        case 'reply': o.replies.push(a.bound); break;
        case 'established': o.established = { bound: a.bound, head: a.head }; enc = a.encapsulation; break;
        case 'error': o.error = a.error; break;
      }
    }
  };
  apply(hs.start());
  for (const c of chunks) {
    // Once established, the adapter stops feeding the engine: bytes go to the tunnel.
    if (o.established) o.established.head = Buffer.concat([o.established.head, enc ? enc.unwrap(c) : c]);
    else apply(hs.receive(c));
  }
  if (end) apply(hs.end());
  return o;
}

const TRAILER = hex('de ad be ef 0a');

interface Fixture {
  name: string;
  opts: ClientHandshakeOptions;
  /** What the client must write, in order. */
  client: Buffer;
  /** Everything the server sends (without the trailer). */
  server: Buffer;
  bound: SocksAddress;
  firstReply?: SocksAddress;
}

const alice = () => userpass({ username: 'alice', password: 's3cret' });

const FIXTURES: Fixture[] = [
  {
    // RFC 1928 §3, §4, §6: no auth, CONNECT 127.0.0.1:80, IPv4 reply.
    name: 'SOCKS5 none CONNECT, IPv4 reply',
    opts: { destination: makeAddress('127.0.0.1', 80), methods: [none()] },
    client: hex('05 01 00  05 01 00 01 7f 00 00 01 00 50'),
    server: hex('05 00  05 00 00 01 0a 00 00 01 1f 90'),
    bound: { type: 'ipv4', host: '10.0.0.1', port: 8080 },
  },
  {
    // RFC 1929 §2 sub-negotiation (VER 01), then an IPv6 reply (22 bytes).
    name: 'SOCKS5 userpass CONNECT, IPv6 reply',
    opts: { destination: makeAddress('::1', 443), methods: [alice()] },
    client: Buffer.concat([
      hex('05 01 02'),
      hex('01 05'), Buffer.from('alice'), hex('06'), Buffer.from('s3cret'),
      hex('05 01 00 04 00000000000000000000000000000001 01 bb'),
    ]),
    server: hex('05 02  01 00  05 00 00 04 20010db8000000000000000000000001 04 38'),
    bound: { type: 'ipv6', host: '2001:db8::1', port: 1080 },
  },
  {
    // Both methods offered, server picks none; domain request and domain reply (7+N bytes).
    name: 'SOCKS5 none+userpass offered, domain request and reply',
    opts: { destination: makeAddress('example.org', 443), methods: [alice(), none()] },
    client: Buffer.concat([hex('05 02 02 00'), hex('05 01 00 03 0b'), Buffer.from('example.org'), hex('01 bb')]),
    server: Buffer.concat([hex('05 00  05 00 00 03 09'), Buffer.from('proxy.lan'), hex('30 39')]),
    bound: { type: 'domain', host: 'proxy.lan', port: 12345 },
  },
  {
    // DOMAINNAME length is a byte length: "bücher.example" is 14 chars, 15 bytes.
    name: 'SOCKS5 non-ASCII domain name',
    opts: { destination: makeAddress('bücher.example', 80) },
    client: Buffer.concat([hex('05 01 00'), hex('05 01 00 03 0f'), Buffer.from('bücher.example', 'utf8'), hex('00 50')]),
    server: hex('05 00  05 00 00 01 00 00 00 00 00 00'),
    bound: { type: 'ipv4', host: '0.0.0.0', port: 0 },
  },
  {
    // RFC 1928 §4 BIND: two replies, the second carries the peer.
    name: 'SOCKS5 BIND, two replies',
    opts: { command: 'bind', destination: makeAddress('192.0.2.7', 0), methods: [none()] },
    client: hex('05 01 00  05 02 00 01 c0 00 02 07 00 00'),
    server: hex('05 00  05 00 00 01 7f 00 00 01 c3 50  05 00 00 01 c0 00 02 07 d4 31'),
    firstReply: { type: 'ipv4', host: '127.0.0.1', port: 50000 },
    bound: { type: 'ipv4', host: '192.0.2.7', port: 54321 },
  },
  {
    // RFC 1928 §7 UDP ASSOCIATE: DST is the client's sending address (zeros when unknown).
    name: 'SOCKS5 UDP ASSOCIATE',
    opts: { command: 'udp', destination: makeAddress('0.0.0.0', 0) },
    client: hex('05 01 00  05 03 00 01 00 00 00 00 00 00'),
    server: hex('05 00  05 00 00 01 7f 00 00 01 9c 40'),
    bound: { type: 'ipv4', host: '127.0.0.1', port: 40000 },
  },
  {
    // SOCKS4: VN CD PORT IP USERID NUL; reply VN=00 CD=5A.
    name: 'SOCKS4 CONNECT',
    opts: { version: 4, destination: makeAddress('127.0.0.1', 80), userId: 'bob' },
    client: Buffer.concat([hex('04 01 00 50 7f 00 00 01'), Buffer.from('bob'), hex('00')]),
    server: hex('00 5a 00 00 00 00 00 00'),
    bound: { type: 'ipv4', host: '0.0.0.0', port: 0 },
  },
  {
    // SOCKS4a: IP 0.0.0.1, then after USERID's NUL the hostname and a NUL.
    name: 'SOCKS4a CONNECT by name',
    opts: { version: '4a', destination: makeAddress('example.org', 8333) },
    client: Buffer.concat([hex('04 01 20 8d 00 00 00 01 00'), Buffer.from('example.org'), hex('00')]),
    server: hex('00 5a 20 8d 7f 00 00 01'),
    bound: { type: 'ipv4', host: '127.0.0.1', port: 8333 },
  },
  {
    // SOCKS4 BIND: two 8-byte replies.
    name: 'SOCKS4 BIND, two replies',
    opts: { version: 4, command: 'bind', destination: makeAddress('192.0.2.7', 21) },
    client: Buffer.concat([hex('04 02 00 15 c0 00 02 07'), hex('00')]),
    server: hex('00 5a c3 50 00 00 00 00  00 5a d4 31 c0 00 02 07'),
    firstReply: { type: 'ipv4', host: '0.0.0.0', port: 50000 },
    bound: { type: 'ipv4', host: '192.0.2.7', port: 54321 },
  },
];

describe('ClientHandshake', () => {
  for (const f of FIXTURES) {
    describe(f.name, () => {
      for (const trailing of [false, true]) {
        const input = trailing ? Buffer.concat([f.server, TRAILER]) : f.server;
        it(`every split${trailing ? ', with trailing bytes as head' : ''}`, () => {
          for (const s of splits(input)) {
            const o = drive(f.opts, s.chunks);
            const where = `${s.name}`;
            expect(o.error, where).to.equal(undefined);
            expect(toHex(o.written), where).to.equal(toHex(f.client));
            expect(o.replies, where).to.deep.equal(f.firstReply ? [f.firstReply] : []);
            expect(o.established, where).to.not.equal(undefined);
            expect(o.established!.bound, where).to.deep.equal(f.bound);
            expect(toHex(o.established!.head), where).to.equal(trailing ? toHex(TRAILER) : '');
            expect(o.actions.filter((a) => a === 'established'), where).to.have.length(1);
          }
        });
      }
      it('truncated at every point ends in ERR_SOCKS_CLOSED on end()', () => {
        for (let i = 0; i < f.server.length; i++) {
          const o = drive(f.opts, [f.server.subarray(0, i)], true);
          expect(o.established, `cut@${i}`).to.equal(undefined);
          expect(o.error, `cut@${i}`).to.be.instanceOf(RemoteProtocolError);
          expect(o.error!.code).to.equal('ERR_SOCKS_CLOSED');
        }
      });
    });
  }

  describe('failures', () => {
    const dst = makeAddress('127.0.0.1', 80);
    const cases: { name: string; opts: ClientHandshakeOptions; server: Buffer; cls: Function; code: string; reply?: number; version?: 4 | 5 }[] = [
      { name: '05 FF: no acceptable method', opts: { destination: dst, methods: [none()] }, server: hex('05 ff'), cls: AuthError, code: 'ERR_SOCKS_AUTH_FAILED' },
      { name: 'method selection with VER 04', opts: { destination: dst }, server: hex('04 00'), cls: RemoteProtocolError, code: 'ERR_SOCKS_BAD_VERSION' },
      { name: 'a method that was not offered', opts: { destination: dst, methods: [none()] }, server: hex('05 02'), cls: RemoteProtocolError, code: 'ERR_SOCKS_NO_METHOD' },
      { name: 'userpass status 01', opts: { destination: dst, methods: [alice()] }, server: hex('05 02 01 01'), cls: AuthError, code: 'ERR_SOCKS_AUTH_FAILED' },
      { name: 'REP 05 connection refused', opts: { destination: dst }, server: hex('05 00 05 05 00 01 00000000 0000'), cls: ReplyError, code: 'ERR_SOCKS_REPLY', reply: 5, version: 5 },
      { name: 'REP 02 on the second BIND reply', opts: { command: 'bind', destination: dst }, server: hex('05 00 05 00 00 01 7f000001 1000 05 02 00 01 00000000 0000'), cls: ReplyError, code: 'ERR_SOCKS_REPLY', reply: 2, version: 5 },
      { name: 'reply with unknown ATYP', opts: { destination: dst }, server: hex('05 00 05 00 00 07 00000000 0000'), cls: RemoteProtocolError, code: 'ERR_SOCKS_BAD_ADDRESS_TYPE' },
      { name: 'reply with VER 04', opts: { destination: dst }, server: hex('05 00 04 00 00 01 00000000 0000'), cls: RemoteProtocolError, code: 'ERR_SOCKS_BAD_VERSION' },
      { name: 'SOCKS4 rejected 5B', opts: { version: 4, destination: dst }, server: hex('00 5b 0000 00000000'), cls: ReplyError, code: 'ERR_SOCKS_REPLY', reply: 0x5b, version: 4 },
      { name: 'SOCKS4 reply with VN 04', opts: { version: 4, destination: dst }, server: hex('04 5a 0000 00000000'), cls: RemoteProtocolError, code: 'ERR_SOCKS_BAD_VERSION' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        for (const s of splits(c.server)) {
          const o = drive(c.opts, s.chunks);
          expect(o.error, s.name).to.be.instanceOf(c.cls);
          expect(o.error!.code).to.equal(c.code);
          if (c.reply !== undefined) expect(o.error!.reply).to.equal(c.reply);
          if (c.version !== undefined) expect((o.error as ReplyError).version).to.equal(c.version);
          expect(o.established).to.equal(undefined);
          expect(o.actions.filter((a) => a === 'error')).to.have.length(1);
        }
      });
    }

    it('ReplyError names the reply in its message', () => {
      const o = drive({ destination: dst }, [hex('05 00 05 05 00 01 00000000 0000')]);
      expect(o.error!.message).to.equal('proxy refused the request: connection refused (05)');
    });

    it('usage errors: SOCKS4 with a name, IPv6, or UDP; userpass without a password', () => {
      for (const opts of [
        { version: 4 as const, destination: makeAddress('example.org', 1) },
        { version: 4 as const, destination: makeAddress('::1', 1) },
        { version: 4 as const, command: 'udp' as const, destination: dst },
        { destination: dst, methods: [userpass({ username: 'x' })] },
      ]) {
        const o = drive(opts, [hex('05 02')]);
        expect(o.error).to.be.instanceOf(LocalProtocolError);
      }
    });

    it('receive after an error does nothing', () => {
      const hs = new ClientHandshake({ destination: dst });
      hs.start();
      expect(hs.receive(hex('05 ff')).map((a) => a.type)).to.deep.equal(['error']);
      expect(hs.receive(hex('05 00'))).to.deep.equal([]);
      expect(hs.end()).to.deep.equal([]);
    });
  });

  describe('a multi-round method with verify and encapsulation', () => {
    // A toy private method 0x80: the client says HI, the server answers a
    // 1-byte key K then OK; the client "verifies" K asynchronously; then
    // everything is XORed with K.
    const xor = (k: number): Encapsulation => ({
      wrap: (b) => Buffer.from(b.map((x) => x ^ k)),
      unwrap: (b) => Buffer.from(b.map((x) => x ^ k)),
    });
    const toy = (): AuthMethod => ({
      code: 0x80,
      name: 'toy',
      client: () => {
        let key = 0;
        let round = 0;
        return {
          maxMessage: 2,
          start: (): AuthStep => ({ kind: 'more', write: Buffer.from('HI') }),
          receive(q: ByteQueue): AuthStep {
            if (round === 0) {
              if (q.length < 1) return { kind: 'more' };
              key = q.take(1)[0]!;
              round = 1;
            }
            if (q.length < 2) return { kind: 'more' };
            const ok = q.take(2).toString();
            if (ok !== 'OK') return { kind: 'fail', error: new AuthError('toy said no', 0x80) };
            return { kind: 'verify', check: () => key === 0x5a };
          },
          verified: (r) => (r.ok && r.value === true
            ? { kind: 'done', identity: 'toy', encapsulation: xor(key) }
            : { kind: 'fail', error: new AuthError('bad key', 0x80) }),
        };
      },
    });
    const x = (b: Buffer) => Buffer.from(b.map((v) => v ^ 0x5a));
    const request = hex('05 01 00 01 7f 00 00 01 00 50');
    const reply = hex('05 00 00 01 7f 00 00 01 04 38');

    it('wraps the request, unwraps the reply and head, at every split', () => {
      const server = Buffer.concat([hex('05 80 5a'), Buffer.from('OK'), x(reply), x(TRAILER)]);
      for (const s of splits(server)) {
        const o = drive({ destination: makeAddress('127.0.0.1', 80), methods: [toy(), none()] }, s.chunks);
        expect(o.error, s.name).to.equal(undefined);
        expect(toHex(o.written), s.name).to.equal(toHex(Buffer.concat([hex('05 02 80 00'), Buffer.from('HI'), x(request)])));
        expect(o.established!.bound).to.deep.equal({ type: 'ipv4', host: '127.0.0.1', port: 1080 });
        expect(toHex(o.established!.head)).to.equal(toHex(TRAILER));
        expect(o.actions).to.include('verify');
      }
    });

    it('a failed verify is an AuthError', () => {
      const o = drive({ destination: makeAddress('127.0.0.1', 80), methods: [toy()] }, [hex('05 80 11'), Buffer.from('OK')]);
      expect(o.error).to.be.instanceOf(AuthError);
      expect(o.error!.message).to.equal('bad key');
    });

    it('holds bytes that arrive while a verify is pending', () => {
      const hs = new ClientHandshake({ destination: makeAddress('127.0.0.1', 80), methods: [toy()] });
      hs.start();
      const acts = hs.receive(Buffer.concat([hex('05 80 5a'), Buffer.from('OK')]));
      const v = acts.find((a) => a.type === 'verify');
      expect(v).to.not.equal(undefined);
      expect(hs.receive(x(reply))).to.deep.equal([]);
      const done = hs.verified({ ok: true, value: true });
      expect(done.map((a) => a.type)).to.deep.equal(['write', 'established']);
    });
  });

  it('random server input: only actions or one SocksError, never a throw', () => {
    const rand = prng(1928);
    for (let n = 0; n < 2000; n++) {
      const len = Math.floor(rand() * 40);
      const buf = Buffer.alloc(len);
      for (let i = 0; i < len; i++) buf[i] = rand() < 0.3 ? [0, 1, 2, 3, 4, 5, 0x5a, 0xff][Math.floor(rand() * 8)]! : Math.floor(rand() * 256);
      if (len > 0 && rand() < 0.5) buf[0] = 5;
      const version = ([4, '4a', 5] as const)[n % 3];
      const command = (['connect', 'bind', 'udp'] as const)[Math.floor(n / 3) % 3];
      const opts: ClientHandshakeOptions = { version, command: version === 5 ? command : 'connect', destination: makeAddress('127.0.0.1', 80), methods: [alice(), none()] };
      const chunks = splits(buf)[Math.floor(rand() * Math.max(1, buf.length))]?.chunks ?? [buf];
      let o: Outcome;
      expect(() => { o = drive(opts, chunks, true); }).to.not.throw();
      const ends = o!.actions.filter((a) => a === 'established' || a === 'error');
      expect(ends.length).to.equal(1);
      if (o!.error) expect(o!.error).to.be.instanceOf(SocksError);
    }
  });
});
