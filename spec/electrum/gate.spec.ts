/**
 * The Electrum token plugin (lib/electrum/gate.ts) against the byte
 * sequences of docs/protocols.md §3, through the sans-I/O engine at every split
 * and through a real SocksServer on 127.0.0.1.
 */
import net from 'node:net';
import { expect } from 'chai';
import { ServerHandshake, ServerAction } from '../../lib/protocol/server-handshake.js';
import { SocksServer } from '../../lib/server/server.js';
import { electrumTokenAuth, ElectrumConnection, ElectrumAuthFailure } from '../../lib/electrum/gate.js';
import { hex, toHex, splits } from '../support/helpers.js';
import { TOKEN, tokenBytes, exchange, startTokenGateway, type TokenGateway, jsonLine, paddedVersionRequest } from '../support/electrum.js';

const T = tokenBytes(); // LEN TOKEN
const OK_REPLY = hex('05 00 00 01 00 00 00 00 00 00');
const CONNECT_ANY = hex('05 01 00 01 00 00 00 00 00 00');
const JSON_REQ = jsonLine({ jsonrpc: '2.0', method: 'server.version', id: 0, params: ['t', '1.4'] });

interface Fixture {
  name: string;
  send: Buffer;
  reply: Buffer;
  path?: 'password' | 'hostname';
  username?: string;
}

// docs/protocols.md §3, plus the variants real clients send (§4).
const GOOD: Fixture[] = [
  {
    name: 'raw documented sequence (password path, ULEN 0)',
    send: Buffer.concat([hex('05 01 02 01 00'), T, CONNECT_ANY]),
    reply: Buffer.concat([hex('05 02 01 00'), OK_REPLY]),
    path: 'password',
    username: '',
  },
  {
    name: 'Electrum with credentials (05 02 00 02, user "bwt", domain CONNECT)',
    send: Buffer.concat([hex('05 02 00 02 01 03'), Buffer.from('bwt'), T, hex('05 01 00 03 03'), Buffer.from('bwt'), hex('00 01')]),
    reply: Buffer.concat([hex('05 02 01 00'), OK_REPLY]),
    path: 'password',
    username: 'bwt',
  },
  {
    name: 'password path with an IPv6 CONNECT (bwt refuses it)',
    send: Buffer.concat([hex('05 01 02 01 00'), T, hex('05 01 00 04 00000000 00000000 00000000 00000001 c3 51')]),
    reply: Buffer.concat([hex('05 02 01 00'), OK_REPLY]),
    path: 'password',
    username: '',
  },
  {
    name: 'hostname path (OpenBSD nc: 05 01 00, ATYP 03 = token)',
    send: Buffer.concat([hex('05 01 00 05 01 00 03'), T, hex('00 01')]),
    reply: Buffer.concat([hex('05 00'), OK_REPLY]),
    path: 'hostname',
  },
];

interface BadFixture {
  name: string;
  send: Buffer;
  reply: Buffer;
  reason?: ElectrumAuthFailure;
}

const WRONG = tokenBytes('q7x2kz9m4t1v8w3b6n5c0pdfR'); // one letter's case differs
const BAD: BadFixture[] = [
  { name: 'wrong password → 01 01', send: Buffer.concat([hex('05 01 02 01 00'), WRONG, CONNECT_ANY]), reply: hex('05 02 01 01'), reason: 'password' },
  { name: 'token as username, wrong password → 01 01', send: Buffer.concat([hex('05 01 02 01'), T, hex('01 78'), CONNECT_ANY]), reply: hex('05 02 01 01'), reason: 'password' },
  { name: 'empty password → 01 01', send: Buffer.concat([hex('05 01 02 01 00 00'), CONNECT_ANY]), reply: hex('05 02 01 01'), reason: 'password' },
  { name: 'token with a trailing newline → 01 01', send: Buffer.concat([hex('05 01 02 01 00'), tokenBytes(TOKEN + '\n'), CONNECT_ANY]), reply: hex('05 02 01 01'), reason: 'password' },
  { name: 'wrong password, right hostname → 01 01 (no fallback)', send: Buffer.concat([hex('05 01 02 01 00'), WRONG, hex('05 01 00 03'), T, hex('00 01')]), reply: hex('05 02 01 01'), reason: 'password' },
  { name: 'wrong hostname → REP 02', send: Buffer.concat([hex('05 01 00 05 01 00 03'), WRONG, hex('00 01')]), reply: hex('05 00 05 02 00 01 00000000 0000'), reason: 'hostname' },
  { name: 'hostname path with IPv4 (no token offered) → REP 02', send: Buffer.concat([hex('05 01 00'), CONNECT_ANY]), reply: hex('05 00 05 02 00 01 00000000 0000'), reason: 'hostname' },
  { name: 'hostname path with IPv6 → REP 02', send: hex('05 01 00 05 01 00 04 00000000 00000000 00000000 00000001 00 01'), reply: hex('05 00 05 02 00 01 00000000 0000'), reason: 'hostname' },
  { name: 'token prefix as hostname → REP 02', send: Buffer.concat([hex('05 01 00 05 01 00 03'), tokenBytes(TOKEN.slice(0, 24)), hex('00 01')]), reply: hex('05 00 05 02 00 01 00000000 0000'), reason: 'hostname' },
  { name: 'only GSS-API offered → 05 FF', send: hex('05 01 01'), reply: hex('05 ff'), reason: 'no-method' },
  { name: 'NMETHODS 0 → 05 FF', send: hex('05 00'), reply: hex('05 ff'), reason: 'no-method' },
  { name: 'BIND after a good password → REP 07', send: Buffer.concat([hex('05 01 02 01 00'), T, hex('05 02 00 01 00000000 0000')]), reply: Buffer.concat([hex('05 02 01 00'), hex('05 07 00 01 00000000 0000')]), reason: 'command' },
  { name: 'UDP ASSOCIATE with the token hostname → REP 07', send: Buffer.concat([hex('05 01 00 05 03 00 03'), T, hex('00 01')]), reply: hex('05 00 05 07 00 01 00000000 0000'), reason: 'command' },
  // Electrum ≥ 4.4's Tor probe (§4.3): greeting + RESOLVE "0.0.0.0" in one write.
  { name: 'Tor probe → 05 00 then REP 07', send: hex('05 01 00 05 F0 00 03 07 30 2E 30 2E 30 2E 30 00 00'), reply: hex('05 00 05 07 00 01 00000000 0000') },
  // Older Electrum's probe, and SOCKS4 (it carries no password: refused).
  { name: 'GET probe → close, nothing written', send: Buffer.from('GET\n'), reply: hex('') },
  { name: 'SOCKS4 (no password) → 00 5B, close', send: Buffer.concat([hex('04 01 00 01 7f 00 00 01'), Buffer.from('bwt\0')]), reply: hex('00 5b 00 00 00000000') },
  { name: 'unknown ATYP after a good password → REP 08', send: Buffer.concat([hex('05 01 02 01 00'), T, hex('05 01 00 09 00 00')]), reply: Buffer.concat([hex('05 02 01 00'), hex('05 08 00 01 00000000 0000')]) },
];

/** Drives a ServerHandshake with the plugin's pure parts, as SocksServer would. */
function drive(chunks: Buffer[], failures: ElectrumAuthFailure[] = []) {
  const auth = electrumTokenAuth({ token: TOKEN, onAuthFailure: (r) => failures.push(r) });
  const engine = new ServerHandshake({ methods: auth.methods, selectMethod: auth.selectMethod, socks4: auth.socks4 });
  const written: Buffer[] = [];
  let closed = false;
  let head: Buffer | undefined;
  let identity: unknown;
  const apply = (actions: ServerAction[]): void => {
    for (const a of actions) {
      switch (a.type) {
        case 'write':
          written.push(a.data);
          break;
        case 'verify':
          apply(engine.verified({ ok: true, value: a.check() }));
          break;
        case 'request': {
          const d = auth.authorize(a.request);
          if (d.ok) identity = d.identity;
          apply(d.ok ? engine.handoff({ reply: 0 }) : engine.deny(d.reply));
          break;
        }
        case 'handoff':
          head = Buffer.from(a.head);
          break;
        case 'established':
          throw new Error('the plugin never relays itself');
        case 'close':
          closed = true;
          break;
      }
    }
  };
  for (const c of chunks) {
    // After the hand-off the application owns the bytes.
    if (head !== undefined) head = Buffer.concat([head, c]);
    else apply(engine.receive(c));
  }
  return { written: Buffer.concat(written), closed, head, identity };
}

describe('electrum-token: the plugin in the sans-I/O engine', () => {
  for (const f of GOOD) {
    it(`${f.name}: whole, every split, byte by byte → ${f.reply.length}-byte reply, identity, empty head`, () => {
      for (const s of splits(f.send)) {
        const r = drive(s.chunks);
        expect(toHex(r.written), s.name).to.equal(toHex(f.reply));
        expect(r.closed, s.name).to.equal(false);
        expect(r.head, s.name).to.not.equal(undefined);
        expect(r.head!.length, s.name).to.equal(0);
        expect(r.identity, s.name).to.deep.equal(f.path === 'password' ? { path: 'password', username: f.username } : { path: 'hostname' });
      }
    });
    it(`${f.name}: JSON pipelined behind the CONNECT survives every split as head`, () => {
      for (const s of splits(Buffer.concat([f.send, JSON_REQ]))) {
        const r = drive(s.chunks);
        expect(toHex(r.written), s.name).to.equal(toHex(f.reply));
        expect(r.head!.toString(), s.name).to.equal(JSON_REQ.toString());
      }
      // Electrum >= 4.6: a 1024-byte padded line in the same chunk as the handshake.
      const padded = paddedVersionRequest();
      const r = drive([Buffer.concat([f.send, padded])]);
      expect(r.head!.equals(padded)).to.equal(true);
    });
  }

  for (const f of BAD) {
    it(`${f.name} (every split)`, () => {
      for (const s of splits(f.send)) {
        const failures: ElectrumAuthFailure[] = [];
        const r = drive(s.chunks, failures);
        expect(toHex(r.written), s.name).to.equal(toHex(f.reply));
        expect(r.closed, s.name).to.equal(true);
        expect(r.head, s.name).to.equal(undefined);
        expect(failures, s.name).to.deep.equal(f.reason ? [f.reason] : []);
      }
    });
  }

  it('documented client sequence gets exactly 14 bytes; the hostname path 12', () => {
    expect(drive([GOOD[0]!.send]).written.length).to.equal(14);
    expect(drive([GOOD[3]!.send]).written.length).to.equal(12);
  });

  it('refuses tokens that cannot travel in PLEN/DOMAINNAME', () => {
    expect(() => electrumTokenAuth({ token: '' })).to.throw(/non-empty/);
    expect(() => electrumTokenAuth({ token: 'x'.repeat(256) })).to.throw(/255 bytes/);
    expect(() => electrumTokenAuth({ token: 'x'.repeat(255) })).to.not.throw();
  });

  it('hostname: false refuses the no-auth path with 05 FF', () => {
    const auth = electrumTokenAuth({ token: TOKEN, hostname: false });
    const engine = new ServerHandshake({ methods: auth.methods, selectMethod: auth.selectMethod, socks4: false });
    const out = engine.receive(Buffer.concat([hex('05 01 00 05 01 00 03'), T, hex('00 01')]));
    expect(toHex(Buffer.concat(out.filter((a) => a.type === 'write').map((a) => (a as { data: Buffer }).data)))).to.equal('05 ff');
    expect(out.at(-1)!.type).to.equal('close');
  });
});

describe('electrum-token: through a SocksServer on 127.0.0.1', () => {
  let server: SocksServer;
  let port: number;
  const conns: { identity: unknown; data: Buffer; head: Buffer }[] = [];
  const failures: ElectrumAuthFailure[] = [];
  const GREETING = Buffer.from('hello from the application\n');

  before(async () => {
    server = new SocksServer({
      ...electrumTokenAuth({
        token: TOKEN,
        onAuthFailure: (r) => failures.push(r),
        onConnection: ({ socket, head, identity }: ElectrumConnection) => {
          const rec = { identity, head, data: Buffer.from(head) };
          conns.push(rec);
          socket.write(GREETING);
          socket.on('data', (d: Buffer) => (rec.data = Buffer.concat([rec.data, d])));
          socket.on('error', () => socket.destroy());
          socket.resume();
        },
      }),
      handshakeTimeout: 1000,
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    conns.length = 0;
    failures.length = 0;
  });

  for (const f of GOOD) {
    it(`${f.name}: whole, every split, byte by byte`, async () => {
      // One connection per split, all at once (each is independent).
      const cuts = splits(f.send);
      const results = await Promise.all(cuts.map((s) => exchange(port, s.chunks, { expect: f.reply.length + GREETING.length })));
      results.forEach((r, i) => expect(toHex(r.data), cuts[i]!.name).to.equal(toHex(Buffer.concat([f.reply, GREETING]))));
      expect(conns.length).to.equal(cuts.length);
      expect(conns.map((c) => c.head.length)).to.deep.equal(cuts.map(() => 0));
    });
  }

  it('a JSON request in the same write as the CONNECT reaches the application first', async () => {
    const payload = Buffer.concat([paddedVersionRequest(), JSON_REQ]);
    const r = await exchange(port, [Buffer.concat([GOOD[0]!.send, payload])], { expect: 14 + GREETING.length, settle: 100 });
    expect(toHex(r.data.subarray(0, 14))).to.equal(toHex(GOOD[0]!.reply));
    expect(conns).to.have.length(1);
    expect(conns[0]!.data.toString()).to.equal(payload.toString());
  });

  for (const f of BAD) {
    it(`${f.name}: exact bytes, then close`, async () => {
      const r = await exchange(port, [f.send]);
      expect(r.closed).to.equal(true);
      expect(toHex(r.data)).to.equal(toHex(f.reply));
      expect(conns).to.have.length(0);
      expect(failures).to.deep.equal(f.reason ? [f.reason] : []);
    });
  }

  it('a wrong password gets 01 01 and close even when split byte by byte', async () => {
    const send = BAD[0]!.send;
    const r = await exchange(port, [...send].map((b) => Buffer.from([b])));
    expect(r.closed).to.equal(true);
    expect(toHex(r.data)).to.equal('05 02 01 01');
  });

  it('a stalled handshake is closed at the deadline', async () => {
    // Its own server with a short deadline, so the wait stays short.
    const quick = new SocksServer({ ...electrumTokenAuth({ token: TOKEN, onConnection: () => {} }), handshakeTimeout: 200 });
    await new Promise<void>((r) => quick.listen(0, '127.0.0.1', r));
    try {
      const t0 = Date.now();
      const r = await exchange((quick.address() as net.AddressInfo).port, [hex('05 01 02 01 00')], { timeout: 3000 });
      expect(r.closed).to.equal(true);
      expect(toHex(r.data)).to.equal('05 02');
      expect(Date.now() - t0).to.be.within(180, 1500);
    } finally {
      await new Promise<void>((r) => quick.close(() => r()));
    }
  });
});

describe('electrum-token: relaying to a stand-in Electrum server', () => {
  let gateway: TokenGateway;
  let port: number;
  before(async () => {
    gateway = await startTokenGateway();
    port = gateway.port;
  });
  after(() => gateway.close());

  it('pipelined padded server.version (one write with the handshake) is answered', async () => {
    const expected = '{"jsonrpc":"2.0","id":0,"result":["stand-in 1.0","1.4"]}\n';
    const r = await exchange(port, [Buffer.concat([GOOD[0]!.send, paddedVersionRequest()])], { expect: 14 + expected.length });
    expect(toHex(r.data.subarray(0, 14))).to.equal(toHex(GOOD[0]!.reply));
    expect(r.data.subarray(14).toString()).to.equal(expected);
    const line = gateway.backend.received.at(-1)!;
    expect(line.length).to.equal(1023); // the whole padded line arrived, minus its newline
    expect(JSON.parse(line)).to.deep.equal({ jsonrpc: '2.0', method: 'server.version', id: 0, params: ['electrum/4.8.1', ['1.4', '1.6']] });
  });
});
