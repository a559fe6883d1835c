/**
 * squidHelper(): Squid's basic-auth helper protocol (escaping, replies,
 * kv-pairs) and the helper pool's failure handling, against a fake helper
 * written here (a small Node script): one that dies, one that hangs, one that
 * writes garbage, one that answers concurrent requests out of order, and one
 * that counts what it is asked (for the cache and the bounded queue).
 */
import { expect } from 'chai';
import { squidHelper, escapeField, unescapeField, encodeHelperRequest, parseHelperReply, parseKvPairs, type SquidHelper } from '../../methods/squid-helper/index.js';
import { VerdictCache } from '../../methods/squid-helper/cache.js';
import { tempDir } from '../support/interop.js';

/**
 * The fake helper. Mode in argv[2]:
 *   ok        OK for password "right", ERR otherwise; `count` lines on stderr
 *   die       answers one request, then exits 3
 *   hang      reads and never answers
 *   garbage   answers "HELLO there"
 *   reverse   concurrent form: collects two requests, answers the second first
 *   slow      like ok, after 150 ms per request
 * Every mode appends each raw request line to the file in argv[3] when given.
 */
const FAKE = `
const fs = require('node:fs');
const [mode, log] = process.argv.slice(2);
let buf = '';
const held = [];
const answer = (line) => {
  const parts = line.split(' ');
  const concurrent = mode === 'reverse';
  const id = concurrent ? parts.shift() + ' ' : '';
  const [user, pass] = parts.map(decodeURIComponent);
  return id + (pass === 'right' ? 'OK user=' + encodeURIComponent(user.toUpperCase()) : 'ERR message="wrong password"') + '\\n';
};
process.stdin.setEncoding('utf8').on('data', (c) => {
  buf += c;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (log) fs.appendFileSync(log, line + '\\n');
    if (mode === 'hang') continue;
    if (mode === 'garbage') { process.stdout.write('HELLO there\\n'); continue; }
    if (mode === 'die') { process.stdout.write(answer(line), () => process.exit(3)); continue; }
    if (mode === 'slow') { setTimeout(() => process.stdout.write(answer(line)), 150); continue; }
    if (mode === 'reverse') { held.push(line); if (held.length === 2) { process.stdout.write(answer(held[1]) + answer(held[0])); held.length = 0; } continue; }
    process.stderr.write('count\\n');
    process.stdout.write(answer(line));
  }
});
`;

describe('methods: Squid helper protocol', () => {
  it('escapes user and password so that spaces, %, newlines and non-ASCII survive (and unescapes Squid\'s)', () => {
    expect(escapeField('a b%c\nd')).to.equal('a%20b%25c%0Ad');
    expect(escapeField('naïve')).to.equal('na%C3%AFve');
    expect(escapeField('A-z_0.9~')).to.equal('A-z_0.9~');
    expect(unescapeField(escapeField('p w%x\t€'))).to.equal('p w%x\t€');
    expect(unescapeField('bob%20smith')).to.equal('bob smith');
    expect(encodeHelperRequest('al ice', 'p w')).to.equal('al%20ice p%20w\n');
    expect(encodeHelperRequest('alice', 'pw', 7)).to.equal('7 alice pw\n');
  });

  it('parses OK/ERR/BH, with kv-pairs, old-style messages and channel IDs', () => {
    expect(parseHelperReply('OK', false)).to.deep.equal({ channel: undefined, result: 'OK', kv: {} });
    expect(parseHelperReply('OK ', false)?.result).to.equal('OK');
    expect(parseHelperReply('ERR Wrong password', false)).to.deep.include({ result: 'ERR', message: 'Wrong password' });
    expect(parseHelperReply('OK user=bob group="a b" message="say \\"hi\\""', false)?.kv).to.deep.equal({ user: 'bob', group: 'a b', message: 'say "hi"' });
    expect(parseHelperReply('12 ERR message=nope', true)).to.deep.include({ channel: 12, result: 'ERR', kv: { message: 'nope' } });
    expect(parseHelperReply('3 BH', true)).to.deep.include({ channel: 3, result: 'BH' });
    expect(parseHelperReply('OK', true), 'concurrent reply without an ID').to.equal(undefined);
    expect(parseHelperReply('HELLO', false)).to.equal(undefined);
    expect(parseHelperReply('OKAY', false)).to.equal(undefined);
    expect(parseKvPairs('a=1 b')).to.equal(undefined);
  });

  it('the verdict cache is keyed by an HMAC, never the password, and honours both TTLs', () => {
    let now = 0;
    const c = new VerdictCache(1000, 100, 10, () => now);
    c.set('alice', 'hunter2', { ok: true, identity: 'alice' });
    c.set('alice', 'wrong', { ok: false });
    expect(c.keys().join(' ')).to.not.match(/hunter2|alice|wrong/);
    expect(c.get('alice', 'hunter2')).to.deep.equal({ ok: true, identity: 'alice' });
    expect(c.get('alic', 'ehunter2'), 'boundaries count').to.equal(undefined);
    now = 150;
    expect(c.get('alice', 'wrong'), 'negative TTL over').to.equal(undefined);
    expect(c.get('alice', 'hunter2')).to.not.equal(undefined);
    now = 1001;
    expect(c.get('alice', 'hunter2'), 'positive TTL over').to.equal(undefined);
    for (let i = 0; i < 50; i++) c.set(`u${i}`, 'right', { ok: true });
    expect(c.size).to.equal(10);
  });
});

describe('methods: squidHelper pool with a fake helper', function () {
  // Helpers are node processes: slow to start on a busy machine, hence the 10 s helper timeout.
  this.timeout(40000);
  const tmp = tempDir('sockskit-helper-');
  const script = tmp.write('fake-helper.js', FAKE);
  const open: SquidHelper[] = [];
  const logs: string[] = [];
  const helper = (mode: string, o: Partial<Parameters<typeof squidHelper>[0]> = {}, log?: string): SquidHelper => {
    const h = squidHelper({ command: process.execPath, args: [script, mode, ...(log ? [log] : [])], children: 1, timeout: 10000, ttl: 0, negativeTtl: 0, onLog: (l) => logs.push(l), ...o });
    open.push(h);
    return h;
  };
  const result = (p: Promise<unknown>): Promise<unknown> => p.catch((e: Error) => `error: ${e.message}`);
  afterEach(() => {
    for (const h of open.splice(0)) h.close();
    logs.length = 0;
  });
  after(() => tmp.cleanup());

  it('OK gives the identity (the helper\'s user= when it sends one), ERR a refusal', async () => {
    const h = helper('ok');
    expect(await h('alice', 'right')).to.equal('ALICE');
    expect(await h('alice', 'nope')).to.equal(false);
    expect(await h('al ice%', 'right'), 'escaped both ways').to.equal('AL ICE%');
    expect(h.stats()).to.include({ requests: 3, ok: 2, err: 1, running: 1 });
  });

  it('a helper that dies is restarted; the request it held fails, later ones work', async () => {
    const h = helper('die');
    expect(await h('alice', 'right')).to.equal('ALICE');
    // The process exits right after its answer: the next request either
    // finds it dead (fails) or waits for the restart.
    const outcomes: unknown[] = [];
    for (let i = 0; i < 3; i++) outcomes.push(await result(h('alice', 'right')));
    expect(outcomes).to.include('ALICE');
    expect(h.stats().restarts).to.be.at.least(1);
    expect(logs.some((l) => /exited with status 3; restarting in \d+ ms/.test(l))).to.equal(true);
  });

  it('a helper that hangs: the login fails at the timeout and the helper is replaced', async () => {
    const h = helper('hang', { timeout: 300 });
    const t0 = Date.now();
    expect(await result(h('alice', 'right'))).to.match(/no answer within 300 ms/);
    expect(Date.now() - t0).to.be.within(250, 5000);
    expect(h.stats()).to.include({ timeouts: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.stats().restarts, 'a one-at-a-time helper that owes an answer is restarted').to.equal(1);
  });

  it('a helper that writes garbage is ended and restarted, and the garbage is never logged', async () => {
    const h = helper('garbage');
    expect(await result(h('alice', 'right'))).to.match(/auth helper: helper wrote a line that is not a reply/);
    expect(logs.join('\n')).to.not.include('HELLO');
  });

  it('a helper that cannot be run fails logins with a reason and is retried with a growing delay', async () => {
    const h = squidHelper({ command: tmp.dir + '/no-such-helper', timeout: 500, children: 1, onLog: (l) => logs.push(l) });
    open.push(h);
    expect(await result(h('alice', 'right'))).to.match(/^error: auth helper: (helper cannot run: ENOENT|no answer within 500 ms)/);
    const delays = (): number[] => logs.map((l) => /restarting in (\d+) ms/.exec(l)?.[1]).filter(Boolean).map(Number);
    for (let i = 0; i < 60 && delays().length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(delays().length).to.be.at.least(2);
    expect(delays()[1]!).to.be.greaterThan(delays()[0]!);
  });

  it('the concurrent form: answers out of order reach the right requests', async () => {
    const h = helper('reverse', { concurrency: 4 });
    const [a, b] = await Promise.all([h('alice', 'right'), h('bob', 'wrong')]);
    expect([a, b]).to.deep.equal(['ALICE', false]);
    const [c, d] = await Promise.all([h('carol', 'wrong'), h('dave', 'right')]);
    expect([c, d]).to.deep.equal([false, 'DAVE']);
  });

  it('caches OK for ttl and ERR for negativeTtl, asking the helper again after', async () => {
    const log = tmp.write('asked-cache', '');
    const h = helper('ok', { ttl: 400, negativeTtl: 100 }, log);
    const asked = async () => (await import('node:fs')).readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).length;
    expect(await h('alice', 'right')).to.equal('ALICE');
    expect(await h('alice', 'right')).to.equal('ALICE');
    expect(await h('alice', 'nope')).to.equal(false);
    expect(await h('alice', 'nope')).to.equal(false);
    expect(await asked()).to.equal(2);
    await new Promise((r) => setTimeout(r, 150));
    expect(await h('alice', 'nope')).to.equal(false);
    expect(await h('alice', 'right')).to.equal('ALICE');
    expect(await asked(), 'ERR expired, OK still cached').to.equal(3);
    expect(h.stats().cacheHits).to.equal(3);
  });

  it('a bounded queue: past `queue` waiting logins, a login fails at once', async () => {
    const h = helper('slow', { queue: 2 });
    const first = h('a', 'right');
    const waiting = [h('b', 'right'), h('c', 'right')];
    const t0 = Date.now();
    expect(await result(h('d', 'right'))).to.equal('error: auth helper queue full');
    expect(Date.now() - t0).to.be.below(100);
    expect(await Promise.all([first, ...waiting])).to.deep.equal(['A', 'B', 'C']);
    expect(h.stats()).to.include({ queueFull: 1 });
  });

  it('a client that leaves: its waiting request is dropped, an answered one does not cost a helper', async () => {
    const log = tmp.write('asked-left', '');
    const h = helper('slow', {}, log);
    const busy = h('a', 'right');
    const ac = new AbortController();
    const left = h('b', 'right', { signal: ac.signal });
    ac.abort();
    expect(await result(left)).to.equal('error: auth helper: the client left');
    expect(await busy).to.equal('A');
    const fs = await import('node:fs');
    expect(fs.readFileSync(log, 'utf8')).to.equal('a right\n');
    const ac2 = new AbortController();
    const inFlight = h('c', 'right', { signal: ac2.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac2.abort();
    await result(inFlight);
    expect(await h('d', 'right')).to.equal('D');
    expect(h.stats().restarts, 'no helper killed for a client that left').to.equal(0);
  });

  it('close() ends the helpers and fails what waits', async () => {
    const h = helper('hang', { timeout: 5000 });
    const p = result(h('alice', 'right'));
    await new Promise((r) => setTimeout(r, 50));
    h.close();
    expect(await p).to.match(/^error: auth helper/);
    expect(h.stats().running).to.equal(0);
    expect(await h('alice', 'right'), 'closed: refuses').to.equal(false);
  });
});
