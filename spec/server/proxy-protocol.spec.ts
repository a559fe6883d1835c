/**
 * PROXY protocol (HAProxy v1/v2): the codec on fixtures (whole, every prefix
 * and split, with trailing SOCKS bytes), malformed input with exact error
 * codes, the encoders; SocksServer's proxyProtocol option over loopback and
 * over a Duplex fed at every split; and a real HAProxy (send-proxy,
 * send-proxy-v2) in front of sockskit-proxy, reached by curl.
 */
import { Duplex } from 'node:stream';
import { expect } from 'chai';
import {
  decodeProxyHeader,
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  ProxyHeader,
  ProxyDecodeOptions,
  PROXY_V2_SIGNATURE,
} from '../../lib/protocol/codec/proxy-protocol.js';
import { RemoteProtocolError, LocalProtocolError, SocksError } from '../../lib/protocol/errors.js';
import { SocksServer, SocksServerOptions, RequestContext } from '../../lib/server/server.js';
import { parseCidr } from '../../lib/server/rules.js';
import { encodeRequest, SocksAddress } from '../../lib/protocol/codec/index.js';
import { none } from '../../methods/none.js';
import { userpass } from '../../methods/userpass.js';
import { hex, toHex, splits } from '../support/helpers.js';
import { RawClient, waitFor, startTarget, echo, Target } from '../support/server.js';
import { startSocksServer, type StartedServer } from '../support/socks-server.js';

const LOCAL = '127.0.0.1';
const SIG = toHex(PROXY_V2_SIGNATURE);
const v4 = (host: string, port: number): SocksAddress => ({ type: 'ipv4', host, port });
const v6 = (host: string, port: number): SocksAddress => ({ type: 'ipv6', host, port });
const ascii = (s: string) => Buffer.from(s, 'latin1');

interface Fixture {
  name: string;
  bytes: Buffer;
  expect: Omit<ProxyHeader, 'length' | 'tlvs'> & { tlvs?: ProxyHeader['tlvs'] };
}

const FIXTURES: Fixture[] = [
  {
    name: 'v1 TCP4',
    bytes: ascii('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'),
    expect: { version: 1, command: 'proxy', family: 'inet', transport: 'stream', source: v4('192.168.0.1', 56324), destination: v4('192.168.0.11', 443) },
  },
  {
    name: 'v1 TCP4 extremes',
    bytes: ascii('PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n'),
    expect: { version: 1, command: 'proxy', family: 'inet', transport: 'stream', source: v4('255.255.255.255', 65535), destination: v4('0.0.0.0', 0) },
  },
  {
    name: 'v1 TCP6 (uncompressed, upper case: canonicalised)',
    bytes: ascii('PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0007 2001:db8::1 40000 1080\r\n'),
    expect: { version: 1, command: 'proxy', family: 'inet6', transport: 'stream', source: v6('2001:db8::7', 40000), destination: v6('2001:db8::1', 1080) },
  },
  {
    name: 'v1 UNKNOWN (short)',
    bytes: ascii('PROXY UNKNOWN\r\n'),
    expect: { version: 1, command: 'proxy', family: 'unspec', transport: 'unspec' },
  },
  {
    name: 'v1 UNKNOWN worst case, 107 bytes (the rest of the line is ignored)',
    bytes: ascii(`PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`),
    expect: { version: 1, command: 'proxy', family: 'unspec', transport: 'unspec' },
  },
  {
    name: 'v2 INET',
    bytes: hex(`${SIG} 21 11 00 0c  c0 a8 00 01  c0 a8 00 0b  dc 04  01 bb`),
    expect: { version: 2, command: 'proxy', family: 'inet', transport: 'stream', source: v4('192.168.0.1', 56324), destination: v4('192.168.0.11', 443) },
  },
  {
    name: 'v2 INET6',
    bytes: hex(`${SIG} 21 21 00 24  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 07  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01  9c 40  04 38`),
    expect: { version: 2, command: 'proxy', family: 'inet6', transport: 'stream', source: v6('2001:db8::7', 40000), destination: v6('2001:db8::1', 1080) },
  },
  {
    name: 'v2 LOCAL (health check)',
    bytes: hex(`${SIG} 20 00 00 00`),
    expect: { version: 2, command: 'local', family: 'unspec', transport: 'unspec' },
  },
  {
    name: 'v2 LOCAL with an address block (discarded, LEN still skipped)',
    bytes: hex(`${SIG} 20 11 00 0c  0a 00 00 01  0a 00 00 02  00 50  00 51`),
    expect: { version: 2, command: 'local', family: 'inet', transport: 'stream' },
  },
  {
    name: 'v2 INET with TLVs (ALPN "h2", NOOP padding)',
    bytes: hex(`${SIG} 21 11 00 17  7f 00 00 01  7f 00 00 02  30 39  04 38  01 00 02 68 32  04 00 03 00 00 00`),
    expect: {
      version: 2, command: 'proxy', family: 'inet', transport: 'stream', source: v4('127.0.0.1', 12345), destination: v4('127.0.0.2', 1080),
      tlvs: [{ type: 0x01, value: ascii('h2') }, { type: 0x04, value: hex('00 00 00') }],
    },
  },
  {
    name: 'v2 UDP over IPv4',
    bytes: hex(`${SIG} 21 12 00 0c  01 02 03 04  05 06 07 08  00 35  00 36`),
    expect: { version: 2, command: 'proxy', family: 'inet', transport: 'dgram', source: v4('1.2.3.4', 53), destination: v4('5.6.7.8', 54) },
  },
  {
    name: 'v2 PROXY with UNSPEC family (no address: real endpoints)',
    bytes: hex(`${SIG} 21 00 00 00`),
    expect: { version: 2, command: 'proxy', family: 'unspec', transport: 'unspec' },
  },
  {
    name: 'v2 UNIX stream (accepted, no address)',
    bytes: Buffer.concat([hex(`${SIG} 21 31 00 d8`), Buffer.alloc(216, 0x61)]),
    expect: { version: 2, command: 'proxy', family: 'unix', transport: 'stream' },
  },
];

const SOCKS_GREETING = hex('05 01 00');

function expected(f: Fixture): ProxyHeader {
  return { tlvs: [], ...f.expect, length: f.bytes.length };
}

describe('PROXY protocol codec', () => {
  describe('fixtures', () => {
    for (const f of FIXTURES) {
      it(`${f.name}: whole`, () => {
        expect(decodeProxyHeader(f.bytes)).to.deep.equal(expected(f));
      });

      it(`${f.name}: every prefix is "need more", then the header; trailing SOCKS bytes are left`, () => {
        const input = Buffer.concat([f.bytes, SOCKS_GREETING]);
        for (let n = 1; n < f.bytes.length; n++) {
          expect(decodeProxyHeader(input.subarray(0, n)), `prefix ${n}`).to.equal(undefined);
        }
        for (let n = f.bytes.length; n <= input.length; n++) {
          const h = decodeProxyHeader(input.subarray(0, n))!;
          expect(h, `prefix ${n}`).to.deep.equal(expected(f));
          expect(toHex(input.subarray(h.length))).to.equal(toHex(input.subarray(f.bytes.length)));
        }
      });

      it(`${f.name}: every split, accumulated like an adapter does`, () => {
        for (const { name, chunks } of splits(Buffer.concat([f.bytes, SOCKS_GREETING]))) {
          let acc = Buffer.alloc(0);
          let h: ProxyHeader | undefined;
          for (const c of chunks) {
            acc = Buffer.concat([acc, c]);
            h = decodeProxyHeader(acc);
            if (h) break;
          }
          expect(h, name).to.deep.equal(expected(f));
          expect(toHex(acc.subarray(h!.length)), name).to.equal(toHex(acc.subarray(f.bytes.length)));
        }
      });
    }

    it('v2 TLV values are copies, not views of the input', () => {
      const f = FIXTURES.find((x) => x.name.includes('TLVs'))!;
      const input = Buffer.from(f.bytes);
      const h = decodeProxyHeader(input)!;
      input.fill(0);
      expect(h.tlvs[0]!.value.toString()).to.equal('h2');
    });

    it('the version filter: v1 only, v2 only', () => {
      const one = FIXTURES[0]!.bytes;
      const two = FIXTURES.find((x) => x.name === 'v2 INET')!.bytes;
      expect(decodeProxyHeader(one, { versions: 'v1' })?.version).to.equal(1);
      expect(decodeProxyHeader(two, { versions: 'v2' })?.version).to.equal(2);
      expect(() => decodeProxyHeader(one, { versions: 'v2' })).to.throw(RemoteProtocolError).with.property('code', 'ERR_SOCKS_PROTOCOL');
      expect(() => decodeProxyHeader(two, { versions: 'v1' })).to.throw(RemoteProtocolError).with.property('code', 'ERR_SOCKS_PROTOCOL');
    });
  });

  describe('malformed input', () => {
    const big = `PROXY UNKNOWN ${'a'.repeat(100)}\r\n`;
    const cases: { name: string; input: Buffer; code: string; options?: ProxyDecodeOptions }[] = [
      { name: 'SOCKS5 greeting instead of a header', input: hex('05 01 00'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'SOCKS4 request instead of a header', input: hex('04 01 00 50 7f 00 00 01 00'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'HTTP', input: ascii('GET / HTTP/1.1\r\n'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v1 bad signature (PROXZ)', input: ascii('PROXZ TCP4'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v1 lower case', input: ascii('proxy TCP4'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v1 without the space', input: ascii('PROXY\r\n'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v1 lone LF', input: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v1 CR not followed by LF', input: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v1 binary byte in the line', input: ascii('PROXY TCP4 1.2.3.4\x00'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v1 too long (no CRLF in 107 bytes)', input: ascii(big), code: 'ERR_SOCKS_BUFFER_LIMIT' },
      { name: 'v1 108 bytes with CRLF', input: ascii(`PROXY UNKNOWN ${'f'.repeat(92)}\r\n`), code: 'ERR_SOCKS_BUFFER_LIMIT' },
      { name: 'v1 unknown protocol TCP5', input: ascii('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS_TYPE' },
      { name: 'v1 port 65536', input: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 port with heading zero', input: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 negative port', input: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 port not a number', input: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 http 80\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 missing port', input: ascii('PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 two spaces', input: ascii('PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 IPv4 octet 256', input: ascii('PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 IPv4 heading zero', input: ascii('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 TCP4 with an IPv6 address', input: ascii('PROXY TCP4 ::1 ::1 1 2\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 TCP6 with an IPv4 address', input: ascii('PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v1 TCP6 with a zone id', input: ascii('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v2 bad signature (last byte)', input: hex('0d 0a 0d 0a 00 0d 0a 51 55 49 54 0b 21 11 00 00'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v2 bad signature (early)', input: hex('0d 0a 0d 0b'), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v2 version 1', input: hex(`${SIG} 11 11 00 0c`), code: 'ERR_SOCKS_BAD_VERSION' },
      { name: 'v2 version 3', input: hex(`${SIG} 31`), code: 'ERR_SOCKS_BAD_VERSION' },
      { name: 'v2 command 2', input: hex(`${SIG} 22`), code: 'ERR_SOCKS_BAD_COMMAND' },
      { name: 'v2 family 4', input: hex(`${SIG} 21 41`), code: 'ERR_SOCKS_BAD_ADDRESS_TYPE' },
      { name: 'v2 transport 3', input: hex(`${SIG} 21 13`), code: 'ERR_SOCKS_BAD_ADDRESS_TYPE' },
      { name: 'v2 too long (LEN 65535, default cap 4096)', input: hex(`${SIG} 21 11 ff ff`), code: 'ERR_SOCKS_BUFFER_LIMIT' },
      { name: 'v2 over a configured cap', input: hex(`${SIG} 21 11 00 40`), code: 'ERR_SOCKS_BUFFER_LIMIT', options: { maxLength: 64 } },
      { name: 'v2 INET with LEN 8', input: hex(`${SIG} 21 11 00 08  01 02 03 04 05 06 07 08`), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v2 INET6 with LEN 12', input: hex(`${SIG} 21 21 00 0c  01 02 03 04 05 06 07 08 00 01 00 02`), code: 'ERR_SOCKS_BAD_ADDRESS' },
      { name: 'v2 truncated TLV', input: hex(`${SIG} 21 11 00 0e  01 02 03 04 05 06 07 08 00 01 00 02  01 00`), code: 'ERR_SOCKS_PROTOCOL' },
      { name: 'v2 TLV past LEN', input: hex(`${SIG} 21 11 00 10  01 02 03 04 05 06 07 08 00 01 00 02  01 00 05 68`), code: 'ERR_SOCKS_PROTOCOL' },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.code}, no reply`, () => {
        let err: unknown;
        try {
          decodeProxyHeader(c.input, c.options);
        } catch (e) {
          err = e;
        }
        expect(err, 'throws').to.be.instanceOf(RemoteProtocolError);
        expect((err as SocksError).code).to.equal(c.code);
        expect((err as SocksError).reply).to.equal(undefined);
      });
    }

    it('rejects as early as the bytes allow', () => {
      // One byte of SOCKS, the first wrong v2 signature byte, the version nibble, LEN over the cap.
      expect(() => decodeProxyHeader(hex('05'))).to.throw(RemoteProtocolError);
      expect(() => decodeProxyHeader(hex('0d 0a 0d 0a 01'))).to.throw(RemoteProtocolError);
      expect(() => decodeProxyHeader(ascii('PROXY TCP4 1.2.3.4\n'))).to.throw(RemoteProtocolError);
      expect(decodeProxyHeader(hex(`${SIG} 21 11 0f`))).to.equal(undefined);
      expect(decodeProxyHeader(hex(`${SIG} 21 11 0f f0`)), 'exactly 4096 bytes').to.equal(undefined);
      expect(() => decodeProxyHeader(hex(`${SIG} 21 11 0f f1`))).to.throw(RemoteProtocolError).with.property('code', 'ERR_SOCKS_BUFFER_LIMIT');
      expect(decodeProxyHeader(ascii(big.slice(0, 105)))).to.equal(undefined);
      expect(() => decodeProxyHeader(ascii(big.slice(0, 106)))).to.throw(RemoteProtocolError).with.property('code', 'ERR_SOCKS_BUFFER_LIMIT');
      expect(decodeProxyHeader(Buffer.alloc(0))).to.equal(undefined);
    });
  });

  describe('encoders', () => {
    it('v1 TCP4, TCP6 (compressed), UNKNOWN', () => {
      expect(encodeProxyHeaderV1({ source: v4('192.168.0.1', 56324), destination: v4('192.168.0.11', 443) }).toString('latin1')).to.equal('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
      expect(encodeProxyHeaderV1({ source: v6('2001:0db8:0:0:0:0:0:7', 40000), destination: v6('2001:db8::1', 1080) }).toString('latin1')).to.equal('PROXY TCP6 2001:db8::7 2001:db8::1 40000 1080\r\n');
      expect(encodeProxyHeaderV1().toString('latin1')).to.equal('PROXY UNKNOWN\r\n');
      expect(encodeProxyHeaderV1({ command: 'local', source: v4('1.2.3.4', 1), destination: v4('5.6.7.8', 2) }).toString('latin1')).to.equal('PROXY UNKNOWN\r\n');
    });

    it('v2 matches the fixtures byte for byte', () => {
      const byName = (n: string) => FIXTURES.find((f) => f.name === n)!;
      expect(toHex(encodeProxyHeaderV2({ source: v4('192.168.0.1', 56324), destination: v4('192.168.0.11', 443) }))).to.equal(toHex(byName('v2 INET').bytes));
      expect(toHex(encodeProxyHeaderV2({ source: v6('2001:db8::7', 40000), destination: v6('2001:db8::1', 1080) }))).to.equal(toHex(byName('v2 INET6').bytes));
      expect(toHex(encodeProxyHeaderV2({ command: 'local' }))).to.equal(toHex(byName('v2 LOCAL (health check)').bytes));
      const withTlvs = byName('v2 INET with TLVs (ALPN "h2", NOOP padding)');
      expect(toHex(encodeProxyHeaderV2({ source: withTlvs.expect.source, destination: withTlvs.expect.destination, tlvs: withTlvs.expect.tlvs }))).to.equal(toHex(withTlvs.bytes));
      expect(toHex(encodeProxyHeaderV2({ source: v4('1.2.3.4', 53), destination: v4('5.6.7.8', 54), transport: 'dgram' }))).to.equal(toHex(byName('v2 UDP over IPv4').bytes));
    });

    it('round trip through the decoder', () => {
      for (const init of [
        { source: v4('10.1.2.3', 1), destination: v4('10.3.2.1', 65535) },
        { source: v6('::1', 5), destination: v6('fe80::abcd', 6) },
      ]) {
        for (const enc of [encodeProxyHeaderV1, encodeProxyHeaderV2]) {
          const h = decodeProxyHeader(enc(init))!;
          expect(h.source).to.deep.equal(init.source);
          expect(h.destination).to.deep.equal(init.destination);
        }
      }
    });

    it('refuses mixed families, names, half an address pair, bad ports', () => {
      const bad = [
        { source: v4('1.2.3.4', 1), destination: v6('::1', 2) },
        { source: { type: 'domain' as const, host: 'example.test', port: 1 }, destination: { type: 'domain' as const, host: 'x.test', port: 2 } },
        { source: v4('1.2.3.4', 1) },
        { source: v4('1.2.3.4', 70000), destination: v4('1.2.3.4', 1) },
        { source: v4('1.2.3.04x', 1), destination: v4('1.2.3.4', 1) },
      ];
      for (const init of bad) {
        expect(() => encodeProxyHeaderV1(init), JSON.stringify(init)).to.throw(LocalProtocolError);
        expect(() => encodeProxyHeaderV2(init), JSON.stringify(init)).to.throw(LocalProtocolError);
      }
    });
  });
});

// ------------------------------------------------------------------ server

describe('SocksServer proxyProtocol', () => {
  let servers: SocksServer[] = [];
  let clients: RawClient[] = [];
  let targets: Target[] = [];

  afterEach(async () => {
    for (const c of clients) c.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await Promise.all(targets.map((t) => t.close()));
    servers = [];
    clients = [];
    targets = [];
  });

  function startServer(options: SocksServerOptions): Promise<StartedServer> {
    return startSocksServer(options, LOCAL, servers);
  }

  async function client(port: number): Promise<RawClient> {
    const c = await RawClient.connect(port);
    clients.push(c);
    return c;
  }

  async function echoTarget(): Promise<Target> {
    const t = await startTarget(echo);
    targets.push(t);
    return t;
  }

  const SUCCESS = /^05 00 00 01 7f 00 00 01 /;
  const header1 = encodeProxyHeaderV1({ source: v4('203.0.113.7', 40000), destination: v4('198.51.100.1', 1080) });
  const header2 = encodeProxyHeaderV2({ source: v6('2001:db8::7', 40001), destination: v6('2001:db8::1', 1080) });

  for (const [name, mode, header, src, dst] of [
    ['v1', 'v1', header1, v4('203.0.113.7', 40000), v4('198.51.100.1', 1080)],
    ['v2 (IPv6 source)', 'v2', header2, v6('2001:db8::7', 40001), v6('2001:db8::1', 1080)],
    ['v2 under "any"', 'any', header2, v6('2001:db8::7', 40001), v6('2001:db8::1', 1080)],
    ['v1 under "any"', 'any', header1, v4('203.0.113.7', 40000), v4('198.51.100.1', 1080)],
  ] as const) {
    it(`${name}: header + greeting + CONNECT + payload in ONE write reach the target; the hook sees the header's addresses`, async () => {
      const t = await echoTarget();
      const seen: { source: SocksAddress; local: SocksAddress }[] = [];
      const { server, port, errors } = await startServer({
        proxyProtocol: mode,
        onRequest: (ctx: RequestContext) => {
          seen.push({ source: ctx.source, local: ctx.local });
        },
      });
      const tunnels: SocksAddress[] = [];
      server.on('tunnel', (_req, source: SocksAddress) => tunnels.push(source));
      const c = await client(port);
      c.write(Buffer.concat([header, hex('05 01 00'), encodeRequest(1, v4(LOCAL, t.port)), ascii('hello')]));
      expect(toHex(await c.read(2))).to.equal('05 00');
      expect(toHex(await c.read(10))).to.match(SUCCESS);
      expect((await c.read(5)).toString()).to.equal('hello');
      expect(seen).to.deep.equal([{ source: src, local: dst }]);
      expect(tunnels).to.deep.equal([src]);
      expect(errors).to.deep.equal([]);
    });
  }

  it('methods(ctx) and the request hook decide on the header\'s source, not the balancer\'s', async () => {
    const trusted = parseCidr('203.0.113.0/24');
    const { port } = await startServer({
      proxyProtocol: 'v1',
      methods: (ctx) => (ctx.source && trusted.contains(ctx.source.host) ? [none()] : [userpass({ users: { alice: 's3cret' } })]),
      onRequest: (ctx) => {
        if (ctx.source.host !== '203.0.113.7') ctx.deny(0x02);
        else ctx.deny(0x05); // a distinct answer for the trusted client, without dialling
      },
    });
    const inside = await client(port);
    inside.write(Buffer.concat([header1, hex('05 01 00')]));
    expect(toHex(await inside.read(2))).to.equal('05 00');
    inside.write(encodeRequest(1, v4('192.0.2.1', 80)));
    expect(toHex(await inside.read(10))).to.equal('05 05 00 01 00 00 00 00 00 00');

    const outside = await client(port);
    outside.write(Buffer.concat([encodeProxyHeaderV1({ source: v4('192.0.2.9', 5555), destination: v4('198.51.100.1', 1080) }), hex('05 01 00')]));
    // no-auth is not offered to this source: 05 FF.
    expect(toHex(await outside.read(2))).to.equal('05 ff');
  });

  it('v2 LOCAL and v1 UNKNOWN keep the socket\'s real addresses', async () => {
    const seen: SocksAddress[] = [];
    const { port } = await startServer({ proxyProtocol: 'any', onRequest: (ctx) => { seen.push(ctx.source); ctx.deny(0x02); } });
    for (const h of [encodeProxyHeaderV2({ command: 'local' }), encodeProxyHeaderV1()]) {
      const c = await client(port);
      c.write(Buffer.concat([h, hex('05 01 00'), encodeRequest(1, v4('192.0.2.1', 80))]));
      expect(toHex(await c.read(12))).to.equal('05 00 05 02 00 01 00 00 00 00 00 00');
      expect(seen.pop()).to.deep.equal(v4(LOCAL, c.socket.localPort!));
    }
  });

  it('a client without the header is closed without a byte (clientError)', async () => {
    const { server, port, errors } = await startServer({ proxyProtocol: 'v1' });
    const c = await client(port);
    c.write(hex('05 01 00'));
    expect(toHex(await c.readToEnd())).to.equal('');
    await waitFor(() => errors.length === 1 && server.connections === 0, 3000, 'clientError and close');
    expect(errors[0]).to.be.instanceOf(RemoteProtocolError);
    expect(errors[0]!.code).to.equal('ERR_SOCKS_PROTOCOL');
  });

  it('a v2 header on a v1-only listener is closed without a byte', async () => {
    const { port, errors } = await startServer({ proxyProtocol: 'v1' });
    const c = await client(port);
    c.write(Buffer.concat([header2, hex('05 01 00')]));
    expect(toHex(await c.readToEnd())).to.equal('');
    await waitFor(() => errors.length === 1, 3000, 'clientError');
  });

  it('an untrusted sender (not in proxyProtocolFrom) is closed without a byte; a trusted one is served', async () => {
    const untrusted = await startServer({ proxyProtocol: 'v1', proxyProtocolFrom: [parseCidr('10.0.0.0/8')] });
    const c = await client(untrusted.port);
    c.write(Buffer.concat([header1, hex('05 01 00')]));
    expect(toHex(await c.readToEnd())).to.equal('');
    await waitFor(() => untrusted.errors.length === 1, 3000, 'clientError');
    expect(untrusted.errors[0]!.code).to.equal('ERR_SOCKS_DENIED');

    const trusted = await startServer({ proxyProtocol: 'v1', proxyProtocolFrom: [parseCidr('10.0.0.0/8'), parseCidr('127.0.0.0/8')] });
    const d = await client(trusted.port);
    d.write(Buffer.concat([header1, hex('05 01 00')]));
    expect(toHex(await d.read(2))).to.equal('05 00');
  });

  it('the handshake deadline covers the header', async () => {
    const { server, port, errors } = await startServer({ proxyProtocol: 'v1', handshakeTimeout: 200 });
    const c = await client(port);
    c.write(ascii('PROXY TCP4 203.0.113.7'));
    const t0 = Date.now();
    expect(toHex(await c.readToEnd(3000))).to.equal('');
    expect(Date.now() - t0).to.be.below(2000);
    await waitFor(() => errors.length === 1 && server.connections === 0, 3000, 'timeout clientError');
    expect(errors[0]!.code).to.equal('ERR_SOCKS_TIMEOUT');
  });

  it('off by default: a PROXY line is not SOCKS and is closed', async () => {
    const { port } = await startServer({});
    const c = await client(port);
    c.write(Buffer.concat([header1, hex('05 01 00')]));
    expect(toHex(await c.readToEnd())).to.equal('');
  });

  /** A Duplex the test feeds chunk by chunk; what the server writes is collected. */
  function fakeSocket(): { stream: Duplex; written: () => string } {
    const out: Buffer[] = [];
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    });
    return { stream, written: () => toHex(Buffer.concat(out)) };
  }

  for (const [name, header] of [['v1', header1], ['v2', header2]] as const) {
    it(`${name}: header + greeting + request at every split reach the engine intact`, async () => {
      const seen: SocksAddress[] = [];
      const server = new SocksServer({ proxyProtocol: 'any', onRequest: (ctx) => { seen.push(ctx.source); ctx.deny(0x02); } });
      servers.push(server);
      const input = Buffer.concat([header, hex('05 01 00'), encodeRequest(1, v4('192.0.2.1', 80))]);
      const cuts = splits(input);
      for (const { name: cut, chunks } of cuts) {
        const { stream, written } = fakeSocket();
        server.handle(stream, { remoteAddress: '10.9.9.9', remotePort: 9, localAddress: '10.9.9.10', localPort: 1080 });
        for (const chunk of chunks) {
          stream.push(chunk);
          await new Promise((r) => setImmediate(r));
        }
        await waitFor(() => written().length >= 35, 2000, `reply at ${cut}`);
        expect(written(), cut).to.equal('05 00 05 02 00 01 00 00 00 00 00 00');
        stream.destroy();
      }
      expect(seen).to.have.length(cuts.length);
      expect(seen.every((s) => s.host === (name === 'v1' ? '203.0.113.7' : '2001:db8::7'))).to.equal(true);
    });
  }
});
