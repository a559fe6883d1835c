/**
 * Control characters in peer-supplied names: refused in DOMAINNAME (SOCKS5
 * request and UDP header) and SOCKS4a hostnames, as an empty name is (04 /
 * 5B), so a client cannot forge log lines; and every peer string that reaches
 * a log goes through printable().
 */
import { expect } from 'chai';
import { hex, toHex } from '../support/helpers.js';
import { ServerHandshake, ServerAction } from '../../lib/protocol/server-handshake.js';
import { decodeUdpDatagram, formatAddress } from '../../lib/protocol/codec/index.js';
import { printable } from '../../lib/protocol/printable.js';
import { SocksError } from '../../lib/protocol/errors.js';
import { none } from '../../methods/none.js';

function run(input: Buffer): { written: string; error: SocksError | undefined; closed: boolean; requested: boolean } {
  const engine = new ServerHandshake({ methods: [none()], socks4: true });
  const actions: ServerAction[] = engine.receive(input);
  const written = Buffer.concat(actions.flatMap((a) => (a.type === 'write' ? [a.data] : [])));
  const close = actions.find((a) => a.type === 'close') as { error?: SocksError } | undefined;
  return { written: toHex(written), error: close?.error, closed: close !== undefined, requested: actions.some((a) => a.type === 'request') };
}

const name = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length]), b]).toString('hex');
};

describe('control characters in names', function () {
  const bad = ['evil.example\r\nINFO forged line', 'a\x1b[31mred', 'nul\x00inside', 'tab\there', 'del\x7f', 'c1\u0085next-line'];

  for (const n of bad) {
    it(`SOCKS5 DOMAINNAME ${JSON.stringify(n)} → 04, like an empty name`, () => {
      const r = run(hex(`05 01 00  05 01 00 03 ${name(n)} 00 50`));
      expect(r.requested).to.equal(false);
      expect(r.written).to.equal('05 00 05 04 00 01 00 00 00 00 00 00');
      expect(r.closed).to.equal(true);
      expect(r.error?.code).to.equal('ERR_SOCKS_BAD_ADDRESS');
    });
    // A NUL ends the SOCKS4a field itself: no such name can be sent.
    if (!n.includes('\x00')) it(`SOCKS4a hostname ${JSON.stringify(n)} → 5B, like an empty name`, () => {
      const host = Buffer.from(n + '\0').toString('hex');
      const r = run(hex(`04 01 00 50 00 00 00 01 00 ${host}`));
      expect(r.requested).to.equal(false);
      expect(r.written).to.equal('00 5b 00 00 00 00 00 00');
      expect(r.error?.code).to.equal('ERR_SOCKS_BAD_ADDRESS');
    });
  }

  it('UDP header DOMAINNAME with CR LF: the datagram does not decode', () => {
    expect(() => decodeUdpDatagram(hex(`00 00 00 03 ${name('a\r\nb')} 00 35 ff`))).to.throw(SocksError);
  });

  it('ordinary names (UTF-8 included) still pass', () => {
    for (const n of ['example.com', 'xn--bcher-kva.example', 'bücher.example', '_srv.example']) {
      const r = run(hex(`05 01 00  05 01 00 03 ${name(n)} 00 50`));
      expect(r.requested, n).to.equal(true);
    }
  });

  it('printable() escapes every control character and leaves the rest', () => {
    expect(printable('a\r\nb\x1b[0m\x00\x7f\u0085z')).to.equal('a\\r\\nb\\x1b[0m\\x00\\x7f\\x85z');
    expect(printable('bücher.example:80')).to.equal('bücher.example:80');
    expect(printable('back\\slash')).to.equal('back\\\\slash');
  });

  it('formatAddress() of a domain with control characters is printable', () => {
    expect(formatAddress({ type: 'domain', host: 'x\r\ny', port: 1 })).to.equal('x\\r\\ny:1');
  });
});
