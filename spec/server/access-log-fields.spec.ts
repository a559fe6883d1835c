/**
 * The access log's fields: the attempted user name on an auth failure, the
 * SOCKS4 USERID as `userid`, the rule that decided, `error=ruleset` for every
 * rule block, SOCKS4 refused for want of authentication as its own class,
 * one set of field names for text and JSON, U+2028/U+2029 escaped in JSON,
 * and a client that reset before accept never logged as 0.0.0.0:0.
 */
import { expect } from 'chai';
import net from 'node:net';
import { SocksServer, none, parseRules, userpass, formatText, formatJson, logFields, type ConnectionRecord, type SocksServerOptions } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { talk, waitFor } from '../support/server.js';

const port16 = (p: number) => Buffer.from([p >> 8, p & 255]);
const domainReq = (name: string, port: number) => Buffer.concat([hex('05 01 00 03'), Buffer.from([name.length]), Buffer.from(name, 'latin1'), port16(port)]);

async function withServer<T>(options: SocksServerOptions, f: (port: number, recs: ConnectionRecord[], server: SocksServer) => Promise<T>): Promise<T> {
  const server = new SocksServer(options);
  const recs: ConnectionRecord[] = [];
  server.on('connectionEnd', (r: ConnectionRecord) => recs.push(r));
  server.on('clientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await f((server.address() as net.AddressInfo).port, recs, server);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function oneRecord(options: SocksServerOptions, bytes: Buffer): Promise<ConnectionRecord> {
  return withServer(options, async (port, recs) => {
    await talk(port, bytes);
    await waitFor(() => recs.length === 1, 3000, 'the record');
    return recs[0]!;
  });
}

describe('access-log fields', () => {
  it('an auth failure logs the attempted user name (escaped in text), never the password', async () => {
    const name = 'mal lory\u2028';
    const u = Buffer.from(name);
    const rec = await oneRecord({ methods: [userpass({ users: { alice: 's3cret' } })] }, Buffer.concat([hex('05 01 02 01'), Buffer.from([u.length]), u, hex('05 77726f6e67')]));
    expect(rec).to.deep.include({ end: 'auth', error: 'auth', identity: undefined, user: name });
    expect(formatText(rec)).to.include(' user=mal\\x20lory\\xe2\\x80\\xa8 ');
    expect(formatText(rec) + formatJson(rec)).to.not.include('wrong');
  });

  it('rule=N names the rule that decided; every rule block is error=ruleset whatever its reply', async () => {
    const rules = parseRules([{ action: 'block', to: '.internal', reply: 5 }, { action: 'block', to: 'other.test', reply: 4 }, { action: 'pass' }]);
    const a = await oneRecord({ rules }, Buffer.concat([hex('05 01 00'), domainReq('db.internal', 80)]));
    expect(a).to.deep.include({ reply: 5, error: 'ruleset', rule: '0' });
    const b = await oneRecord({ rules }, Buffer.concat([hex('05 01 00'), domainReq('other.test', 80)]));
    expect(b).to.deep.include({ reply: 4, error: 'ruleset', rule: '1' });
    expect(formatText(b)).to.include(' rule=1 ');
    // A rule's own id names it.
    const named = await oneRecord({ rules: parseRules([{ action: 'block', id: 'no-internal', to: '.internal' }, { action: 'pass' }]) }, Buffer.concat([hex('05 01 00'), domainReq('db.internal', 80)]));
    expect(named.rule).to.equal('no-internal');
    expect(() => parseRules([{ action: 'pass', id: 'a b' }])).to.throw(/rules\[0\]\.id: expected 1 to 64/);
    // No rule matched: rule=none.
    const c = await oneRecord({ rules: parseRules([{ action: 'pass', port: 1 }]) }, Buffer.concat([hex('05 01 00'), domainReq('x.test', 80)]));
    expect(c).to.deep.include({ reply: 2, error: 'ruleset', rule: 'none' });
  });

  it('SOCKS4 refused because authentication is required: its own class, not protocol', async () => {
    const rec = await oneRecord({ methods: [userpass({ users: { alice: 'a' } })] }, hex('04 01 00 50 7f 00 00 01 61 6c 69 63 65 00'));
    expect(rec).to.deep.include({ error: 'socks4', reply: undefined });
  });

  it('text and JSON carry the same field names', async () => {
    const rec = await oneRecord({ methods: [none()], rules: parseRules([{ action: 'block' }]) }, Buffer.concat([hex('05 01 00'), domainReq('x.test', 80)]));
    const textNames = formatText(rec).trim().split(' ').slice(1).map((kv) => kv.slice(0, kv.indexOf('=')));
    const jsonNames = Object.keys(JSON.parse(formatJson(rec))).filter((k) => k !== 'time');
    // Text writes absent fields as '-'; JSON leaves them out: the JSON names are the text names that are present.
    expect(textNames).to.include.members(jsonNames);
    expect(textNames).to.deep.equal(logFields(rec).map(([k]) => k).filter((k) => k !== 'time'));
    for (const k of ['bytesUp', 'bytesDown', 'durationMs', 'handshakeMs', 'rule', 'user', 'userid']) expect(textNames).to.include(k);
  });

  it('JSON escapes U+2028 and U+2029 (a JavaScript line terminator in older parsers)', () => {
    const rec = { time: 't', listener: 'l', client: 'c', method: 'none', identity: undefined, command: 'connect', destination: 'a\u2028b\u2029c:80', dialled: undefined, reply: 2, bytesUp: 0, bytesDown: 0, durationMs: 1, handshakeMs: 1, end: 'denied', error: 'ruleset' } as ConnectionRecord;
    const line = formatJson(rec);
    expect(line).to.not.match(/[\u2028\u2029]/);
    expect(line).to.include('a\\u2028b\\u2029c:80');
    expect(JSON.parse(line).destination).to.equal('a\u2028b\u2029c:80');
  });
});
