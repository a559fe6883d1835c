/**
 * `user:` rules and the access log's identity trust only what a method
 * verified: the SOCKS4 USERID is a claim, kept as `userId` (`userid=` in the
 * log) and never matched by a `user:` rule.
 */
import { expect } from 'chai';
import { none, parseRules, userpass, identSocks4, formatText, type ConnectionRecord, type SocksServerOptions } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { startTarget, echo, RawClient, waitFor } from '../support/server.js';
import { startSocksServer } from '../support/socks-server.js';

const port16 = (p: number) => Buffer.from([p >> 8, p & 255]);
/** SOCKS4 CONNECT 127.0.0.1:port with USERID. */
const socks4 = (port: number, userId: string) => Buffer.concat([hex('04 01'), port16(port), hex('7f 00 00 01'), Buffer.from(userId), hex('00')]);

describe('user: rules match only a verified identity', () => {
  const stops: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const f of stops.splice(0).reverse()) await f();
  });

  /** One SOCKS4 CONNECT as `userId`; its CD byte and the record. */
  async function socks4Attempt(options: SocksServerOptions, userId: string): Promise<{ cd: number; rec: ConnectionRecord }> {
    const target = await startTarget(echo);
    stops.push(() => target.close());
    const s = await startSocksServer({ ...options, rules: parseRules([{ action: 'pass', user: 'admin', to: '127.0.0.1', port: target.port }, { action: 'block' }]) });
    stops.push(() => s.close());
    const recs: ConnectionRecord[] = [];
    s.server.on('connectionEnd', (r) => recs.push(r));
    const c = await RawClient.connect(s.port);
    c.write(socks4(target.port, userId));
    const reply = await c.read(8);
    c.destroy();
    await waitFor(() => recs.length === 1, 3000, 'the record');
    return { cd: reply[1]!, rec: recs[0]! };
  }

  it('a no-auth listener: SOCKS4 USERID admin does not match user: admin (5B), and is logged as userid, not identity', async () => {
    const { cd, rec } = await socks4Attempt({ methods: [none()] }, 'admin');
    expect(cd).to.equal(0x5b);
    expect(rec).to.deep.include({ method: 'socks4', identity: undefined, userid: 'admin', error: 'ruleset' });
    expect(formatText(rec)).to.include(' userid=admin ').and.to.include(' identity=- ');
  });

  it('a library server offering [userpass, none]: the same', async () => {
    const { cd, rec } = await socks4Attempt({ methods: [userpass({ users: { admin: 'pw' } }), none()] }, 'admin');
    expect(cd).to.equal(0x5b);
    expect(rec.identity).to.equal(undefined);
  });

  it("identSocks4 in mode off keeps the USERID as a claim", async () => {
    const { cd } = await socks4Attempt({ methods: [none()], socks4Identify: identSocks4({ mode: 'off' }) }, 'admin');
    expect(cd).to.equal(0x5b);
  });

  it('a SOCKS4 identity a check verified (ident verify) does match user:', async () => {
    // A socks4Identify whose check resolves stands for a verified ident answer.
    const { cd, rec } = await socks4Attempt({ methods: [none()], socks4Identify: () => ({ check: async () => 'admin' }) }, 'admin');
    expect(cd).to.equal(0x5a);
    expect(rec).to.deep.include({ identity: 'admin', userid: 'admin' });
  });

  it('RFC 1929 still matches user: (the verified username)', async () => {
    const target = await startTarget(echo);
    stops.push(() => target.close());
    const s = await startSocksServer({ methods: [userpass({ users: { admin: 'pw' } }), none()], rules: parseRules([{ action: 'pass', user: 'admin' }, { action: 'block' }]) });
    stops.push(() => s.close());
    const c = await RawClient.connect(s.port);
    stops.push(() => c.destroy());
    c.write(Buffer.concat([hex('05 01 02 01 05'), Buffer.from('admin'), hex('02'), Buffer.from('pw'), hex('05 01 00 01 7f 00 00 01'), port16(target.port)]));
    expect(await c.read(4)).to.deep.equal(hex('05 02 01 00'));
    expect((await c.read(10))[1]).to.equal(0);
  });
});
