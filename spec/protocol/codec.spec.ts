/**
 * Codecs: every encoder against the RFC byte layout, every decoder against
 * the same bytes, "need more" at every prefix, and the edge cases the wire
 * formats invite (IPv6 forms, byte length of non-ASCII names, 255/256-byte
 * names, ports 0/65535, SOCKS4 VN 00, UDP header).
 */
import net from 'node:net';
import { expect } from 'chai';
import {
  ByteQueue,
  encodeGreeting,
  decodeGreeting,
  encodeMethodSelection,
  decodeMethodSelection,
  encodeRequest,
  decodeRequest,
  encodeReply,
  decodeReply,
  encodeAddress,
  readAddress,
  makeAddress,
  hostType,
  isIPv4,
  fromNodeAddress,
  formatAddress,
  ipv6Bytes,
  ipv6String,
  encodeSocks4Request,
  decodeSocks4Request,
  encodeSocks4Reply,
  decodeSocks4Reply,
  encodeUdpDatagram,
  decodeUdpDatagram,
  SocksAddress,
} from '../../lib/protocol/codec/index.js';
import { encodeUserPassRequest, decodeUserPassRequest } from '../../methods/userpass.js';
import { Reply, Command, Socks4Reply } from '../../lib/protocol/constants.js';
import { SocksError, RemoteProtocolError, LocalProtocolError, replyFromErrno, socks4ReplyFrom } from '../../lib/protocol/errors.js';
import { hex, toHex } from '../support/helpers.js';

/** Every strict prefix of `buf` must decode to "need more" (undefined), never throw. */
function expectNeedMoreOnPrefixes(buf: Buffer, decode: (b: Buffer) => unknown): void {
  for (let i = 0; i < buf.length; i++) {
    expect(decode(buf.subarray(0, i)), `prefix of ${i} bytes`).to.equal(undefined);
  }
}

function expectThrowCode(f: () => unknown, code: string, reply?: number): SocksError {
  try {
    f();
  } catch (err) {
    expect(err).to.be.instanceOf(SocksError);
    const e = err as SocksError;
    expect(e.code).to.equal(code);
    if (reply !== undefined) expect(e.reply).to.equal(reply);
    return e;
  }
  expect.fail(`expected a ${code} to be thrown`);
}

describe('codec: greeting (RFC 1928 §3)', () => {
  it('encodes and decodes 05 02 00 02', () => {
    // RFC 1928 §3: VER | NMETHODS | METHODS
    const wire = hex('05 02 00 02');
    expect(toHex(encodeGreeting([0x00, 0x02]))).to.equal('05 02 00 02');
    expect(decodeGreeting(wire)).to.deep.equal({ methods: [0x00, 0x02], length: 4 });
    expectNeedMoreOnPrefixes(wire, decodeGreeting);
  });

  it('bounds the read by NMETHODS and leaves what follows', () => {
    const wire = hex('05 01 00 05 01 00 01');
    expect(decodeGreeting(wire)).to.deep.equal({ methods: [0x00], length: 3 });
  });

  it('decodes NMETHODS = 0 as an empty offer (the server answers 05 FF)', () => {
    expect(decodeGreeting(hex('05 00'))).to.deep.equal({ methods: [], length: 2 });
  });

  it('decodes 255 methods', () => {
    const methods = Array.from({ length: 255 }, (_, i) => i);
    const wire = encodeGreeting(methods);
    expect(wire.length).to.equal(257);
    expect(wire[1]).to.equal(0xff);
    expect(decodeGreeting(wire)).to.deep.equal({ methods, length: 257 });
  });

  it('refuses to encode 0 or 256 methods', () => {
    expectThrowCode(() => encodeGreeting([]), 'ERR_SOCKS_USAGE');
    expectThrowCode(() => encodeGreeting(new Array(256).fill(0)), 'ERR_SOCKS_USAGE');
  });

  it('rejects a wrong VER as a remote error', () => {
    const e = expectThrowCode(() => decodeGreeting(hex('04 01 00')), 'ERR_SOCKS_BAD_VERSION');
    expect(e).to.be.instanceOf(RemoteProtocolError);
  });

  it('method selection: 05 02 round trip; VER checked', () => {
    // RFC 1928 §3: VER | METHOD
    expect(toHex(encodeMethodSelection(0x02))).to.equal('05 02');
    expect(decodeMethodSelection(hex('05 ff'))).to.deep.equal({ method: 0xff, length: 2 });
    expect(decodeMethodSelection(hex('05'))).to.equal(undefined);
    expectThrowCode(() => decodeMethodSelection(hex('01 00')), 'ERR_SOCKS_BAD_VERSION');
  });
});

describe('codec: addresses (RFC 1928 §5)', () => {
  const cases: { name: string; addr: SocksAddress; wire: string }[] = [
    { name: 'IPv4', addr: { type: 'ipv4', host: '127.0.0.1', port: 8080 }, wire: '01 7f 00 00 01 1f 90' },
    { name: 'IPv4 port 0', addr: { type: 'ipv4', host: '0.0.0.0', port: 0 }, wire: '01 00 00 00 00 00 00' },
    { name: 'IPv4 port 65535', addr: { type: 'ipv4', host: '255.255.255.255', port: 65535 }, wire: '01 ff ff ff ff ff ff' },
    { name: 'IPv6 ::1', addr: { type: 'ipv6', host: '::1', port: 443 }, wire: '04 00000000000000000000000000000001 01 bb' },
    { name: 'IPv6 ::', addr: { type: 'ipv6', host: '::', port: 1 }, wire: '04 00000000000000000000000000000000 00 01' },
    { name: 'IPv6 2001:db8::1', addr: { type: 'ipv6', host: '2001:db8::1', port: 80 }, wire: '04 20010db8000000000000000000000001 00 50' },
    { name: 'domain', addr: { type: 'domain', host: 'example.com', port: 80 }, wire: '03 0b 6578616d706c652e636f6d 00 50' },
  ];
  for (const c of cases) {
    it(`${c.name}: encode = ${c.wire}, decode back, need-more on every prefix`, () => {
      const wire = hex(c.wire);
      expect(toHex(encodeAddress(c.addr))).to.equal(toHex(wire));
      expect(readAddress(wire, 0)).to.deep.equal({ address: c.addr, end: wire.length });
      expectNeedMoreOnPrefixes(wire, (b) => readAddress(b, 0));
    });
  }

  it('IPv4-mapped ::ffff:1.2.3.4 encodes to ::ffff:0102:0304 and decodes to the same 16 bytes', () => {
    const a = makeAddress('::ffff:1.2.3.4', 1);
    expect(a.type).to.equal('ipv6');
    const wire = encodeAddress(a);
    expect(toHex(wire)).to.equal(toHex(hex('04 00000000000000000000ffff01020304 0001')));
    const back = readAddress(wire, 0)!.address;
    expect(back.type).to.equal('ipv6');
    expect(net.isIPv6(back.host)).to.equal(true);
    expect(toHex(ipv6Bytes(back.host))).to.equal(toHex(hex('00000000000000000000ffff01020304')));
  });

  it('IPv6 text forms: compressed output, brackets stripped, leading zero bytes kept', () => {
    expect(makeAddress('[::1]', 1080)).to.deep.equal({ type: 'ipv6', host: '::1', port: 1080 });
    expect(makeAddress('2001:0db8:0000:0000:0000:0000:0000:0001', 1).host).to.equal('2001:db8::1');
    expect(ipv6String(hex('00000000000000000000000000000001'))).to.equal('::1');
    expect(ipv6Bytes('::1').length).to.equal(16);
    expect(ipv6Bytes('::').length).to.equal(16);
    expect(formatAddress({ type: 'ipv6', host: '::1', port: 80 })).to.equal('[::1]:80');
    expectThrowCode(() => ipv6Bytes('::g'), 'ERR_SOCKS_USAGE');
  });

  it('classifies hosts: IPv4 literals, IPv6 literals, everything else a name', () => {
    expect(hostType('1.2.3.4')).to.equal('ipv4');
    expect(hostType('::1')).to.equal('ipv6');
    expect(hostType('[::1]')).to.equal('ipv6');
    expect(hostType('::ffff:1.2.3.4')).to.equal('ipv6');
    expect(hostType('localhost')).to.equal('domain');
    expect(hostType('256.1.1.1')).to.equal('domain');
    expect(hostType('1.2.3')).to.equal('domain');
  });

  it('isIPv4 accepts exactly the dotted quads Node prints (no leading zeros, each part ≤ 255)', () => {
    for (const ok of ['0.0.0.0', '1.2.3.4', '255.255.255.255', '127.0.0.1', '10.0.100.9', '199.250.249.200']) expect(isIPv4(ok), ok).to.equal(true);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.256', '01.2.3.4', '1.2.3.04', '1..3.4', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.a', '1234.1.1.1', '1.2.3.4\n', '١.2.3.4', '1.2.3.-4', '1e2.1.1.1'])
      expect(isIPv4(bad), JSON.stringify(bad)).to.equal(false);
    // Agrees with Node's own check over strings built from digits and dots (bounded, seeded).
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let i = 0; i < 20000; i++) {
      let h = '';
      for (let j = rnd(17); j > 0; j--) h += '0123456789.'[rnd(11)];
      expect(isIPv4(h), h).to.equal(net.isIPv4(h) && !/(^|\.)0\d/.test(h));
    }
  });

  it('normalises Node IPv4-mapped socket addresses to IPv4', () => {
    expect(fromNodeAddress('::ffff:127.0.0.1', 5)).to.deep.equal({ type: 'ipv4', host: '127.0.0.1', port: 5 });
    expect(fromNodeAddress('::1', 6)).to.deep.equal({ type: 'ipv6', host: '::1', port: 6 });
    expect(fromNodeAddress(undefined, undefined)).to.deep.equal({ type: 'ipv4', host: '0.0.0.0', port: 0 });
  });

  it('domain length is the UTF-8 byte length, not the string length', () => {
    const host = 'bücher.example'; // 14 characters, 15 bytes
    const wire = encodeAddress({ type: 'domain', host, port: 80 });
    expect(wire[1]).to.equal(15);
    expect(wire.length).to.equal(1 + 1 + 15 + 2);
    expect(readAddress(wire, 0)!.address).to.deep.equal({ type: 'domain', host, port: 80 });
  });

  it('a 255-byte name encodes and decodes; 256 bytes (or 255 chars of 256 bytes) is refused', () => {
    const n255 = 'a'.repeat(251) + '.com';
    const wire = encodeAddress({ type: 'domain', host: n255, port: 65535 });
    expect(wire[1]).to.equal(255);
    expect(wire.length).to.equal(259);
    expect(readAddress(wire, 0)).to.deep.equal({ address: { type: 'domain', host: n255, port: 65535 }, end: 259 });
    expectThrowCode(() => encodeAddress({ type: 'domain', host: n255 + 'x', port: 1 }), 'ERR_SOCKS_USAGE');
    expectThrowCode(() => encodeAddress({ type: 'domain', host: 'é' + 'a'.repeat(254), port: 1 }), 'ERR_SOCKS_USAGE');
    expectThrowCode(() => encodeAddress({ type: 'domain', host: '', port: 1 }), 'ERR_SOCKS_USAGE');
  });

  it('refuses ports outside 0..65535 and non-integers', () => {
    for (const port of [-1, 65536, 1.5, NaN]) {
      expectThrowCode(() => encodeAddress({ type: 'ipv4', host: '1.2.3.4', port }), 'ERR_SOCKS_USAGE');
      expectThrowCode(() => makeAddress('1.2.3.4', port), 'ERR_SOCKS_USAGE');
    }
  });

  it('refuses malformed IPv4 text on encode', () => {
    for (const host of ['1.2.3', '1.2.3.256', '1.2.3.x', '1.2.3.4.5']) {
      expectThrowCode(() => encodeAddress({ type: 'ipv4', host, port: 1 }), 'ERR_SOCKS_USAGE');
    }
  });

  it('an unknown ATYP is a remote error with reply 08', () => {
    for (const atyp of [0x00, 0x02, 0x05, 0xff]) {
      const e = expectThrowCode(() => readAddress(Buffer.from([atyp, 1, 2, 3]), 0), 'ERR_SOCKS_BAD_ADDRESS_TYPE', Reply.AddressTypeNotSupported);
      expect(e).to.be.instanceOf(RemoteProtocolError);
    }
  });
});

describe('codec: request and reply (RFC 1928 §4, §6)', () => {
  it('CONNECT 127.0.0.1:80 = 05 01 00 01 7f000001 0050', () => {
    // RFC 1928 §4: VER | CMD | RSV | ATYP | DST.ADDR | DST.PORT
    const wire = hex('05 01 00 01 7f 00 00 01 00 50');
    expect(toHex(encodeRequest(Command.Connect, { type: 'ipv4', host: '127.0.0.1', port: 80 }))).to.equal(toHex(wire));
    expect(decodeRequest(wire)).to.deep.equal({ request: { command: 1, destination: { type: 'ipv4', host: '127.0.0.1', port: 80 } }, length: 10 });
    expectNeedMoreOnPrefixes(wire, decodeRequest);
  });

  it('a request with a 255-byte domain is 262 bytes, the largest there is', () => {
    const host = 'h'.repeat(255);
    const wire = encodeRequest(Command.Connect, { type: 'domain', host, port: 1 });
    expect(wire.length).to.equal(262);
    expect(decodeRequest(wire)!.request.destination.host).to.equal(host);
  });

  it('is lenient on RSV when parsing, strict (00) when sending', () => {
    expect(decodeRequest(hex('05 01 ff 01 7f 00 00 01 00 50'))!.request.command).to.equal(1);
    expect(encodeRequest(1, { type: 'ipv4', host: '1.1.1.1', port: 1 })[2]).to.equal(0);
    expect(encodeReply(0)[2]).to.equal(0);
  });

  it('an empty domain name is refused with reply 04', () => {
    expectThrowCode(() => decodeRequest(hex('05 01 00 03 00 00 50')), 'ERR_SOCKS_BAD_ADDRESS', Reply.HostUnreachable);
  });

  it('a wrong VER is refused', () => {
    expectThrowCode(() => decodeRequest(hex('04 01 00 01 7f 00 00 01 00 50')), 'ERR_SOCKS_BAD_VERSION');
  });

  it('a failure reply is full length: 05 REP 00 01 00000000 0000', () => {
    expect(toHex(encodeReply(Reply.ConnectionRefused))).to.equal('05 05 00 01 00 00 00 00 00 00');
  });

  it('replies are parsed by ATYP: 10 bytes (IPv4), 22 (IPv6), 7 + N (domain)', () => {
    const v4 = hex('05 00 00 01 0a 00 00 01 04 d2');
    const v6 = hex('05 00 00 04 00000000000000000000000000000001 04 d2');
    const dn = hex('05 00 00 03 09 6c6f63616c686f7374 04 d2');
    expect(decodeReply(v4)).to.deep.equal({ reply: 0, bound: { type: 'ipv4', host: '10.0.0.1', port: 1234 }, length: 10 });
    expect(decodeReply(v6)).to.deep.equal({ reply: 0, bound: { type: 'ipv6', host: '::1', port: 1234 }, length: 22 });
    expect(decodeReply(dn)).to.deep.equal({ reply: 0, bound: { type: 'domain', host: 'localhost', port: 1234 }, length: 16 });
    for (const w of [v4, v6, dn]) expectNeedMoreOnPrefixes(w, decodeReply);
    expect(toHex(encodeReply(0, { type: 'ipv6', host: '::1', port: 1234 }))).to.equal(toHex(v6));
    expect(toHex(encodeReply(0, { type: 'domain', host: 'localhost', port: 1234 }))).to.equal(toHex(dn));
  });
});

describe('codec: SOCKS4 / SOCKS4a', () => {
  it('SOCKS4 CONNECT 127.0.0.1:80 user "bob" = 04 01 0050 7f000001 626f62 00', () => {
    // SOCKS4: VN | CD | DSTPORT | DSTIP | USERID | NULL
    const wire = hex('04 01 00 50 7f 00 00 01 62 6f 62 00');
    expect(toHex(encodeSocks4Request(1, { type: 'ipv4', host: '127.0.0.1', port: 80 }, 'bob'))).to.equal(toHex(wire));
    expect(decodeSocks4Request(wire)).to.deep.equal({
      request: { command: 1, destination: { type: 'ipv4', host: '127.0.0.1', port: 80 }, userId: 'bob', socks4a: false },
      length: 12,
    });
    expectNeedMoreOnPrefixes(wire, decodeSocks4Request);
  });

  it('SOCKS4a: DSTIP 0.0.0.1, then the NUL-terminated hostname after USERID', () => {
    // SOCKS4a: DSTIP = 0.0.0.x (x != 0), USERID NUL, HOST NUL
    const wire = hex('04 01 01 bb 00 00 00 01 00 6578616d706c652e636f6d 00');
    expect(toHex(encodeSocks4Request(1, { type: 'domain', host: 'example.com', port: 443 }))).to.equal(toHex(wire));
    expect(decodeSocks4Request(wire)).to.deep.equal({
      request: { command: 1, destination: { type: 'domain', host: 'example.com', port: 443 }, userId: '', socks4a: true },
      length: wire.length,
    });
    expectNeedMoreOnPrefixes(wire, decodeSocks4Request);
  });

  it('0.0.0.0 is not the 4a marker', () => {
    const r = decodeSocks4Request(hex('04 01 00 50 00 00 00 00 00 41 42 00'));
    expect(r!.request.socks4a).to.equal(false);
    expect(r!.length).to.equal(9);
  });

  it('USERID and hostname are capped at 255 bytes (reply 5B)', () => {
    const head = hex('04 01 00 50 7f 00 00 01');
    const ok = Buffer.concat([head, Buffer.alloc(255, 0x61), hex('00')]);
    expect(decodeSocks4Request(ok)!.request.userId).to.equal('a'.repeat(255));
    // The limit applies before the NUL arrives, so an endless USERID is refused early.
    expectThrowCode(() => decodeSocks4Request(Buffer.concat([head, Buffer.alloc(256, 0x61)])), 'ERR_SOCKS_BUFFER_LIMIT', Socks4Reply.Rejected);
    const h4a = hex('04 01 00 50 00 00 00 07 00');
    expect(decodeSocks4Request(Buffer.concat([h4a, Buffer.alloc(255, 0x62), hex('00')]))!.request.destination.host).to.equal('b'.repeat(255));
    expectThrowCode(() => decodeSocks4Request(Buffer.concat([h4a, Buffer.alloc(256, 0x62)])), 'ERR_SOCKS_BUFFER_LIMIT', Socks4Reply.Rejected);
    expectThrowCode(() => decodeSocks4Request(hex('04 01 00 50 00 00 00 01 00 00')), 'ERR_SOCKS_BAD_ADDRESS', Socks4Reply.Rejected);
  });

  it('refuses to encode what SOCKS4 cannot carry', () => {
    expectThrowCode(() => encodeSocks4Request(1, { type: 'ipv6', host: '::1', port: 1 }), 'ERR_SOCKS_USAGE');
    expectThrowCode(() => encodeSocks4Request(1, { type: 'ipv4', host: '1.2.3.4', port: 1 }, 'a\0b'), 'ERR_SOCKS_USAGE');
    expectThrowCode(() => encodeSocks4Request(1, { type: 'domain', host: 'x'.repeat(256), port: 1 }), 'ERR_SOCKS_USAGE');
  });

  it('replies are 8 bytes with VN 00, never 04', () => {
    expect(toHex(encodeSocks4Reply(Socks4Reply.Granted, { type: 'ipv4', host: '10.1.2.3', port: 1080 }))).to.equal('00 5a 04 38 0a 01 02 03');
    expect(toHex(encodeSocks4Reply(Socks4Reply.Rejected))).to.equal('00 5b 00 00 00 00 00 00');
    expect(decodeSocks4Reply(hex('00 5a 04 38 0a 01 02 03'))).to.deep.equal({ reply: 0x5a, bound: { type: 'ipv4', host: '10.1.2.3', port: 1080 }, length: 8 });
    expectNeedMoreOnPrefixes(hex('00 5a 04 38 0a 01 02 03'), decodeSocks4Reply);
    expectThrowCode(() => decodeSocks4Reply(hex('04 5a 00 00 00 00 00 00')), 'ERR_SOCKS_BAD_VERSION');
  });
});

describe('codec: username/password (RFC 1929 §2)', () => {
  it('01 05 alice 06 s3cret round trip', () => {
    // RFC 1929: VER | ULEN | UNAME | PLEN | PASSWD
    const wire = hex('01 05 616c696365 06 733363726574');
    expect(toHex(encodeUserPassRequest('alice', 's3cret'))).to.equal(toHex(wire));
    expect(decodeUserPassRequest(wire)).to.deep.equal({ username: 'alice', password: 's3cret', length: 14 });
    expectNeedMoreOnPrefixes(wire, decodeUserPassRequest);
  });

  it('ULEN = 0 and PLEN = 0 are parsed', () => {
    expect(decodeUserPassRequest(hex('01 00 00'))).to.deep.equal({ username: '', password: '', length: 3 });
    expect(decodeUserPassRequest(hex('01 00 02 70 77'))).to.deep.equal({ username: '', password: 'pw', length: 5 });
    expect(decodeUserPassRequest(hex('01 01 75 00'))).to.deep.equal({ username: 'u', password: '', length: 4 });
  });

  it('255-byte fields: 513 bytes; 256 refused on encode; non-ASCII counted in bytes', () => {
    const u = 'u'.repeat(255);
    const p = 'p'.repeat(255);
    const wire = encodeUserPassRequest(u, p);
    expect(wire.length).to.equal(513);
    expect(decodeUserPassRequest(wire)).to.deep.equal({ username: u, password: p, length: 513 });
    expectThrowCode(() => encodeUserPassRequest('u'.repeat(256), 'p'), 'ERR_SOCKS_USAGE');
    expect(encodeUserPassRequest('é', 'x')[1]).to.equal(2);
  });

  it('VER 05 is refused (a common bug)', () => {
    expectThrowCode(() => decodeUserPassRequest(hex('05 01 61 01 62')), 'ERR_SOCKS_BAD_VERSION');
  });
});

describe('codec: UDP request header (RFC 1928 §7)', () => {
  it('IPv4: 0000 00 01 7f000001 0035 + data', () => {
    // RFC 1928 §7: RSV(2) | FRAG | ATYP | DST.ADDR | DST.PORT | DATA
    const data = Buffer.from('dns?');
    const wire = hex('00 00 00 01 7f 00 00 01 00 35 64 6e 73 3f');
    expect(toHex(encodeUdpDatagram({ type: 'ipv4', host: '127.0.0.1', port: 53 }, data))).to.equal(toHex(wire));
    const d = decodeUdpDatagram(wire);
    expect(d.frag).to.equal(0);
    expect(d.address).to.deep.equal({ type: 'ipv4', host: '127.0.0.1', port: 53 });
    expect(d.data.toString()).to.equal('dns?');
  });

  it('IPv6 header is 22 bytes, domain header 7 + N, FRAG carried', () => {
    const v6 = encodeUdpDatagram({ type: 'ipv6', host: '::1', port: 9 }, Buffer.alloc(0), 0x81);
    expect(v6.length).to.equal(22);
    expect(v6[2]).to.equal(0x81);
    expect(decodeUdpDatagram(v6)).to.deep.include({ frag: 0x81 });
    const dn = encodeUdpDatagram({ type: 'domain', host: 'a.b', port: 9 }, Buffer.from([1, 2]));
    expect(toHex(dn)).to.equal('00 00 00 03 03 61 2e 62 00 09 01 02');
    expect(decodeUdpDatagram(dn).data).to.deep.equal(Buffer.from([1, 2]));
  });

  it('a datagram shorter than its header is refused; an empty payload is fine', () => {
    for (const w of ['', '00 00 00', '00 00 00 01 7f 00 00 01 00', '00 00 00 03 05 61 62']) {
      expectThrowCode(() => decodeUdpDatagram(hex(w)), 'ERR_SOCKS_PROTOCOL');
    }
    expect(decodeUdpDatagram(hex('00 00 00 01 7f 00 00 01 00 35')).data.length).to.equal(0);
    expectThrowCode(() => decodeUdpDatagram(hex('00 00 00 09 00 00')), 'ERR_SOCKS_BAD_ADDRESS_TYPE', Reply.AddressTypeNotSupported);
  });
});

describe('codec: ByteQueue', () => {
  it('keeps order across pushes; take/peek/skip/takeAll', () => {
    const q = new ByteQueue();
    q.push(hex('01 02'));
    q.push(Buffer.alloc(0));
    q.push(hex('03'));
    q.push(hex('04 05'));
    expect(q.length).to.equal(5);
    expect(q.at(2)).to.equal(3);
    expect(toHex(q.peek(3))).to.equal('01 02 03');
    expect(toHex(q.take(2))).to.equal('01 02');
    q.skip(1);
    expect(toHex(q.takeAll())).to.equal('04 05');
    expect(q.length).to.equal(0);
  });

  it('does not copy a single whole chunk', () => {
    const q = new ByteQueue();
    const chunk = hex('05 01 00');
    q.push(chunk);
    expect(q.peek().buffer).to.equal(chunk.buffer);
  });
});

describe('errors: reply codes from error codes, never from messages', () => {
  const table: [string, number][] = [
    ['ECONNREFUSED', Reply.ConnectionRefused],
    ['ENOTFOUND', Reply.HostUnreachable],
    ['EAI_AGAIN', Reply.HostUnreachable],
    ['EHOSTUNREACH', Reply.HostUnreachable],
    ['ENETUNREACH', Reply.NetworkUnreachable],
    ['ETIMEDOUT', Reply.TtlExpired],
    ['EACCES', Reply.NotAllowedByRuleset],
    ['EAFNOSUPPORT', Reply.AddressTypeNotSupported],
    ['EWHATEVER', Reply.GeneralFailure],
  ];
  for (const [code, reply] of table) {
    it(`${code} → ${reply.toString(16).padStart(2, '0')}`, () => {
      expect(replyFromErrno(Object.assign(new Error('connection refused'), { code }))).to.equal(reply);
    });
  }
  it('a message saying "refused" without a code is a general failure', () => {
    expect(replyFromErrno(new Error('ECONNREFUSED connection refused'))).to.equal(Reply.GeneralFailure);
    expect(replyFromErrno(null)).to.equal(Reply.GeneralFailure);
  });
  it('a SocksError keeps its own reply', () => {
    expect(replyFromErrno(new SocksError('ERR_SOCKS_DENIED', 'no', 0x02))).to.equal(0x02);
    expect(new LocalProtocolError('x').code).to.equal('ERR_SOCKS_USAGE');
  });
  it('SOCKS4 maps success to 5A and every failure to 5B', () => {
    expect(socks4ReplyFrom(0)).to.equal(0x5a);
    expect(socks4ReplyFrom(5)).to.equal(0x5b);
  });
});
