/**
 * The sans-I/O server engine. Every fixture (straight from the RFC diagrams)
 * is fed whole, at every two-way split, byte by byte, and with trailing bytes
 * that must come out as `head`. Bad inputs are table-driven: the error code,
 * the reply code and the exact bytes written back.
 */
import { expect } from 'chai';
import { ServerHandshake, ServerAction, ServerHandshakeOptions, SocksRequest } from '../../lib/protocol/server-handshake.js';
import { SocksError, AuthError, LocalProtocolError } from '../../lib/protocol/errors.js';
import { Limits, Reply } from '../../lib/protocol/constants.js';
import type { SocksAddress } from '../../lib/protocol/codec/address.js';
import { none } from '../../methods/none.js';
import { userpass } from '../../methods/userpass.js';
import { runCheck, type AuthMethod, type AuthStep } from '../../lib/protocol/method.js';
import { hex, toHex, splits } from '../support/helpers.js';

const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');
const BOUND: SocksAddress = { type: 'ipv4', host: '10.0.0.1', port: 1234 };
/** 05 00 00 01 0a000001 04d2: the success reply carrying BOUND. */
const OK5 = '05 00 00 01 0a 00 00 01 04 d2';
const OK4 = '00 5a 04 d2 0a 00 00 01';

type Decision = 'accept' | 'handoff';

/**
 * A minimal adapter: feeds chunks, records what the engine asks for, answers
 * verify checks (awaiting async ones) and the request. Once the engine is
 * established or handed off, later chunks are tunnel data (the real adapter
 * stops feeding the engine then), so `head` + later chunks must equal the
 * trailing bytes of the input.
 */
class Sim {
  readonly engine: ServerHandshake;
  readonly writes: Buffer[] = [];
  readonly requests: SocksRequest[] = [];
  readonly tunnel: Buffer[] = [];
  head: Buffer | undefined;
  terminals: ServerAction['type'][] = [];
  closeError: SocksError | undefined;
  pendingVerify: (() => unknown) | undefined;

  constructor(
    options: ServerHandshakeOptions,
    readonly decision: Decision = 'accept',
    /** 'now': decide as soon as the request appears; 'end': after all input. */
    readonly when: 'now' | 'end' = 'now',
  ) {
    this.engine = new ServerHandshake(options);
  }

  get written(): string {
    return toHex(Buffer.concat(this.writes));
  }

  get done(): boolean {
    return this.terminals.length > 0;
  }

  async feed(chunks: Buffer[]): Promise<this> {
    for (const c of chunks) {
      if (this.terminals.includes('established') || this.terminals.includes('handoff')) {
        this.tunnel.push(c);
        expect(this.engine.receive(c), 'engine ignores input after the hand-over').to.deep.equal([]);
        continue;
      }
      this.apply(this.engine.receive(c));
      await this.runVerify();
    }
    await this.runVerify();
    if (this.when === 'end' && this.engine.phase === 'decide') this.decide();
    return this;
  }

  private async runVerify(): Promise<void> {
    while (this.pendingVerify) {
      const check = this.pendingVerify;
      this.pendingVerify = undefined;
      this.apply(this.engine.verified(await runCheck(check)));
    }
  }

  decide(): void {
    this.apply(this.decision === 'accept' ? this.engine.accept(BOUND) : this.engine.handoff({ reply: 0, bound: BOUND }));
  }

  apply(actions: ServerAction[]): void {
    for (const a of actions) {
      expect(this.terminals.includes('close'), `no action after close (got ${a.type})`).to.equal(false);
      switch (a.type) {
        case 'write':
          this.writes.push(Buffer.from(a.data));
          break;
        case 'verify':
          expect(this.pendingVerify).to.equal(undefined);
          this.pendingVerify = a.check;
          break;
        case 'request':
          this.requests.push(a.request);
          if (this.when === 'now') this.decide();
          break;
        case 'established':
        case 'handoff':
          expect(this.head, 'at most one established/handoff').to.equal(undefined);
          this.head = Buffer.from(a.head);
          this.terminals.push(a.type);
          break;
        case 'close':
          this.closeError = a.error;
          this.terminals.push('close');
          break;
      }
    }
  }

  /** head followed by everything fed after the hand-over. */
  get tunnelData(): string {
    return toHex(Buffer.concat([this.head ?? Buffer.alloc(0), ...this.tunnel]));
  }
}

interface Fixture {
  name: string;
  /** RFC section(s) the bytes come from. */
  rfc: string;
  input: Buffer;
  options: () => ServerHandshakeOptions;
  /** Everything the server writes up to and including the success reply. */
  written: string;
  request: Partial<SocksRequest>;
}

const users = () => userpass({ users: { alice: 's3cret', '': 'anon', bob: '' } });

const FIXTURES: Fixture[] = [
  {
    name: 'SOCKS5 none, CONNECT IPv4 127.0.0.1:8080',
    rfc: 'RFC 1928 §3 greeting, §4 request, §6 reply',
    input: hex('05 01 00' + '05 01 00 01 7f 00 00 01 1f 90'),
    options: () => ({ methods: [none()] }),
    written: '05 00 ' + OK5,
    request: { version: 5, command: 'connect', destination: { type: 'ipv4', host: '127.0.0.1', port: 8080 }, identity: null },
  },
  {
    name: 'SOCKS5 none, CONNECT IPv6 [2001:db8::1]:443',
    rfc: 'RFC 1928 §4, ATYP 04 §5',
    input: hex('05 01 00' + '05 01 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 01 bb'),
    options: () => ({ methods: [none()] }),
    written: '05 00 ' + OK5,
    request: { version: 5, command: 'connect', destination: { type: 'ipv6', host: '2001:db8::1', port: 443 } },
  },
  {
    name: 'SOCKS5 none, CONNECT domain example.com:80',
    rfc: 'RFC 1928 §4, ATYP 03 §5',
    input: hex('05 02 00 02' + '05 01 00 03 0b' + ascii('example.com') + '00 50'),
    options: () => ({ methods: [none()] }),
    written: '05 00 ' + OK5,
    request: { version: 5, command: 'connect', destination: { type: 'domain', host: 'example.com', port: 80 } },
  },
  {
    name: 'SOCKS5 userpass alice/s3cret, CONNECT IPv4',
    rfc: 'RFC 1928 §3, RFC 1929 §2',
    input: hex('05 02 00 02' + '01 05' + ascii('alice') + '06' + ascii('s3cret') + '05 01 00 01 7f 00 00 01 00 50'),
    options: () => ({ methods: [users()] }),
    written: '05 02 01 00 ' + OK5,
    request: { version: 5, command: 'connect', identity: 'alice', destination: { type: 'ipv4', host: '127.0.0.1', port: 80 } },
  },
  {
    name: 'SOCKS5 userpass ULEN=0 (empty user configured)',
    rfc: 'RFC 1929 §2 (ULEN 0 seen from curl)',
    input: hex('05 01 02' + '01 00 04' + ascii('anon') + '05 01 00 01 7f 00 00 01 00 50'),
    options: () => ({ methods: [users()] }),
    written: '05 02 01 00 ' + OK5,
    request: { identity: '' },
  },
  {
    name: 'SOCKS5 userpass PLEN=0 (empty password configured)',
    rfc: 'RFC 1929 §2',
    input: hex('05 01 02' + '01 03' + ascii('bob') + '00' + '05 01 00 01 7f 00 00 01 00 50'),
    options: () => ({ methods: [users()] }),
    written: '05 02 01 00 ' + OK5,
    request: { identity: 'bob' },
  },
  {
    name: 'SOCKS4 CONNECT 127.0.0.1:80 USERID "bob"',
    rfc: 'SOCKS4 protocol text: request, reply VN 00',
    input: hex('04 01 00 50 7f 00 00 01' + ascii('bob') + '00'),
    options: () => ({ methods: [none()] }),
    written: OK4,
    // The USERID is a claim: kept as userId, never the identity (nobody verified it).
    request: { version: 4, command: 'connect', userId: 'bob', identity: null, destination: { type: 'ipv4', host: '127.0.0.1', port: 80 } },
  },
  {
    name: 'SOCKS4a CONNECT example.com:443, empty USERID',
    rfc: 'SOCKS4a text: DSTIP 0.0.0.x, hostname after USERID',
    input: hex('04 01 01 bb 00 00 00 01 00' + ascii('example.com') + '00'),
    options: () => ({ methods: [none()] }),
    written: OK4,
    request: { version: 4, command: 'connect', userId: '', destination: { type: 'domain', host: 'example.com', port: 443 } },
  },
  {
    name: 'SOCKS5 BIND request is parsed (decision is the application\'s)',
    rfc: 'RFC 1928 §4 CMD 02',
    input: hex('05 01 00' + '05 02 00 01 00 00 00 00 00 00'),
    options: () => ({ methods: [none()] }),
    written: '05 00 ' + OK5,
    request: { command: 'bind' },
  },
  {
    name: 'SOCKS5 UDP ASSOCIATE with the all-zero "unknown" source',
    rfc: 'RFC 1928 §4 CMD 03, §7',
    input: hex('05 01 00' + '05 03 00 01 00 00 00 00 00 00'),
    options: () => ({ methods: [none()] }),
    written: '05 00 ' + OK5,
    request: { command: 'udp', destination: { type: 'ipv4', host: '0.0.0.0', port: 0 } },
  },
];

const PAYLOAD = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x05\x01');

describe('ServerHandshake: fixtures at every split', () => {
  for (const f of FIXTURES) {
    describe(`${f.name}  [${f.rfc}]`, () => {
      for (const withTrailing of [false, true]) {
        const input = withTrailing ? Buffer.concat([f.input, PAYLOAD]) : f.input;
        const expectedTunnel = withTrailing ? toHex(PAYLOAD) : '';
        // BIND needs a second accept, done inline below, so it is decided at once only.
        for (const when of f.request.command === 'bind' ? (['now'] as const) : (['now', 'end'] as const)) {
          it(`${withTrailing ? 'with trailing bytes, ' : ''}decided ${when === 'now' ? 'at once' : 'after all input'}: ${splits(input).length} splits`, async () => {
            for (const s of splits(input)) {
              const sim = await new Sim(f.options(), 'accept', when).feed(s.chunks);
              const ctx = `${s.name}`;
              expect(sim.requests, ctx).to.have.length(1);
              expect(sim.requests[0], ctx).to.deep.include(f.request);
              if (f.request.command === 'bind') {
                // First accept answered the listening address; still waiting for the peer.
                expect(sim.engine.phase, ctx).to.equal('bind');
                sim.apply(sim.engine.accept(BOUND));
                expect(sim.written, ctx).to.equal(f.written + ' ' + OK5);
              } else {
                expect(sim.written, ctx).to.equal(f.written);
              }
              expect(sim.terminals, ctx).to.deep.equal(['established']);
              expect(sim.tunnelData, ctx).to.equal(expectedTunnel);
              if (when === 'end') expect(toHex(sim.head!), `${ctx}: whole head`).to.equal(expectedTunnel);
            }
          });
        }
      }
    });
  }

  it('greeting + auth + request + payload coalesced in one chunk: head is the payload', async () => {
    const input = hex('05 02 00 02' + '01 05' + ascii('alice') + '06' + ascii('s3cret') + '05 01 00 03 09' + ascii('localhost') + '1f 90' + ascii('hello'));
    const sim = await new Sim({ methods: [users()] }, 'accept', 'end').feed([input]);
    expect(sim.written).to.equal('05 02 01 00 ' + OK5);
    expect(sim.requests[0]).to.deep.include({ identity: 'alice', destination: { type: 'domain', host: 'localhost', port: 8080 } });
    expect(sim.head!.toString()).to.equal('hello');
  });

  it('handoff({reply: 0}) writes the success reply and hands over the head; handoff() writes nothing', async () => {
    const input = Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01 00 50'), PAYLOAD]);
    for (const s of splits(input)) {
      const sim = await new Sim({ methods: [none()] }, 'handoff', 'now').feed(s.chunks);
      expect(sim.written, s.name).to.equal('05 00 ' + OK5);
      expect(sim.terminals, s.name).to.deep.equal(['handoff']);
      expect(sim.tunnelData, s.name).to.equal(toHex(PAYLOAD));
    }
    const e = new ServerHandshake({ methods: [none()] });
    e.receive(input);
    const out = e.handoff();
    expect(out).to.have.length(1);
    expect(out[0]!.type).to.equal('handoff');
    expect(toHex((out[0] as { head: Buffer }).head)).to.equal(toHex(PAYLOAD));
  });

  it('verify flow: an async userpass verifier, at every split, with trailing bytes', async () => {
    const input = Buffer.concat([hex('05 01 02' + '01 05' + ascii('alice') + '06' + ascii('s3cret') + '05 01 00 01 7f 00 00 01 00 50'), PAYLOAD]);
    const seen: string[] = [];
    const method = userpass({
      verify: async (u, p) => {
        seen.push(`${u}:${p.length}`);
        await new Promise((r) => setImmediate(r));
        return u === 'alice' && p === 's3cret' ? { user: u, role: 'admin' } : false;
      },
    });
    for (const s of splits(input)) {
      for (const when of ['now', 'end'] as const) {
        const sim = await new Sim({ methods: [method] }, 'accept', when).feed(s.chunks);
        expect(sim.written, s.name).to.equal('05 02 01 00 ' + OK5);
        expect(sim.requests[0]!.identity, s.name).to.deep.equal({ user: 'alice', role: 'admin' });
        expect(sim.tunnelData, s.name).to.equal(toHex(PAYLOAD));
      }
    }
    expect(seen.every((x) => x === 'alice:6')).to.equal(true);
  });

  it('verify flow: the engine waits in auth-verify and keeps early bytes', () => {
    const e = new ServerHandshake({ methods: [userpass({ verify: () => true })] });
    const a1 = e.receive(hex('05 01 02 01 01 61 01 62'));
    expect(a1.map((a) => a.type)).to.deep.equal(['write', 'verify']);
    expect(e.phase).to.equal('auth-verify');
    expect(e.receive(hex('05 01 00 01 7f 00 00 01 00 50 ff'))).to.deep.equal([]);
    const a2 = e.verified({ ok: true, value: true });
    expect(a2.map((a) => a.type)).to.deep.equal(['write', 'request']);
    expect(toHex((a2[0] as { data: Buffer }).data)).to.equal('01 00');
    const a3 = e.accept();
    expect(toHex((a3[0] as { data: Buffer }).data)).to.equal('05 00 00 01 00 00 00 00 00 00');
    expect(toHex((a3[1] as { head: Buffer }).head)).to.equal('ff');
  });

  it('verify flow: a verifier that rejects or throws → 01 01 and close', async () => {
    for (const verify of [async () => false, async () => null, async () => { throw new Error('db down'); }, () => undefined]) {
      const sim = await new Sim({ methods: [userpass({ verify })] }).feed([hex('05 01 02 01 01 61 01 62 05 01 00 01 7f 00 00 01 00 50')]);
      expect(sim.written).to.equal('05 02 01 01');
      expect(sim.terminals).to.deep.equal(['close']);
      expect(sim.closeError).to.be.instanceOf(AuthError);
      expect(sim.closeError!.code).to.equal('ERR_SOCKS_AUTH_FAILED');
    }
  });

  it('SOCKS4 identify policy with an async check', async () => {
    const opts: ServerHandshakeOptions = {
      methods: [none()],
      socks4Identify: (r) => ({ check: async () => `ident:${r.userId}` }),
    };
    const sim = await new Sim(opts).feed([hex('04 01 00 50 7f 00 00 01' + ascii('bob') + '00')]);
    expect(sim.requests[0]!.identity).to.equal('ident:bob');
    expect(sim.written).to.equal(OK4);
    // A failed check answers with the SocksError's SOCKS4 code (here 5D), exactly.
    const bad = await new Sim({
      methods: [none()],
      socks4Identify: () => ({ check: async () => { throw new SocksError('ERR_SOCKS_AUTH_FAILED', 'ident mismatch', 0x5d); } }),
    }).feed([hex('04 01 00 50 7f 00 00 01 00')]);
    expect(bad.written).to.equal('00 5d 00 00 00 00 00 00');
    expect(bad.closeError!.reply).to.equal(0x5d);
  });

  it('a method that speaks first (start) and takes several rounds', async () => {
    // A private method 0x80: the server sends a 1-byte nonce, the client answers nonce+1.
    const method: AuthMethod<string> = {
      code: 0x80,
      name: 'nonce',
      server: () => ({
        maxMessage: 1,
        start: (): AuthStep<string> => ({ kind: 'more', write: hex('2a') }),
        receive: (q): AuthStep<string> => {
          if (q.length < 1) return { kind: 'more' };
          const b = q.take(1)[0];
          return b === 0x2b ? { kind: 'done', identity: 'nonce-ok', write: hex('00') } : { kind: 'fail', error: new AuthError('bad nonce', 0x80), write: hex('ff') };
        },
      }),
    };
    const input = hex('05 02 00 80 2b 05 01 00 01 7f 00 00 01 00 50');
    for (const s of splits(input)) {
      const sim = await new Sim({ methods: [method, none()] }).feed(s.chunks);
      expect(sim.written, s.name).to.equal('05 80 2a 00 ' + OK5);
      expect(sim.requests[0]!.identity).to.equal('nonce-ok');
    }
    const bad = await new Sim({ methods: [method] }).feed([hex('05 01 80 2c 05 01 00 01 7f 00 00 01 00 50')]);
    expect(bad.written).to.equal('05 80 2a ff');
    expect(bad.terminals).to.deep.equal(['close']);
  });

  it('selects by server preference among offered methods, honouring a custom selector', async () => {
    const sim = await new Sim({ methods: [users(), none()] }).feed([hex('05 02 00 02')]);
    expect(sim.written).to.equal('05 02');
    const sim2 = await new Sim({ methods: [users(), none()], selectMethod: (_o, m) => m[1] }).feed([hex('05 02 00 02 05 01 00 01 7f 00 00 01 00 50')]);
    expect(sim2.written).to.equal('05 00 ' + OK5);
    // A selector that picks something the client did not offer is overruled: 05 FF.
    const sim3 = await new Sim({ methods: [users(), none()], selectMethod: (_o, m) => m[0] }).feed([hex('05 01 00')]);
    expect(sim3.written).to.equal('05 ff');
    expect(sim3.terminals).to.deep.equal(['close']);
  });

  it('deny(): exact failure replies for SOCKS5 and SOCKS4', () => {
    const cases: [string, number, string][] = [
      ['05 01 00 05 01 00 01 7f 00 00 01 00 50', Reply.NotAllowedByRuleset, '05 00 05 02 00 01 00 00 00 00 00 00'],
      ['05 01 00 05 01 00 01 7f 00 00 01 00 50', Reply.Succeeded, '05 00 05 01 00 01 00 00 00 00 00 00'],
      ['05 01 00 05 01 00 01 7f 00 00 01 00 50', Reply.TtlExpired, '05 00 05 06 00 01 00 00 00 00 00 00'],
      ['04 01 00 50 7f 00 00 01 00', Reply.ConnectionRefused, '00 5b 00 00 00 00 00 00'],
      ['04 01 00 50 7f 00 00 01 00', 0x5c, '00 5c 00 00 00 00 00 00'],
    ];
    for (const [input, reply, written] of cases) {
      const e = new ServerHandshake({ methods: [none()] });
      const pre = e.receive(hex(input));
      const out = [...pre, ...e.deny(reply)];
      const bytes = out.filter((a) => a.type === 'write').map((a) => (a as { data: Buffer }).data);
      expect(toHex(Buffer.concat(bytes))).to.equal(written);
      const close = out[out.length - 1]!;
      expect(close.type).to.equal('close');
      expect((close as { error: SocksError }).error.code).to.equal('ERR_SOCKS_DENIED');
      expect(e.receive(hex('00'))).to.deep.equal([]);
    }
  });

  it('misuse is a LocalProtocolError: deciding before a request, twice, or verified() out of turn', () => {
    const e = new ServerHandshake({ methods: [none()] });
    expect(() => e.accept()).to.throw(LocalProtocolError);
    expect(() => e.deny()).to.throw(LocalProtocolError);
    expect(() => e.handoff()).to.throw(LocalProtocolError);
    const v = e.verified({ ok: true, value: 1 });
    expect(v.map((a) => a.type)).to.deep.equal(['close']);
    expect((v[0] as { error: SocksError }).error.code).to.equal('ERR_SOCKS_USAGE');
    const e2 = new ServerHandshake({ methods: [none()] });
    e2.receive(hex('05 01 00 05 01 00 01 7f 00 00 01 00 50'));
    e2.accept();
    expect(() => e2.accept()).to.throw(LocalProtocolError);
    expect(e2.receive(hex('01 02'))).to.deep.equal([]);
  });
});

interface Bad {
  name: string;
  input: Buffer;
  options?: () => ServerHandshakeOptions;
  /** Exact bytes written, in spaced hex ('' for nothing). */
  written: string;
  code: string;
  reply: number | undefined;
  /** Error class, when it matters. */
  type?: new (...a: never[]) => SocksError;
  /** Also check every split (skipped for long inputs to keep the run short). */
  allSplits?: boolean;
}

const S4_HEAD = '04 01 00 50 7f 00 00 01';
const FAIL5 = (rep: string) => `05 ${rep} 00 01 00 00 00 00 00 00`;

const BAD: Bad[] = [
  { name: 'NMETHODS = 0', input: hex('05 00'), written: '05 ff', code: 'ERR_SOCKS_AUTH_FAILED', reply: undefined, type: AuthError, allSplits: true },
  { name: 'NMETHODS = 0 with a request pipelined behind it', input: hex('05 00 05 01 00 01 7f 00 00 01 00 50'), written: '05 ff', code: 'ERR_SOCKS_AUTH_FAILED', reply: undefined, allSplits: true },
  { name: 'only userpass configured, client offers 00', input: hex('05 01 00'), options: () => ({ methods: [users()] }), written: '05 ff', code: 'ERR_SOCKS_AUTH_FAILED', reply: undefined, allSplits: true },
  { name: 'GSS-API (01) offered, not implemented', input: hex('05 01 01'), written: '05 ff', code: 'ERR_SOCKS_AUTH_FAILED', reply: undefined, allSplits: true },
  {
    name: 'RFC 1929 with VER 05 instead of 01',
    input: hex('05 01 02 05 05' + ascii('alice') + '06' + ascii('s3cret')),
    options: () => ({ methods: [users()] }),
    written: '05 02',
    code: 'ERR_SOCKS_BAD_VERSION',
    reply: Reply.GeneralFailure,
    allSplits: true,
  },
  {
    name: 'wrong password',
    input: hex('05 01 02 01 05' + ascii('alice') + '05' + ascii('wrong') + '05 01 00 01 7f 00 00 01 00 50'),
    options: () => ({ methods: [users()] }),
    written: '05 02 01 01',
    code: 'ERR_SOCKS_AUTH_FAILED',
    reply: undefined,
    type: AuthError,
    allSplits: true,
  },
  {
    name: 'unknown user',
    input: hex('05 01 02 01 03' + ascii('eve') + '06' + ascii('s3cret')),
    options: () => ({ methods: [users()] }),
    written: '05 02 01 01',
    code: 'ERR_SOCKS_AUTH_FAILED',
    reply: undefined,
    allSplits: true,
  },
  {
    name: 'empty username not configured',
    input: hex('05 01 02 01 00 06' + ascii('s3cret')),
    options: () => ({ methods: [userpass({ users: { alice: 's3cret' } })] }),
    written: '05 02 01 01',
    code: 'ERR_SOCKS_AUTH_FAILED',
    reply: undefined,
    allSplits: true,
  },
  {
    name: 'Tor RESOLVE probe: CMD F0 "0.0.0.0" → 07',
    input: hex('05 01 00 05 F0 00 03 07' + ascii('0.0.0.0') + '00 00'),
    written: '05 00 ' + FAIL5('07'),
    code: 'ERR_SOCKS_BAD_COMMAND',
    reply: Reply.CommandNotSupported,
    allSplits: true,
  },
  { name: 'CMD 00 → 07', input: hex('05 01 00 05 00 00 01 7f 00 00 01 00 50'), written: '05 00 ' + FAIL5('07'), code: 'ERR_SOCKS_BAD_COMMAND', reply: 7, allSplits: true },
  { name: 'CMD 04 → 07', input: hex('05 01 00 05 04 00 01 7f 00 00 01 00 50'), written: '05 00 ' + FAIL5('07'), code: 'ERR_SOCKS_BAD_COMMAND', reply: 7 },
  { name: 'unknown ATYP 02 → 08', input: hex('05 01 00 05 01 00 02 7f 00 00 01 00 50'), written: '05 00 ' + FAIL5('08'), code: 'ERR_SOCKS_BAD_ADDRESS_TYPE', reply: 8, allSplits: true },
  { name: 'unknown ATYP ff, nothing after it → 08', input: hex('05 01 00 05 01 00 ff'), written: '05 00 ' + FAIL5('08'), code: 'ERR_SOCKS_BAD_ADDRESS_TYPE', reply: 8, allSplits: true },
  { name: 'empty domain → 04', input: hex('05 01 00 05 01 00 03 00 00 50'), written: '05 00 ' + FAIL5('04'), code: 'ERR_SOCKS_BAD_ADDRESS', reply: 4, allSplits: true },
  { name: 'request VER 04 after a SOCKS5 greeting → 01', input: hex('05 01 00 04 01 00 01 7f 00 00 01 00 50'), written: '05 00 ' + FAIL5('01'), code: 'ERR_SOCKS_BAD_VERSION', reply: 1, allSplits: true },
  {
    name: 'SOCKS4 USERID of 256 bytes → 5B',
    input: Buffer.concat([hex(S4_HEAD), Buffer.alloc(256, 0x75), hex('00')]),
    written: '00 5b 00 00 00 00 00 00',
    code: 'ERR_SOCKS_BUFFER_LIMIT',
    reply: 0x5b,
  },
  {
    name: 'SOCKS4 USERID that never ends → 5B once 256 bytes are in',
    input: Buffer.concat([hex(S4_HEAD), Buffer.alloc(4000, 0x75)]),
    written: '00 5b 00 00 00 00 00 00',
    code: 'ERR_SOCKS_BUFFER_LIMIT',
    reply: 0x5b,
  },
  {
    name: 'SOCKS4a hostname of 256 bytes → 5B',
    input: Buffer.concat([hex('04 01 00 50 00 00 00 01 00'), Buffer.alloc(256, 0x68), hex('00')]),
    written: '00 5b 00 00 00 00 00 00',
    code: 'ERR_SOCKS_BUFFER_LIMIT',
    reply: 0x5b,
  },
  { name: 'SOCKS4a empty hostname → 5B', input: hex('04 01 00 50 00 00 00 01 00 00'), written: '00 5b 00 00 00 00 00 00', code: 'ERR_SOCKS_BAD_ADDRESS', reply: 0x5b, allSplits: true },
  { name: 'SOCKS4 CD 03 (no UDP in SOCKS4) → 5B', input: hex('04 03 00 50 7f 00 00 01 00'), written: '00 5b 00 00 00 00 00 00', code: 'ERR_SOCKS_BAD_COMMAND', reply: 0x5b, allSplits: true },
  { name: 'SOCKS4 CD F0 → 5B', input: hex('04 f0 00 50 00 00 00 01 00' + ascii('x') + '00'), written: '00 5b 00 00 00 00 00 00', code: 'ERR_SOCKS_BAD_COMMAND', reply: 0x5b, allSplits: true },
  {
    name: 'SOCKS4 disabled → 5B, request not served',
    input: hex(S4_HEAD + '00'),
    options: () => ({ methods: [none()], socks4: false }),
    written: '00 5b 00 00 00 00 00 00',
    code: 'ERR_SOCKS_SOCKS4_OFF',
    reply: 0x5b,
    allSplits: true,
  },
  { name: 'first byte G (HTTP) → close, nothing written', input: Buffer.from('GET / HTTP/1.1\r\n\r\n'), written: '', code: 'ERR_SOCKS_BAD_VERSION', reply: undefined, allSplits: true },
  { name: 'first byte 16 (TLS ClientHello) → close', input: hex('16 03 01 02 00 01 00 01 fc 03 03'), written: '', code: 'ERR_SOCKS_BAD_VERSION', reply: undefined },
  { name: 'first byte 00 → close', input: hex('00'), written: '', code: 'ERR_SOCKS_BAD_VERSION', reply: undefined },
];

describe('ServerHandshake: bad inputs (exact bytes, err.code, err.reply)', () => {
  for (const b of BAD) {
    it(b.name, async () => {
      const cuts = b.allSplits ? splits(b.input) : [{ name: 'whole', chunks: [b.input] }, { name: 'byte-by-byte', chunks: [...b.input].map((x) => Buffer.from([x])) }];
      for (const s of cuts) {
        const sim = await new Sim(b.options ? b.options() : { methods: [none()] }).feed(s.chunks);
        expect(sim.written, s.name).to.equal(b.written);
        expect(sim.terminals, s.name).to.deep.equal(['close']);
        expect(sim.requests, s.name).to.have.length(0);
        const err = sim.closeError!;
        expect(err, s.name).to.be.instanceOf(SocksError);
        if (b.type) expect(err, s.name).to.be.instanceOf(b.type);
        expect(err.code, s.name).to.equal(b.code);
        expect(err.reply, s.name).to.equal(b.reply);
        expect(sim.engine.phase).to.equal('closed');
        expect(sim.engine['queue'].length, `${s.name}: nothing kept after close`).to.equal(0);
      }
    });
  }
});

describe('ServerHandshake: buffering is bounded', () => {
  it('the largest legal messages pass: 255 methods, 255/255 credentials, 255-byte domain, 4a 255/255', async () => {
    const methods = Array.from({ length: 255 }, (_, i) => (i + 3) & 0xff);
    methods[254] = 0x02;
    const u = 'u'.repeat(255);
    const p = 'p'.repeat(255);
    const name = 'n'.repeat(255);
    const input = Buffer.concat([
      Buffer.from([5, 255, ...methods]),
      Buffer.from([1, 255]), Buffer.from(u), Buffer.from([255]), Buffer.from(p),
      hex('05 01 00 03 ff'), Buffer.from(name), hex('01 bb'),
    ]);
    const sim = await new Sim({ methods: [userpass({ users: { [u]: p } })] }).feed([input]);
    expect(sim.written).to.equal('05 02 01 00 ' + OK5);
    expect(sim.requests[0]!.destination.host).to.equal(name);
    const four = Buffer.concat([hex('04 01 00 50 00 00 00 01'), Buffer.alloc(255, 0x61), hex('00'), Buffer.alloc(255, 0x62), hex('00')]);
    const s4 = await new Sim({ methods: [none()] }).feed([...four].map((x) => Buffer.from([x])));
    expect(s4.written).to.equal(OK4);
  });

  it('an auth method that never completes is cut off at its maxMessage', async () => {
    const stuck: AuthMethod = { code: 0x81, name: 'stuck', server: () => ({ maxMessage: 16, receive: () => ({ kind: 'more' }) }) };
    const sim = new Sim({ methods: [stuck] });
    await sim.feed([hex('05 01 81')]);
    let fed = 0;
    while (!sim.done && fed < 1000) {
      await sim.feed([hex('00')]);
      fed++;
      expect(sim.engine['queue'].length).to.be.at.most(16);
    }
    expect(fed).to.equal(16);
    expect(sim.closeError!.code).to.equal('ERR_SOCKS_BUFFER_LIMIT');
    expect(sim.written).to.equal('05 81');
  });

  it('early data while the application decides is capped by maxEarlyData (then 05 01 and close)', async () => {
    const sim = new Sim({ methods: [none()], maxEarlyData: 100 }, 'accept', 'end');
    sim.apply(sim.engine.receive(hex('05 01 00 05 01 00 01 7f 00 00 01 00 50')));
    sim.apply(sim.engine.receive(Buffer.alloc(100)));
    expect(sim.done).to.equal(false);
    sim.apply(sim.engine.receive(Buffer.alloc(1)));
    expect(sim.written).to.equal('05 00 ' + FAIL5('01'));
    expect(sim.closeError!.code).to.equal('ERR_SOCKS_BUFFER_LIMIT');
    expect(sim.engine['queue'].length).to.equal(0);
  });

  it('early data while a verify is pending is capped too (closes without a reply)', () => {
    const e = new ServerHandshake({ methods: [userpass({ verify: () => true })], maxEarlyData: 10 });
    e.receive(hex('05 01 02 01 01 61 01 62'));
    expect(e.receive(Buffer.alloc(10))).to.deep.equal([]);
    const out = e.receive(Buffer.alloc(1));
    expect(out.map((a) => a.type)).to.deep.equal(['close']);
    expect((out[0] as { error: SocksError }).error.code).to.equal('ERR_SOCKS_BUFFER_LIMIT');
  });

  it(`never holds more than the largest message of a state (greeting ${Limits.greeting}, request ${Limits.request5}, auth ${Limits.userpass})`, async () => {
    // Incomplete messages, one byte at a time: the queue never exceeds the message size.
    const probes: [Buffer, ServerHandshakeOptions, number][] = [
      [Buffer.concat([hex('05 ff'), Buffer.alloc(254, 0x03)]), { methods: [none()] }, Limits.greeting],
      [Buffer.concat([hex('05 01 00 05 01 00 03 ff'), Buffer.alloc(255, 0x61), hex('00')]), { methods: [none()] }, Limits.request5],
      [Buffer.concat([hex('05 01 02 01 ff'), Buffer.alloc(255, 0x61), hex('ff'), Buffer.alloc(254, 0x62)]), { methods: [users()] }, Limits.userpass],
    ];
    for (const [input, options, max] of probes) {
      const e = new ServerHandshake(options);
      for (const b of input) {
        const out = e.receive(Buffer.from([b]));
        expect(out.some((a) => a.type === 'close')).to.equal(false);
        expect(e['queue'].length).to.be.below(max);
      }
    }
  });
});
