/** 'connectionEnd' records, error classes, byte counters and the access-log line formats. */
import { expect } from 'chai';
import net from 'node:net';
import { SocksServer, userpass, formatText, formatJson, escapeField, LOG_FIELDS, type ConnectionRecord, type SocksServerOptions, type LookupFunction } from '../../lib/index.js';
import { hex } from '../support/helpers.js';
import { talk, closedPort } from '../support/server.js';

const port16 = (p: number) => Buffer.from([p >> 8, p & 255]);
const domainReq = (name: string, port: number) => Buffer.concat([hex('05 01 00 03'), Buffer.from([name.length]), Buffer.from(name, 'latin1'), port16(port)]);
const AUTH = hex('05 01 02 01 05 616c696365 06 733363726574'); // alice / s3cret

/** Runs one exchange against a fresh server and returns the single record it produced. */
async function recordOf(options: SocksServerOptions, bytes: Buffer, keepOpenMs = 0): Promise<{ rec: ConnectionRecord; server: SocksServer; reply: Buffer }> {
  const server = new SocksServer(options);
  const recs: ConnectionRecord[] = [];
  server.on('connectionEnd', (r: ConnectionRecord) => recs.push(r));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const reply = await talk((server.address() as net.AddressInfo).port, bytes, keepOpenMs);
    for (let i = 0; i < 100 && recs.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(recs).to.have.length(1);
    return { rec: recs[0]!, server, reply };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const fakeLookup = (result: { address?: string; code?: string }): LookupFunction =>
  ((_h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a?: string, f?: number) => void) => {
    if (result.code) cb(Object.assign(new Error(result.code), { code: result.code }));
    else cb(null, result.address, 4);
  }) as unknown as LookupFunction;

describe("SocksServer 'connectionEnd' records", () => {
  it('a CONNECT tunnel by name: method, identity, destination as requested, address dialled, reply, bytes each way, how it ended', async () => {
    const target = net.createServer((s) => s.on('data', () => s.end('world!')));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const tp = (target.address() as net.AddressInfo).port;
    try {
      const { rec, server } = await recordOf(
        { methods: [userpass({ users: { alice: 's3cret' } })], lookup: fakeLookup({ address: '127.0.0.1' }) },
        Buffer.concat([AUTH, domainReq('example.test', tp), Buffer.from('hello')]),
        200,
      );
      expect(rec).to.deep.include({
        method: 'userpass', identity: 'alice', command: 'connect', destination: `example.test:${tp}`, dialled: `127.0.0.1:${tp}`,
        reply: 0, bytesUp: 5, bytesDown: 6, end: 'closed', error: undefined,
      });
      expect(rec.client).to.match(/^127\.0\.0\.1:\d+$/);
      expect(rec.listener).to.match(/^127\.0\.0\.1:\d+$/);
      expect(rec.durationMs).to.be.a('number');
      expect(rec.handshakeMs).to.be.a('number');
      expect(JSON.stringify(rec)).to.not.include('s3cret');
      const st = server.stats();
      expect(st).to.deep.include({ bytesUp: 5, bytesDown: 6, tunnels: 1, tunnelsOpen: 0 });
    } finally {
      target.close();
    }
  });

  const cases: [string, () => Promise<SocksServerOptions>, Buffer | (() => Promise<Buffer>), string, number | undefined][] = [
    ['refused (05)', async () => ({}), async () => Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01'), port16(await closedPort())]), 'refused', 5],
    ['not found (04, the name does not resolve)', async () => ({ lookup: fakeLookup({ code: 'ENOTFOUND' }) }), hex('05 01 00').subarray(0, 3), 'not-found', 4],
    ['unreachable (04)', async () => ({ lookup: fakeLookup({ code: 'EHOSTUNREACH' }) }), hex('05 01 00'), 'unreachable', 4],
    ['ruleset (02)', async () => ({ rules: [{ action: 'block' as const, port: [[80, 80] as const] }, { action: 'pass' as const }] }), hex('05 01 00'), 'ruleset', 2],
    ['hook error (01)', async () => ({ onRequest: () => { throw new Error('boom'); } }), hex('05 01 00'), 'hook', 1],
    ['timeout (06)', async () => ({ connectTimeout: 100, lookup: (() => undefined) as unknown as LookupFunction }), hex('05 01 00'), 'timeout', 6],
    ['protocol error', async () => ({}), hex('05 01 00 07 01 00 01 7f 00 00 01 00 50'), 'protocol', undefined],
  ];
  for (const [name, opts, bytes, cls, reply] of cases) {
    it(`classes a failure: ${name}`, async () => {
      let b = typeof bytes === 'function' ? await bytes() : bytes;
      if (b.length === 3) b = Buffer.concat([b, domainReq('example.test', 80)]);
      const { rec, server } = await recordOf(await opts(), b);
      expect(rec.error).to.equal(cls);
      expect(rec.reply).to.equal(reply);
      expect(server.stats().errorClasses[cls as 'refused']).to.equal(1);
      const others = Object.entries(server.stats().errorClasses).filter(([k, n]) => k !== cls && n > 0);
      expect(others).to.deep.equal([]);
    });
  }

  it('an authentication failure ends as auth, without the password', async () => {
    const { rec } = await recordOf({ methods: [userpass({ users: { alice: 's3cret' } })] }, hex('05 01 02 01 05 616c696365 05 77726f6e67'));
    expect(rec).to.deep.include({ end: 'auth', error: 'auth', method: 'userpass', identity: undefined });
    expect(JSON.stringify(rec)).to.not.include('wrong');
  });

  it('redactDestination keeps a secret hostname out of the record', async () => {
    const { rec } = await recordOf({ redactDestination: true, rules: [{ action: 'block' }] }, Buffer.concat([hex('05 01 00'), domainReq('sekrit-token', 80)]));
    expect(rec.destination).to.equal(undefined);
    expect(JSON.stringify(rec)).to.not.include('sekrit');
  });
});

describe('access-log line formats', () => {
  const rec: ConnectionRecord = {
    time: '2026-01-01T00:00:00.000Z', listener: '127.0.0.1:1080', client: '127.0.0.1:5000', method: 'userpass', identity: 'al ice',
    command: 'connect', destination: 'evil\r\n2026-01-01T00:00:00.000Z forged=1:80', dialled: undefined, reply: 2,
    bytesUp: 0, bytesDown: 0, durationMs: 3, handshakeMs: 1, end: 'denied', error: 'ruleset',
  };

  it('text: one line, peer strings escaped (CR/LF, space, quote cannot forge a line or a field)', () => {
    const line = formatText(rec);
    expect(line.endsWith('\n')).to.equal(true);
    expect(line.slice(0, -1)).to.not.match(/[\r\n]/);
    expect(line).to.equal(
      '2026-01-01T00:00:00.000Z listener=127.0.0.1:1080 client=127.0.0.1:5000 method=userpass identity=al\\x20ice user=- userid=- command=connect ' +
        'destination=evil\\x0d\\x0a2026-01-01T00:00:00.000Z\\x20forged=1:80 dialled=- rule=- reply=2 bytesUp=0 bytesDown=0 durationMs=3 handshakeMs=1 end=denied error=ruleset\n',
    );
    expect(escapeField('a"b\\c\u00e9')).to.equal('a\\x22b\\x5cc\\xc3\\xa9');
  });

  it('text: every field of LOG_FIELDS in its order, optional ones only when set, whatever the values', () => {
    // The loop formatText once was: the reference for the order and the rules.
    const reference = (r: ConnectionRecord, worker = r.worker): string => {
      let line = r.time;
      for (const k of LOG_FIELDS.slice(1)) {
        const v = k === 'worker' ? worker : r[k];
        if ((k === 'via' || k === 'worker') && v === undefined) continue;
        line += ` ${k}=` + (v === undefined ? '-' : v === '' ? '""' : typeof v === 'number' ? String(v) : escapeField(String(v)));
      }
      return line + '\n';
    };
    const full = { ...rec, user: 'u"1', userid: '', dialled: '127.0.0.1:80', via: 'socks5://up:1', rule: 'r 1', worker: 2 } as ConnectionRecord;
    const odd = { ...rec, reply: undefined, bytesUp: 12, method: '', handshakeMs: undefined, via: 7, worker: 'w\n' } as unknown as ConnectionRecord;
    for (const r of [rec, full, odd]) {
      expect(formatText(r)).to.equal(reference(r));
      expect(formatText(r, 3)).to.equal(reference(r, 3));
    }
    expect(formatText(full)).to.include(' dialled=127.0.0.1:80 via=socks5://up:1 rule=r\\x201 ').and.to.include(' worker=2\n');
  });

  it('json: one line that parses back to the record', () => {
    const line = formatJson(rec);
    expect(line.slice(0, -1)).to.not.match(/[\r\n]/);
    expect(JSON.parse(line)).to.deep.equal(JSON.parse(JSON.stringify(rec)));
  });
});
