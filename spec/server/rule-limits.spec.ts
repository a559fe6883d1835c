/**
 * Per-user limits as rule fields (issue 20 item 4): parsed by parseRules, and
 * a request's limits are those of the pass rule deciding it, the tightest of
 * the pass rules that still may when it arrives, the flags for a rule
 * without a field. Buckets are per user and rate; under --workers each
 * worker gets its share of a rule's values.
 */
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { ConnectionLimits, compileRules, parseRules, type RuleInput } from '../../lib/index.js';
import { workerOptions } from '../../lib/service/worker-limits.js';

const alice: RuleInput = { client: '127.0.0.1', method: 'userpass', identity: 'alice', command: 'connect', host: 'example.test', hostType: 'domain', port: 443 };
const FLAGS = { maxConnections: 3, rate: 1024 * 1024 };

describe('rule fields maxConnections and rate', () => {
  it('parseRules: numbers, K/M/G rates, unlimited; only on pass rules', () => {
    const [a, b, c] = parseRules([
      { action: 'pass', user: 'alice', maxConnections: 2, rate: '256K' },
      { action: 'pass', maxConnections: '5', rate: 1000 },
      { action: 'pass', user: 'admin', maxConnections: 'unlimited', rate: 'unlimited' },
    ]);
    expect([a!.maxConnections, a!.rate, b!.maxConnections, b!.rate, c!.maxConnections, c!.rate]).to.deep.equal([2, 262144, 5, 1000, Infinity, Infinity]);
    expect(() => parseRules([{ action: 'pass' }, { action: 'pass', maxConnections: -1 }])).to.throw('rules[1].maxConnections: expected a whole number');
    expect(() => parseRules([{ action: 'pass', rate: [1] }])).to.throw('rules[0].rate: expected a rate such as 256K');
    expect(() => parseRules([{ action: 'block', maxConnections: 1 }])).to.throw('rules[0].maxConnections: only a pass rule sets limits');
    expect(parseRules([{ action: 'pass' }])[0]).not.to.have.any.keys('maxConnections', 'rate');
  });

  it('the deciding rule sets the limits; a rule without a field falls back to the flag; unlimited overrides the flag', () => {
    const p = compileRules(parseRules([
      { action: 'pass', user: 'alice', maxConnections: 1 },
      { action: 'pass', user: 'carol', rate: '64K' },
      { action: 'pass', user: 'admin', maxConnections: 'unlimited', rate: 'unlimited' },
      { action: 'pass' },
    ]));
    expect(p.limits).to.equal(true);
    const as = (identity: string) => p.userLimits({ ...alice, identity }, false, FLAGS);
    expect(as('alice')).to.deep.equal({ maxConnections: 1, rate: FLAGS.rate });
    expect(as('carol')).to.deep.equal({ maxConnections: 3, rate: 65536 });
    expect(as('admin')).to.deep.equal({});
    expect(as('bob')).to.deep.equal(FLAGS);
    expect(compileRules(parseRules([{ action: 'pass', via: 'direct' }])).limits).to.equal(false);
  });

  it('before the lookup, a name whose address decides gets the tightest of the rules that may pass it; an address, its rule', () => {
    const p = compileRules(parseRules([
      { action: 'pass', user: 'alice', to: '10.0.0.0/8', maxConnections: 5, rate: '10M' },
      { action: 'pass', user: 'alice', maxConnections: 2, rate: '1M' },
    ]));
    expect(p.userLimits(alice, false, {}), 'a name').to.deep.equal({ maxConnections: 2, rate: 1024 * 1024 });
    expect(p.userLimits({ ...alice, host: '10.1.2.3', hostType: 'ipv4' }, false, {}), 'inside').to.deep.equal({ maxConnections: 5, rate: 10 * 1024 * 1024 });
    expect(p.userLimits({ ...alice, host: '192.0.2.1', hostType: 'ipv4' }, false, {}), 'outside').to.deep.equal({ maxConnections: 2, rate: 1024 * 1024 });
  });

  it('UDP ASSOCIATE (no destination yet): the tightest of the pass rules any destination may meet; a surely blocked request keeps the flags', () => {
    const p = compileRules(parseRules([
      { action: 'pass', user: 'alice', port: 53, maxConnections: 1 },
      { action: 'pass', user: 'alice', maxConnections: 4 },
      { action: 'block' },
    ]));
    expect(p.userLimits({ ...alice, command: 'udp', host: '0.0.0.0', hostType: 'ipv4', port: 0 }, true, FLAGS)).to.deep.equal({ maxConnections: 1, rate: FLAGS.rate });
    expect(p.userLimits({ ...alice, identity: 'bob' }, false, FLAGS)).to.deep.equal(FLAGS);
  });

  it('a user has one bucket per rate: tunnels at the same rate share it, another rate has its own', () => {
    const limits = new ConnectionLimits({ descriptors: 100 });
    const s = new PassThrough();
    expect(limits.admitUser(s, 'alice', 1)).to.equal(true);
    expect(limits.admitUser(new PassThrough(), 'alice', 1), 'past the cap').to.equal(false);
    const [slow1, slow2, fast] = [limits.userThrottle('alice', 1024), limits.userThrottle('alice', 1024), limits.userThrottle('alice', 2048)];
    // The burst is at least 16 KiB: the first takes it all.
    expect(slow1('up', 16 * 1024)).to.equal(0);
    expect(slow2('up', 1024), 'the same bucket, empty').to.be.above(900);
    expect(fast('up', 1024), 'its own bucket').to.equal(0);
    expect(slow1('down', 1024), 'the other direction').to.equal(0);
    s.destroy();
  });

  it('a user\'s count is released with its connection (release()), without a close listener of its own', () => {
    const limits = new ConnectionLimits({ descriptors: 100 });
    const [a, b] = [new PassThrough(), new PassThrough()];
    limits.admit(a, '127.0.0.1', false);
    limits.admit(b, '127.0.0.1', false);
    const listeners = a.listenerCount('close');
    expect(limits.admitUser(a, 'alice', 1)).to.equal(true);
    expect(a.listenerCount('close'), 'a close listener per connection').to.equal(listeners);
    expect(limits.admitUser(b, 'alice', 1), 'past the cap').to.equal(false);
    // What the server calls at the connection's close.
    limits.release(a);
    expect(limits.admitUser(b, 'alice', 1)).to.equal(true);
    limits.release(b);
    limits.release(b);
    expect(limits.admitUser(a, 'alice', 1), 'released once, twice harmless').to.equal(true);
  });

  it('--workers: each worker gets its share of a rule\'s maxConnections and rate; unlimited stays', () => {
    const rules = parseRules([{ action: 'pass', user: 'alice', maxConnections: 3, rate: 1000 }, { action: 'pass', maxConnections: 'unlimited' }, { action: 'pass' }]);
    const [w0, w1] = [0, 1].map((slot) => workerOptions({ rules }, 2, slot).rules as typeof rules);
    expect([w0![0]!.maxConnections, w1![0]!.maxConnections, w0![0]!.rate, w1![0]!.rate]).to.deep.equal([2, 1, 500, 500]);
    expect([w0![1]!.maxConnections, w0![2]]).to.deep.equal([Infinity, rules[2]]);
  });
});
