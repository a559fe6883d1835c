/**
 * The --metrics endpoint as an attacker meets it (issue 18, findings 6 and
 * 21): a small connection cap, idle connections closed, its descriptors
 * counted in the derived connection limit, a warning when it listens beyond
 * loopback.
 */
import { expect } from 'chai';
import net from 'node:net';
import { PROGRAM } from '../support/paths.js';
import { runProgram, startProgram, stopPrograms, cleanEnv } from '../support/interop.js';
import { connectionLimit, DESCRIPTOR_HEADROOM } from '../../lib/server/limits.js';
import { METRICS_MAX_CONNECTIONS } from '../../lib/service/index.js';

/** Opens `n` TCP connections to 127.0.0.1:port that send nothing; each entry flips to closed when the server closes it. */
async function idle(port: number, n: number): Promise<{ sockets: net.Socket[]; open: () => number }> {
  const closed = new Set<net.Socket>();
  const sockets = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
      s.on('close', () => closed.add(s));
      s.on('error', () => resolve(s));
    })),
  );
  return { sockets, open: () => sockets.filter((s) => !closed.has(s)).length };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('--metrics endpoint limits (issue 18: findings 6, 21)', () => {
  afterEach(() => stopPrograms());

  it('holds at most METRICS_MAX_CONNECTIONS connections and closes idle ones after 5 s', async function () {
    this.timeout(20000);
    const p = startProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--access-log', 'off'], cleanEnv());
    const mport = Number((await p.waitFor(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 10000))[1]);
    const conns = await idle(mport, 40);
    // The ones over the cap are closed as the server accepts them (within 3 s on a loaded machine; the idle timeout is 5 s).
    for (let i = 0; i < 30 && conns.open() > METRICS_MAX_CONNECTIONS; i++) await sleep(100);
    expect(conns.open(), 'connections the endpoint keeps').to.be.at.most(METRICS_MAX_CONNECTIONS);
    // The ones kept, sending nothing, are closed by the header timeout (5 s) within a checking interval.
    for (let i = 0; i < 40 && conns.open() > 0; i++) await sleep(200);
    expect(conns.open(), 'idle connections left after 8 s').to.equal(0);
    for (const s of conns.sockets) s.destroy();
  });

  it('the derived connection limit keeps the endpoint\'s descriptors back', () => {
    const fds = { soft: 256, hard: 256 };
    expect(connectionLimit(fds, 20)).to.equal(Math.floor((256 - 20 - DESCRIPTOR_HEADROOM) / 2));
    expect(connectionLimit(fds, 20, METRICS_MAX_CONNECTIONS)).to.equal(Math.floor((256 - 20 - DESCRIPTOR_HEADROOM - METRICS_MAX_CONNECTIONS) / 2));
  });

  it('warns when --metrics listens beyond loopback (--check, which binds nothing, says it too)', async () => {
    const r = await runProgram(process.execPath, [PROGRAM.proxy, '--metrics', '192.0.2.1:9100', '--check'], { env: cleanEnv() });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/warning: --metrics 192\.0\.2\.1:9100 is not loopback: anyone who reaches it reads the counters/);
    const lo = await runProgram(process.execPath, [PROGRAM.proxy, '--metrics', '127.0.0.1:9100', '--check'], { env: cleanEnv() });
    expect(lo.stderr).not.to.match(/--metrics/);
  });
});
