/**
 * A users file mixing plain-text and scrypt entries: a failed check costs
 * the same whether the name is hashed, plain or unknown, so timing does not
 * tell the classes apart. Before, a plain user's check took microseconds and
 * the others a scrypt (0.35 ms against 31 ms in the review).
 *
 * Measured on the method's own check (no sockets, no queue: less noise),
 * samples of the three classes interleaved so that load spikes hit all of
 * them; the statistics are medians and quartiles, which a few outliers
 * cannot move.
 */
import { expect } from 'chai';
import { userpass, hashPassword } from '../../methods/userpass.js';
import { ByteQueue } from '../../lib/protocol/codec/byte-queue.js';
import { runCheck, type AuthStep } from '../../lib/protocol/method.js';
import { encodeUserPassRequest } from '../../methods/userpass.js';

const SAMPLES = 15;

function quantile(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

describe('methods: userpass failed checks take the same time for every kind of name', function () {
  this.timeout(60000);

  it('hashed, plain-text and unknown names: medians within a factor 1.5, quartile ranges overlapping', async () => {
    const method = userpass({ users: { hashed: await hashPassword('right'), plain: 'right' }, queue: false });
    /** One failed check's duration (ms), through the session as the engine drives it. */
    const failOnce = async (name: string): Promise<number> => {
      const q = new ByteQueue();
      q.push(encodeUserPassRequest(name, 'wrong'));
      const session = method.server!({});
      const t0 = process.hrtime.bigint();
      const step = session.receive(q) as AuthStep;
      let final = step;
      if (step.kind === 'verify') final = session.verified!(await runCheck(step.check));
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(final.kind, name).to.equal('fail');
      return ms;
    };
    const classes = ['hashed', 'plain', 'unknown'] as const;
    const t: Record<(typeof classes)[number], number[]> = { hashed: [], plain: [], unknown: [] };
    for (let i = 0; i < SAMPLES; i++) for (const c of i % 2 ? [...classes].reverse() : classes) t[c].push(await failOnce(c));
    const med = Object.fromEntries(classes.map((c) => [c, quantile(t[c], 0.5)])) as Record<string, number>;
    console.log(`      medians (ms): ${classes.map((c) => `${c} ${med[c]!.toFixed(2)}`).join(', ')}`);
    for (const a of classes) {
      for (const b of classes) {
        expect(med[a]! / med[b]!, `median ${a} / median ${b}`).to.be.within(1 / 1.5, 1.5);
        expect(quantile(t[a], 0.25), `${a}'s lower quartile below ${b}'s upper quartile`).to.be.at.most(quantile(t[b], 0.75));
      }
    }
  });

  it('the right password still works for both kinds of entry', async () => {
    const method = userpass({ users: { hashed: await hashPassword('right'), plain: 'right' }, queue: false });
    for (const name of ['hashed', 'plain']) {
      const q = new ByteQueue();
      q.push(encodeUserPassRequest(name, 'right'));
      const session = method.server!({});
      const step = session.receive(q);
      expect(step.kind).to.equal('verify');
      const done = session.verified!(await runCheck((step as { check: () => unknown }).check));
      expect(done).to.include({ kind: 'done', identity: name });
    }
  });
});
