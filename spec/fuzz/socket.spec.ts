/**
 * The socket-level fuzzer (socket-fuzzer.ts) in CI: a few hundred seeded
 * sessions against a SocksServer with every feature on. A long run:
 * `SESSIONS=100000 npm run fuzz -- --grep socket` (README, "Fuzzing").
 * A failure prints the seed: SOCKSKIT_SEED=<seed> replays its inputs.
 */
import { expect } from 'chai';
import { runSocketFuzz } from './socket-fuzzer.js';

const SEED = Number(process.env.SOCKSKIT_SEED ?? 0x50c4);
const SESSIONS = Number(process.env.SOCKSKIT_SOCKET_SESSIONS ?? 300);

describe(`socket-level fuzzing of SocksServer (seed ${SEED}, ${SESSIONS} sessions)`, () => {
  it('no process-level error; descriptors, handles and connections back to their baseline; no arrival the rules blocked', async function () {
    // A long run sets the count: no deadline then (mocha --timeout 0 holds).
    this.timeout(process.env.SOCKSKIT_SOCKET_SESSIONS ? 0 : 60000);
    const res = await runSocketFuzz({
      seed: SEED,
      sessions: SESSIONS,
      log: process.env.SOCKSKIT_SOCKET_SESSIONS ? (l) => process.stderr.write(`  socket fuzz: ${l}\n`) : undefined,
    });
    const where = `seed ${SEED} (replay: SOCKSKIT_SEED=${SEED} SOCKSKIT_SOCKET_SESSIONS=${SESSIONS})`;
    if (process.env.SOCKSKIT_SOCKET_SESSIONS) {
      process.stderr.write(`  socket fuzz: ${res.sessions} sessions in ${(res.ms / 1000).toFixed(1)} s, ${JSON.stringify(res.byKind)}, rules targets ${JSON.stringify(res.ruled)}\n  ${JSON.stringify(res.stats)}\n`);
    }
    expect(res.processErrors, `${where}\n${res.processErrors.slice(0, 5).join('\n')}`).to.deep.equal([]);
    expect(res.leaks, where).to.deep.equal([]);
    expect(res.violations, `${where}\n${res.violations.slice(0, 5).join('\n')}`).to.deep.equal([]);
    // The invariant was exercised: tunnels and datagrams arrived, judged, across reloads.
    expect(res.ruled.tcp, where).to.be.greaterThan(0);
    expect(res.ruled.udp, where).to.be.greaterThan(0);
    expect(res.ruled.reloads, where).to.be.greaterThan(0);
    expect(res.sessions, where).to.equal(SESSIONS);
    // Every kind of session ran, or the run proves little.
    expect(Object.keys(res.byKind).sort(), where).to.deep.equal(['bind', 'client', 'handshake', 'proxy', 'random', 'rules', 'udp']);
  });
});
