/**
 * An unspecified destination (0.0.0.0/8, ::, ::ffff:0.0.0.0/104) reaches the
 * local host on Linux: it is never a valid destination for CONNECT, UDP or a
 * BIND peer, whatever form it comes in, so it cannot get past a deny rule
 * for the loopback. Refused with 02 (SOCKS4: 5B), with or without rules.
 */
import { expect } from 'chai';
import { hex, toHex } from '../support/helpers.js';
import { startServer, Conn, udpEcho, portHex, openAssociation } from '../support/udp-bind.js';
import { startTarget, echo } from '../support/server.js';
import { parseCidr } from '../../lib/server/rules.js';
import { isUnspecified } from '../../lib/protocol/codec/address.js';
import type { SocksServerOptions } from '../../lib/server/server.js';

/** A lookup that knows two names, both unspecified; anything else fails. */
const fakeLookup = ((host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a?: string, f?: number) => void) => {
  if (host === '0' || host === '0.0.0.0') return cb(null, '0.0.0.0', 4);
  const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  cb(e);
}) as unknown as SocksServerOptions['lookup'];

const denyLoopback = { deny: [parseCidr('127.0.0.0/8'), parseCidr('::1/128')] };

function name(n: string): string {
  return `03 ${n.length.toString(16).padStart(2, '0')} ${Buffer.from(n).toString('hex')}`;
}

describe('unspecified destinations (0.0.0.0/8, ::, ::ffff:0.0.0.0/104) are refused', function () {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('isUnspecified: the ranges, in every text form', () => {
    for (const a of ['0.0.0.0', '0.1.2.3', '0.255.255.255', '::', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0', '::ffff:0:0', '::ffff:0.0.0.1', '::ffff:0.255.1.1']) {
      expect(isUnspecified(a), a).to.equal(true);
    }
    for (const a of ['1.0.0.0', '127.0.0.1', '::1', '::ffff:127.0.0.1', '::ffff:1.0.0.0', 'fe80::1', '']) {
      expect(isUnspecified(a), a).to.equal(false);
    }
  });

  for (const rules of [denyLoopback, undefined]) {
    describe(rules ? 'with --deny 127.0.0.0/8 --deny ::1/128' : 'without rules', function () {
      async function setup() {
        const target = await startTarget(echo);
        cleanup.push(() => target.close());
        const s = await startServer({ rules, lookup: fakeLookup });
        cleanup.push(() => s.close());
        return { target, port: s.port };
      }
      async function ask(port: number, bytes: string, replyLength: number): Promise<string> {
        const c = await Conn.open(port);
        cleanup.push(() => c.destroy());
        c.write(hex(bytes));
        return toHex(await c.read(replyLength));
      }

      const socks5: [string, (p: number) => string][] = [
        ['SOCKS5 0.0.0.0', (p) => `01 00 00 00 00 ${portHex(p)}`],
        ['SOCKS5 0.1.2.3', (p) => `01 00 01 02 03 ${portHex(p)}`],
        ['SOCKS5 the name "0"', (p) => `${name('0')} ${portHex(p)}`],
        ['SOCKS5 ::', (p) => `04 ${'00'.repeat(16)} ${portHex(p)}`],
        ['SOCKS5 ::ffff:0.0.0.0', (p) => `04 ${'00'.repeat(10)} ff ff 00 00 00 00 ${portHex(p)}`],
      ];
      for (const [what, dst] of socks5) {
        it(`CONNECT to ${what}: 02, the local service is not reached`, async () => {
          const { target, port } = await setup();
          const r = await ask(port, `05 01 00  05 01 00 ${dst(target.port)}`, 12);
          expect(r).to.equal('05 00 05 02 00 01 00 00 00 00 00 00');
          expect(target.sockets.length, 'connections reaching the service').to.equal(0);
        });
      }

      it('CONNECT SOCKS4 0.0.0.0 and SOCKS4a "0.0.0.0": 5B, the local service is not reached', async () => {
        const { target, port } = await setup();
        expect(await ask(port, `04 01 ${portHex(target.port)} 00 00 00 00 00`, 8)).to.equal('00 5b 00 00 00 00 00 00');
        const host = Buffer.from('0.0.0.0\0').toString('hex');
        expect(await ask(port, `04 01 ${portHex(target.port)} 00 00 00 01 00 ${host}`, 8)).to.equal('00 5b 00 00 00 00 00 00');
        expect(target.sockets.length).to.equal(0);
      });

      it('UDP: datagrams to 0.0.0.0, ::, ::ffff:0.0.0.0 and the name "0" are dropped', async () => {
        const s = await startServer({ rules, lookup: fakeLookup });
        cleanup.push(() => s.close());
        const target = await udpEcho();
        cleanup.push(() => target.close());
        const { relay, cl } = await openAssociation(s.port, cleanup);
        for (const dst of [`01 00 00 00 00`, `04 ${'00'.repeat(16)}`, `04 ${'00'.repeat(10)} ff ff 00 00 00 00`, name('0')]) {
          await cl.send(Buffer.concat([hex(`00 00 00 ${dst} ${portHex(target.port)}`), Buffer.from('x')]), relay);
        }
        expect(await cl.recv(300), 'a reply through an unspecified destination').to.equal(undefined);
        expect(target.received.length).to.equal(0);
      });
    });
  }

  it('BIND: DST.ADDR the name "0" (resolving to 0.0.0.0) is refused with 02', async () => {
    const s = await startServer({ lookup: fakeLookup });
    cleanup.push(() => s.close());
    const c = await Conn.open(s.port);
    cleanup.push(() => c.destroy());
    c.write(hex(`05 01 00  05 02 00 ${name('0')} 00 00`));
    expect(toHex(await c.read(12))).to.equal('05 00 05 02 00 01 00 00 00 00 00 00');
  });

  it('BIND with DST 0.0.0.0 (any peer): a peer the rules deny is turned away, an allowed one is taken', async () => {
    const s = await startServer({ rules: { allow: [parseCidr('127.0.0.1/32')] } });
    cleanup.push(() => s.close());
    const c = await Conn.open(s.port);
    cleanup.push(() => c.destroy());
    c.write(hex('05 01 00  05 02 00 01 00 00 00 00 00 00'));
    await c.read(2);
    const lport = (await c.read(10)).readUInt16BE(8);
    const denied = await Conn.open(lport, { localAddress: '127.0.0.2' });
    cleanup.push(() => denied.destroy());
    await denied.whenClosed();
    expect(c.take().length, 'no second reply for a denied peer').to.equal(0);
    const allowed = await Conn.open(lport, { localAddress: '127.0.0.1' });
    cleanup.push(() => allowed.destroy());
    expect(toHex(await c.read(10))).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(allowed.socket.localPort!)}`);
  });
});
