/**
 * An unauthenticated scrypt flood: 1,000 connections from one address (a
 * child process, at the rate: 1,000 in 2.4 s), each sending greeting
 * + RFC 1929 login for an unknown user in one packet and closing at once.
 * While it runs: logins from another address (127.0.0.2), and CONNECTs to
 * `localhost` by a user authenticated before the flood (getaddrinfo shares
 * libuv's threadpool with scrypt). Their medians must stay within 250 ms,
 * scaled on a busy machine (ten quiet logins). Without the queue, both
 * waited for the 10 s handshake deadline. The flood's attempts are counted
 * as authentication attempts, not as clients that left.
 */
import net from 'node:net';
import os from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { SocksServer } from '../../lib/server/server.js';
import { userpass, hashPassword } from '../../methods/userpass.js';
import { VerifyQueue } from '../../methods/verify-queue.js';
import { encodeRequest } from '../../lib/protocol/codec/request.js';
import type { ConnectionRecord } from '../../lib/server/access-log.js';
import { RawClient, startTarget, echo, type Target } from '../support/server.js';
import { hex } from '../support/helpers.js';

const FLOOD = 1000;
const ROUNDS = 3;
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** greeting (userpass only) + RFC 1929 login, one buffer. */
function login(user: string, pass: string): Buffer {
  const u = Buffer.from(user);
  const p = Buffer.from(pass);
  return Buffer.concat([hex('05 01 02 01'), Buffer.from([u.length]), u, Buffer.from([p.length]), p]);
}

/**
 * The attacker, in a process of its own (as it would be): `count` connections
 * at `perSecond`, each sending a one-packet login for a random unknown user
 * and closing as soon as the bytes are out. Prints "quarter" when a quarter
 * is sent and "done MS" at the end; every socket has a 5 s timeout.
 */
const ATTACKER = `
const net = require('node:net');
const [port, count, perSecond] = process.argv.slice(1).map(Number);
const t0 = Date.now();
let sent = 0, closed = 0;
function one() {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  s.setTimeout(5000, () => s.destroy());
  s.on('close', () => { if (++closed === count) { console.log('done ' + (Date.now() - t0)); process.exit(0); } });
  const u = Buffer.from('nobody' + Math.random().toString(36).slice(2, 8));
  const p = Buffer.from('guess');
  s.once('connect', () => s.end(Buffer.concat([Buffer.from([5, 1, 2, 1, u.length]), u, Buffer.from([p.length]), p])));
  s.once('finish', () => s.destroy());
}
const tick = setInterval(() => {
  const due = Math.min(count, Math.ceil((Date.now() - t0) * perSecond / 1000));
  while (sent < due) { one(); if (++sent === Math.floor(count / 4)) console.log('quarter'); }
  if (sent >= count) clearInterval(tick);
}, 5);
setTimeout(() => { console.log('timeout'); process.exit(1); }, 30000);
`;

/** Starts the attacker; resolves `quarter` when a quarter is sent, `done` with its duration. */
function flood(port: number, perSecond: number): { quarter: Promise<void>; done: Promise<number>; child: ChildProcess } {
  const child = spawn(process.execPath, ['-e', ATTACKER, String(port), String(FLOOD), String(perSecond)], { stdio: ['ignore', 'pipe', 'inherit'] });
  // A real attacker spends his own CPU, not the server's: on a shared test
  // machine the attacker yields the CPU to the server (lowest priority).
  try {
    os.setPriority(child.pid!, 19);
  } catch {
    // Not allowed here: the attacker competes at normal priority.
  }
  let out = '';
  let quarter!: () => void;
  let done!: (ms: number) => void;
  const q = new Promise<void>((r) => (quarter = r));
  const d = new Promise<number>((r) => (done = r));
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('quarter')) quarter();
    const m = /done (\d+)/.exec(out);
    if (m) done(Number(m[1]));
  });
  child.on('exit', () => { quarter(); done(-1); });
  return { quarter: q, done: d, child };
}

async function connectFrom(port: number, localAddress: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => resolve(new RawClient(s)));
    s.once('error', reject);
  });
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await f();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

describe('methods: userpass under an scrypt flood', function () {
  this.timeout(60000);
  let server: SocksServer;
  let port: number;
  let target: Target;
  let bound: number;
  let base: number;
  const records: ConnectionRecord[] = [];
  const queue = new VerifyQueue();

  before(async () => {
    const stored = await hashPassword('s3cret');
    // A long handshake deadline: alice's sessions wait through the flood before their CONNECT.
    server = new SocksServer({ handshakeTimeout: 60000, methods: [userpass({ users: { alice: stored, bob: await hashPassword('pw') }, queue })] });
    server.on('clientError', () => {});
    server.on('connectionEnd', (r: ConnectionRecord) => records.push(r));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
    target = await startTarget(echo);
    // The bound: 250 ms, scaled up on a machine so busy that one quiet login
    // (one scrypt and its round trips) takes more than 25 ms: ten of them.
    // Without the queue the wait was 250 or more logins' worth (10 s).
    const quiet: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await connectFrom(port, '127.0.0.2');
      quiet.push((await timed(async () => {
        c.write(login('bob', 'pw'));
        return c.read(4);
      })).ms);
      c.destroy();
    }
    base = median(quiet);
    bound = Math.max(250, 10 * base);
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await target.close();
  });

  it('logins from another address and authenticated CONNECTs to localhost are answered in time during the flood', async () => {
    // Three sessions of alice's are in before the flood starts; their CONNECTs come during it.
    const early: RawClient[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const c = await connectFrom(port, '127.0.0.1');
      c.write(login('alice', 's3cret'));
      expect(await c.read(4)).to.deep.equal(hex('05 02 01 00'));
      early.push(c);
    }
    // The figure: 1,000 connections sent and closed in 2.4 s.
    const attacker = flood(port, 420);
    await attacker.quarter;
    const connects: number[] = [];
    const logins: number[] = [];
    for (const session of early) {
      const connect = timed(async () => {
        session.write(encodeRequest(1, { type: 'domain', host: 'localhost', port: target.port }));
        return session.read(10, 15000);
      });
      const fresh = await connectFrom(port, '127.0.0.2');
      const freshLogin = timed(async () => {
        fresh.write(login('bob', 'pw'));
        return fresh.read(4, 15000);
      });
      const [c, l] = await Promise.all([connect, freshLogin]);
      session.destroy();
      fresh.destroy();
      expect(c.value.subarray(0, 2), 'CONNECT succeeded').to.deep.equal(hex('05 00'));
      expect(l.value, 'login succeeded').to.deep.equal(hex('05 02 01 00'));
      connects.push(c.ms);
      logins.push(l.ms);
    }
    const floodMs = await attacker.done;
    const ms = (v: number[]): string => v.map((x) => x.toFixed(0)).join('/');
    console.log(`      flood of ${FLOOD} in ${floodMs} ms; CONNECT localhost ${ms(connects)} ms, login ${ms(logins)} ms (quiet login ${base.toFixed(0)} ms, bound ${bound.toFixed(0)} ms); queue ${JSON.stringify(queue.stats())}`);
    expect(median(connects), 'CONNECT localhost during the flood, median (ms)').to.be.below(bound);
    expect(median(logins), 'login during the flood, median (ms)').to.be.below(bound);
  });

  it('the flood was counted as login attempts (auth failures), not as clients that left', async () => {
    const deadline = Date.now() + 15000;
    while (server.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    while (queue.stats().running + queue.stats().queued > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const auth = server.stats().auth!.userpass!;
    console.log(`      ${JSON.stringify(auth)}`);
    expect(auth.attempts, 'every login decoded').to.be.at.least(FLOOD);
    expect(auth.successes).to.equal(3 + 2 * ROUNDS);
    expect(auth.failures + auth.dropped + auth.busy, 'every flood login is a failure, dropped or refused').to.equal(auth.attempts - 3 - 2 * ROUNDS);
    expect(auth.dropped + auth.busy, 'most of the flood was dropped or refused unchecked').to.be.above(FLOOD * 0.9);
    expect(queue.stats().ran, 'scrypt checks run').to.be.below(FLOOD / 10);
    const flooded = records.filter((r) => r.identity === undefined && (r.client ?? '').startsWith('127.0.0.1:') && r.method !== undefined);
    const left = records.filter((r) => r.end === 'client-left').length;
    expect(records.filter((r) => r.end === 'auth').length, 'ended as auth').to.be.at.least(FLOOD * 0.99);
    expect(left, 'client-left').to.be.at.most(FLOOD * 0.01);
    expect(flooded.every((r) => r.method === 'userpass')).to.equal(true);
    expect(server.stats().errorClasses.auth).to.be.at.least(FLOOD * 0.99);
  });
});
