/**
 * Crash-proof by construction: hostile or buggy callbacks (the request hook,
 * lookup, method factories and selectors) end the connection they belong to;
 * nothing reaches 'uncaughtException' or 'unhandledRejection', and every
 * connection is closed afterwards.
 */
import { expect } from 'chai';
import { hex } from '../support/helpers.js';
import { startServer, Conn, portHex } from '../support/udp-bind.js';
import { startTarget, echo, waitFor } from '../support/server.js';
import { tripwireEachTest, settle } from '../support/tripwire.js';
import { none } from '../../methods/none.js';
import { bindHandler } from '../../lib/server/commands/bind.js';
import { udpHandler } from '../../lib/server/commands/udp.js';
import type { SocksServerOptions } from '../../lib/server/server.js';
import type { RequestContext } from '../../lib/server/request-context.js';
import type { AuthMethod } from '../../lib/protocol/method.js';

type Lookup = NonNullable<SocksServerOptions['lookup']>;
const lookup = (f: (host: string, cb: (e: Error | null, a?: unknown, fam?: number) => void) => void): Lookup =>
  ((host: string, _o: unknown, cb: (e: Error | null, a?: unknown, fam?: number) => void) => f(host, cb)) as unknown as Lookup;

const throwingMethod: AuthMethod<unknown> = {
  code: 0x00,
  name: 'throws',
  server: () => {
    throw new Error('method factory failed');
  },
  client: () => ({ receive: () => ({ kind: 'done', identity: null }) }),
} as unknown as AuthMethod<unknown>;

const receiveThrows: AuthMethod<unknown> = {
  code: 0x00,
  name: 'receive-throws',
  server: () => ({
    start: () => ({ kind: 'verify', check: () => Promise.reject(new Error('check rejected')) }),
    receive: () => {
      throw new Error('receive failed');
    },
    verified: () => {
      throw new Error('verified failed');
    },
  }),
  client: () => ({ receive: () => ({ kind: 'done', identity: null }) }),
} as unknown as AuthMethod<unknown>;

describe('crash-proof: hostile callbacks never reach the process', function () {
  const secondDecision: string[] = [];
  const trip = tripwireEachTest();
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  const scenarios: { name: string; options: () => SocksServerOptions; request?: (port: number) => string; socks4?: boolean }[] = [
    { name: 'hook throws synchronously', options: () => ({ onRequest: () => { throw new Error('sync'); } }) },
    { name: 'hook rejects', options: () => ({ onRequest: async () => { throw new Error('async'); } }) },
    { name: 'hook returns a non-promise (42)', options: () => ({ onRequest: (() => 42) as unknown as SocksServerOptions['onRequest'] }) },
    { name: 'hook returns a thenable whose then() throws', options: () => ({ onRequest: (() => ({ then() { throw new Error('then'); } })) as unknown as SocksServerOptions['onRequest'] }) },
    { name: 'hook returns a thenable that calls back twice', options: () => ({ onRequest: (() => ({ then(ok: () => void, bad: (e: Error) => void) { ok(); bad(new Error('twice')); ok(); } })) as unknown as SocksServerOptions['onRequest'] }) },
    { name: 'hook decides twice synchronously', options: () => ({ onRequest: (ctx: RequestContext) => { ctx.deny(2); ctx.accept(); } }) },
    {
      name: 'hook decides twice later (from a timer): the second decision throws to its caller only',
      options: () => ({
        onRequest: (ctx: RequestContext) =>
          new Promise<void>((r) =>
            setTimeout(() => {
              void ctx.accept();
              try {
                ctx.deny(2);
              } catch (err) {
                secondDecision.push((err as Error).message);
              }
              r();
            }, 5),
          ),
      }),
    },
    { name: 'hook decides after the client left', options: () => ({ onRequest: (ctx: RequestContext) => new Promise<void>((r) => setTimeout(() => { void ctx.accept(); r(); }, 200)) }) },
    { name: 'lookup throws synchronously', options: () => ({ lookup: lookup(() => { throw new Error('lookup sync'); }) }), request: (p) => `03 04 6e 61 6d 65 ${portHex(p)}` },
    { name: 'lookup calls back twice', options: () => ({ lookup: lookup((_h, cb) => { cb(new Error('first')); cb(null, '127.0.0.1', 4); }) }), request: (p) => `03 04 6e 61 6d 65 ${portHex(p)}` },
    { name: 'lookup answers garbage (undefined address)', options: () => ({ lookup: lookup((_h, cb) => cb(null, undefined, 4)) }), request: (p) => `03 04 6e 61 6d 65 ${portHex(p)}` },
    { name: 'lookup answers an object', options: () => ({ lookup: lookup((_h, cb) => cb(null, { address: '127.0.0.1' }, 4)) }), request: (p) => `03 04 6e 61 6d 65 ${portHex(p)}` },
    { name: 'methods(ctx) throws', options: () => ({ methods: () => { throw new Error('methods'); } }) },
    { name: 'selectMethod throws', options: () => ({ selectMethod: () => { throw new Error('select'); } }) },
    { name: 'a method factory throws', options: () => ({ methods: [throwingMethod] }) },
    { name: 'a method check rejects and verified() throws', options: () => ({ methods: [receiveThrows] }) },
    { name: 'socks4Identify throws', options: () => ({ methods: [none()], socks4: true, socks4Identify: () => { throw new Error('identify'); } }), socks4: true },
    { name: 'socks4Identify check throws synchronously', options: () => ({ methods: [none()], socks4: true, socks4Identify: () => ({ check: () => { throw new Error('check'); } }) }), socks4: true },
    { name: 'bind external() throws', options: () => ({ bind: bindHandler({ external: () => { throw new Error('external'); } }) }), request: () => 'BIND' },
    { name: 'udp external() throws', options: () => ({ udp: udpHandler({ external: () => { throw new Error('external'); } }) }), request: () => 'UDP' },
    { name: "a 'tunnel' listener throws", options: () => ({}) },
    { name: "a 'udp' listener throws", options: () => ({}), request: () => 'UDP' },
    { name: 'bind acceptPeer() throws', options: () => ({ bind: bindHandler({ acceptPeer: () => { throw new Error('acceptPeer'); } }) }), request: () => 'BIND+PEER' },
  ];

  for (const sc of scenarios) {
    it(sc.name, async () => {
      const target = await startTarget(echo);
      cleanup.push(() => target.close());
      const s = await startServer(sc.options());
      cleanup.push(() => s.close());
      if (sc.name.includes('listener throws')) {
        for (const ev of ['tunnel', 'udp'] as const) s.server.on(ev, () => { throw new Error(`${ev} listener`); });
      }
      const c = await Conn.open(s.port);
      cleanup.push(() => c.destroy());
      if (sc.socks4) c.write(hex(`04 01 ${portHex(target.port)} 7f 00 00 01 75 00`));
      else if (sc.request?.(0) === 'BIND') c.write(hex('05 01 00  05 02 00 01 7f 00 00 01 00 00'));
      else if (sc.request?.(0) === 'UDP') c.write(hex('05 01 00  05 03 00 01 00 00 00 00 00 00'));
      else if (sc.request?.(0) === 'BIND+PEER') {
        c.write(hex('05 01 00  05 02 00 01 7f 00 00 01 00 00'));
        await c.read(2);
        const lport = (await c.read(10)).readUInt16BE(8);
        const peer = await Conn.open(lport);
        cleanup.push(() => peer.destroy());
      }
      else c.write(hex(`05 01 00  05 01 00 ${sc.request ? sc.request(target.port) : `01 7f 00 00 01 ${portHex(target.port)}`}`));
      if (sc.name.includes('client left')) {
        await settle(50);
        c.destroy();
      }
      await settle(300);
      c.destroy();
      await waitFor(() => s.server.connections === 0, 3000, 'every connection closed');
      await settle(50);
      expect(trip.errors.map((e) => String((e as Error)?.stack ?? e)), 'process-level errors').to.deep.equal([]);
      if (sc.name.includes('second decision')) expect(secondDecision).to.deep.equal(['deny(): the request was already decided']);
    });
  }
});
