/** Rule lists (first match wins, as Dante's client/socks rules): the table, the parser, and the server applying them. */
import { expect } from 'chai';
import net from 'node:net';
import { evaluateRules, evaluateBeforeLookup, parseRules, SocksServer, userpass, type RuleInput, type LookupFunction } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { RawClient, startTarget, echo } from '../support/server.js';

const KEY = 'ab'.repeat(32);

const rules = parseRules([
  { action: 'block', client: '192.0.2.0/24' },
  { action: 'block', to: '.internal', reply: 4 },
  { action: 'pass', user: 'admin' },
  { action: 'block', to: ['10.0.0.0/8', 'metadata.local'] },
  { action: 'pass', key: KEY, command: 'bind' },
  { action: 'block', command: ['bind', 'udp'], reply: 7 },
  { action: 'pass', port: '80, 443, 8000-8100' },
  { action: 'block', reply: 2 },
]);

const base: RuleInput = { client: '127.0.0.1', command: 'connect', host: 'example.test', hostType: 'domain', port: 443 };

describe('rule lists: evaluateRules (first match wins)', () => {
  const table: [string, Partial<RuleInput>, 'pass' | 'block', number, number][] = [
    // what,                                   input,                                                   action,  reply, rule
    ['client CIDR blocks first',                { client: '192.0.2.7', identity: 'admin', method: 'userpass' }, 'block', 2, 0],
    ['IPv4-mapped client matches the CIDR',     { client: '::ffff:192.0.2.7' },                           'block', 2, 0],
    ['name suffix, with its reply',             { host: 'db.corp.internal' },                             'block', 4, 1],
    ['the bare suffix name too',                { host: 'internal' },                                     'block', 4, 1],
    ['suffix is case-insensitive, trailing dot', { host: 'DB.Internal.' },                                'block', 4, 1],
    ['a suffix is not a substring',             { host: 'notinternal', port: 80 },                        'pass', 0, 6],
    ['user passes everything after rule 1',     { identity: 'admin', method: 'userpass', host: '10.1.2.3', hostType: 'ipv4', port: 22 }, 'pass', 0, 2],
    ['a binauth key is not a username',         { identity: 'admin', method: 'binauth', port: 22 },      'block', 2, 7],
    ['destination CIDR on the dialled address', { address: '10.9.9.9' },                                  'block', 2, 3],
    ['a requested IP is its own address',       { host: '10.0.0.1', hostType: 'ipv4' },                   'block', 2, 3],
    ['a name not yet resolved: CIDR undecided', { host: 'example.test' },                                 'pass', 0, 6],
    ['exact name',                              { host: 'metadata.local' },                               'block', 2, 3],
    ['key + command',                           { method: 'binauth', identity: KEY, command: 'bind', port: 22 }, 'pass', 0, 4],
    ['command block with 07',                   { command: 'udp', port: 53 },                             'block', 7, 5],
    ['port list',                               { port: 80 },                                             'pass', 0, 6],
    ['port range, inclusive',                   { port: 8100 },                                           'pass', 0, 6],
    ['outside the range',                       { port: 8101 },                                           'block', 2, 7],
  ];
  for (const [what, input, action, reply, index] of table) {
    it(what, () => {
      expect(evaluateRules(rules, { ...base, ...input })).to.deep.equal({ action, reply, index });
    });
  }

  it('before the lookup: a name rule decides, a CIDR rule that could match leaves it undecided', () => {
    expect(evaluateBeforeLookup(rules, { ...base, host: 'db.internal' })).to.deep.equal({ action: 'block', reply: 4, index: 1 });
    expect(evaluateBeforeLookup(rules, { ...base, host: 'metadata.local' })).to.deep.equal({ action: 'block', reply: 2, index: 3 });
    expect(evaluateBeforeLookup(rules, { ...base, host: 'example.test' })).to.equal(undefined);
    expect(evaluateBeforeLookup(rules, { ...base, client: '192.0.2.1' })).to.deep.equal({ action: 'block', reply: 2, index: 0 });
  });

  it('no rule matching blocks with 02 (index -1)', () => {
    expect(evaluateRules(parseRules([{ action: 'pass', port: 1 }]), base)).to.deep.equal({ action: 'block', reply: 2, index: -1 });
  });

  it('parseRules names the entry and key at fault', () => {
    const bad: [unknown, RegExp][] = [
      [{}, /^rules: expected a list/],
      [[{ action: 'allow' }], /^rules\[0\]\.action: expected pass or block, got "allow"/],
      [[{ action: 'pass' }, { action: 'block', colour: 'red' }], /^rules\[1\]\.colour: unknown key/],
      [[{ action: 'block', client: '300.1.1.1/8' }], /^rules\[0\]\.client: invalid CIDR/],
      [[{ action: 'block', port: '90-80' }], /^rules\[0\]\.port: invalid port or range "90-80"/],
      [[{ action: 'block', reply: 0 }], /^rules\[0\]\.reply: expected a SOCKS5 failure reply code 1..8/],
      [[{ action: 'pass', reply: 2 }], /^rules\[0\]\.reply: only a block rule has a reply/],
      [[{ action: 'pass', command: 'get' }], /^rules\[0\]\.command: expected connect, bind or udp/],
      [[{ action: 'pass', key: 'xyz' }], /^rules\[0\]\.key: expected a 64-hex-digit public key/],
      [[{ action: 'pass', to: 'a b' }], /^rules\[0\]\.to: invalid destination "a b"/],
    ];
    for (const [data, want] of bad) expect(() => parseRules(data)).to.throw(want);
  });
});

describe('rule lists in SocksServer', () => {
  it('decides name rules before any lookup, CIDR rules on the resolved address, and by user', async () => {
    const target = await startTarget(echo);
    const lookups: string[] = [];
    const lookup = ((h: string, _o: unknown, cb: (e: null, a: string, f: number) => void) => {
      lookups.push(h);
      cb(null, h === 'inside.test' ? '127.0.0.1' : '127.0.0.2', 4);
    }) as unknown as LookupFunction;
    const server = new SocksServer({
      methods: [userpass({ users: { alice: 'a', bob: 'b' } })],
      lookup,
      rules: parseRules([
        { action: 'block', to: '.internal', reply: 4 },
        { action: 'block', to: '127.0.0.2/32' },
        { action: 'pass', user: 'alice' },
        { action: 'block', reply: 5 },
      ]),
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const ask = async (user: string, host: string): Promise<number> => {
      const c = await RawClient.connect(port);
      const name = Buffer.from(host);
      c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), hex('01'), Buffer.from(user[0]!), hex('05 01 00 03'), Buffer.from([name.length]), name, Buffer.from([target.port >> 8, target.port & 255])]));
      await c.read(4);
      const r = await c.read(10);
      c.destroy();
      return r[1]!;
    };
    try {
      expect(await ask('alice', 'db.internal')).to.equal(4);
      expect(await ask('alice', 'elsewhere.test')).to.equal(2);
      expect(await ask('alice', 'inside.test')).to.equal(0);
      expect(await ask('bob', 'inside.test')).to.equal(5);
      // db.internal was blocked on its name and never looked up; alice reaches the CIDR rule, which needs the address;
      // bob's request is blocked whatever the address (rule 1 or rule 3): no lookup.
      expect(lookups).to.deep.equal(['elsewhere.test', 'inside.test']);
      server.reconfigure({ ...server.options, rules: parseRules([{ action: 'block', to: '.internal' }, { action: 'block', user: 'bob' }, { action: 'pass', to: '127.0.0.0/8' }]) });
      lookups.length = 0;
      expect(await ask('alice', 'x.internal')).to.equal(2);
      expect(await ask('bob', 'inside.test')).to.equal(2);
      expect(lookups).to.deep.equal([]);
      expect(await ask('alice', 'inside.test')).to.equal(0);
      expect(lookups).to.deep.equal(['inside.test']);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await target.close();
    }
  });
});
