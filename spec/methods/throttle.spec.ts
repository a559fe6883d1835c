/**
 * Login throttling: failures from one address (or on one name) answer later
 * and later, and past a limit the address is refused for a while, unchecked;
 * a legitimate user logging in from another address meanwhile is answered
 * at once. The table logic runs on a fake clock; the guesser and the user
 * run over loopback from 127.0.0.1 and 127.0.0.2.
 */
import net from 'node:net';
import { expect } from 'chai';
import { LoginThrottle } from '../../methods/throttle.js';
import { userpass } from '../../methods/userpass.js';
import { SocksServer } from '../../lib/server/server.js';
import { RawClient } from '../support/server.js';
import { hex } from '../support/helpers.js';

describe('methods: LoginThrottle', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('free failures, then a doubling delay up to the cap', () => {
    const t = new LoginThrottle({ freeFailures: 2, delay: 100, maxDelay: 500, limit: 0, now: clock });
    const delays = Array.from({ length: 7 }, () => t.failed('192.0.2.1', `u${Math.random()}`));
    expect(delays).to.deep.equal([0, 0, 100, 200, 400, 500, 500]);
    expect(t.stats()).to.include({ failures: 7, delayed: 5 });
  });

  it('past the limit a source is refused for the lockout, then admitted again', () => {
    const t = new LoginThrottle({ limit: 3, lockout: 60_000, now: clock });
    for (let i = 0; i < 3; i++) expect(t.admit('192.0.2.2', 'alice')).to.equal(true), t.failed('192.0.2.2', 'alice');
    expect(t.admit('192.0.2.2', 'alice')).to.equal(false);
    expect(t.admit('192.0.2.2', 'bob'), 'whatever the name').to.equal(false);
    expect(t.admit('192.0.2.3', 'alice'), 'another source is not refused (no userLimit)').to.equal(true);
    expect(t.stats()).to.include({ refused: 2, lockedSources: 1 });
    now += 60_001;
    expect(t.admit('192.0.2.2', 'alice')).to.equal(true);
  });

  it('a success clears the name\'s failures, not the source\'s (one valid account launders nothing)', () => {
    const t = new LoginThrottle({ freeFailures: 1, delay: 100, limit: 0, now: clock });
    t.failed('192.0.2.4', 'alice');
    t.failed('192.0.2.4', 'alice');
    t.succeeded('192.0.2.4', 'alice');
    expect(t.failed('192.0.2.5', 'alice'), 'name cleared').to.equal(0);
    t.succeeded('192.0.2.4', 'mallory');
    expect(t.failed('192.0.2.4', 'bob'), 'source kept: its third failure').to.equal(200);
  });

  it('failures are forgotten after the window; userLimit refuses a name everywhere when set', () => {
    const t = new LoginThrottle({ freeFailures: 0, delay: 100, window: 1000, limit: 0, userLimit: 2, lockout: 5000, now: clock });
    expect(t.failed('192.0.2.6', 'carol')).to.equal(100);
    now += 1001;
    expect(t.failed('192.0.2.6', 'dave'), 'source forgotten').to.equal(100);
    t.failed('192.0.2.7', 'dave');
    expect(t.admit('192.0.2.8', 'dave')).to.equal(false);
  });

  it('tables are bounded: the least recently failed entries go first', () => {
    const t = new LoginThrottle({ maxEntries: 100, now: clock });
    for (let i = 0; i < 1000; i++) t.failed(`10.0.${i >> 8}.${i & 255}`, `user${i}`);
    expect(t.stats()).to.include({ sources: 100, users: 100 });
  });
});

/** Connects from `localAddress`, sends greeting + login in one packet; resolves with the 4-byte answer (or fewer) and the time it took. */
async function attempt(port: number, localAddress: string, user: string, pass: string): Promise<{ answer: Buffer; ms: number }> {
  const c = await new Promise<RawClient>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => resolve(new RawClient(s)));
    s.once('error', reject);
  });
  const t0 = Date.now();
  c.write(Buffer.concat([hex('05 01 02 01'), Buffer.from([user.length]), Buffer.from(user), Buffer.from([pass.length]), Buffer.from(pass)]));
  try {
    const head = await c.read(2, 10000);
    const answer = Buffer.concat([head, await c.read(2, 10000).catch(() => Buffer.alloc(0))]);
    return { answer, ms: Date.now() - t0 };
  } finally {
    c.destroy();
  }
}

describe('methods: userpass with a LoginThrottle, over loopback', function () {
  this.timeout(30000);
  let server: SocksServer;
  let port: number;

  before(async () => {
    const throttle = new LoginThrottle({ freeFailures: 2, delay: 100, maxDelay: 400, limit: 7, lockout: 60_000 });
    server = new SocksServer({ methods: [userpass({ users: { alice: 'right' }, throttle })] });
    server.on('clientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('a guesser is slowed then refused while the real user logs in from another address at once', async () => {
    const FAIL = hex('05 02 01 01');
    const OK = hex('05 02 01 00');
    const guesses: number[] = [];
    const logins: number[] = [];
    const guesser = (async () => {
      for (let i = 0; i < 7; i++) {
        const g = await attempt(port, '127.0.0.1', 'alice', `guess${i}`);
        expect(g.answer, `guess ${i}`).to.deep.equal(FAIL);
        guesses.push(g.ms);
      }
    })();
    const user = (async () => {
      for (let i = 0; i < 6; i++) {
        const l = await attempt(port, '127.0.0.2', 'alice', 'right');
        expect(l.answer, `login ${i}`).to.deep.equal(OK);
        logins.push(l.ms);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await Promise.all([guesser, user]);
    console.log(`      guesses answered after ${guesses.join('/')} ms; logins from 127.0.0.2 after ${logins.join('/')} ms`);
    // Failures 3.. wait 100, 200, 400, 400, 400 ms (the source's own count;
    // the name's is cleared by each success). Lower bounds only: a busy
    // machine adds time, never takes it away; which answers were delayed is
    // counted exactly below (delayed: 5, the guesser's; none of the user's).
    expect(guesses[2]).to.be.at.least(95);
    expect(guesses[3]).to.be.at.least(195);
    expect(guesses[4]).to.be.at.least(395);
    expect(Math.max(...logins), 'the real user answered without waiting out a lockout or a delay').to.be.below(1000);

    // Locked out: even the right password is refused, at once and unchecked.
    const locked = await attempt(port, '127.0.0.1', 'alice', 'right');
    expect(locked.answer).to.deep.equal(FAIL);
    expect(locked.ms).to.be.below(1000);
    expect((await attempt(port, '127.0.0.2', 'alice', 'right')).answer, 'the other address still logs in').to.deep.equal(OK);
    const auth = server.stats().auth!.userpass!;
    expect(auth).to.include({ attempts: 15, successes: 7, failures: 7, throttled: 1, delayed: 5 });
  });
});
