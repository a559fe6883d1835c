/**
 * GSS-API method (RFC 1961): frame codec, the shared-key test mechanism,
 * protection negotiation and MTYP 03 encapsulation, through the server
 * engine at every split point and against the client engine in memory.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { PassThrough, Duplex } from 'node:stream';
import { ServerHandshake, ServerAction } from '../../lib/protocol/server-handshake.js';
import { ClientHandshake, ClientAction } from '../../lib/protocol/client-handshake.js';
import { makeAddress } from '../../lib/protocol/codec/address.js';
import { SocksError, AuthError } from '../../lib/protocol/errors.js';
import { encapsulate } from '../../lib/transport/encapsulation-stream.js';
import {
  encodeGssFrame, decodeGssFrame, GSS_ABORT, GSS_EMPTY_AUTH, GSS_MAX_TOKEN, GssMessageType,
} from '../../methods/gssapi/frame.js';
import { gssapi, gssapiPsk, GssEncapsulation, GssProtection, parsePskKey, pskMechanism } from '../../methods/gssapi/index.js';
import type { GssStep } from '../../methods/gssapi/mechanism.js';
import type { AuthMethod, Encapsulation } from '../../lib/protocol/method.js';
import { none } from '../../methods/none.js';
import { hex, splits, prng } from '../support/helpers.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const OTHER_KEY = Buffer.alloc(32, 7);
const DEST = makeAddress('example.com', 443);
const PAYLOAD = Buffer.from('GET / HTTP/1.0\r\nHost: example.com\r\n\r\n');

/** Deterministic nonces, so a transcript can be replayed byte for byte. */
function seeded(label: string): (n: number) => Buffer {
  let i = 0;
  return (n) => createHash('sha256').update(`${label}:${i++}`).digest().subarray(0, n);
}

function serverMethod(protection?: GssProtection | GssProtection[], key = KEY) {
  return gssapiPsk({ key, protection, random: seeded('server') });
}
function clientMethod(protection?: GssProtection | GssProtection[], key = KEY, name = 'alice') {
  return gssapiPsk({ key, protection, name, random: seeded('client') });
}

interface Run {
  clientBytes: Buffer[];
  serverBytes: Buffer[];
  clientActions: ClientAction[];
  serverActions: ServerAction[];
  clientEnc?: Encapsulation;
  serverEnc?: Encapsulation;
  head?: Buffer;
  identity?: unknown;
}

/** Client engine ⇄ server engine in memory, synchronously; accepts the request. */
function converse(client: AuthMethod, server: AuthMethod, serverOpts: Partial<ConstructorParameters<typeof ServerHandshake>[0]> = {}): Run {
  const c = new ClientHandshake({ destination: DEST, methods: [client] });
  const s = new ServerHandshake({ methods: [server], ...serverOpts });
  const run: Run = { clientBytes: [], serverBytes: [], clientActions: [], serverActions: [] };
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  const onClient = (as: ClientAction[]) => {
    for (const a of as) {
      run.clientActions.push(a);
      if (a.type === 'write') { run.clientBytes.push(a.data); toServer.push(a.data); }
      if (a.type === 'established') run.clientEnc = a.encapsulation;
    }
  };
  const onServer = (as: ServerAction[]) => {
    for (const a of as) {
      run.serverActions.push(a);
      if (a.type === 'write') { run.serverBytes.push(a.data); toClient.push(a.data); }
      if (a.type === 'request') { run.identity = a.request.identity; onServer(s.accept()); }
      if (a.type === 'established') { run.serverEnc = a.encapsulation; run.head = a.head; }
    }
  };
  onClient(c.start());
  for (let guard = 0; guard < 50 && (toServer.length || toClient.length); guard++) {
    while (toServer.length) onServer(s.receive(toServer.shift()!));
    while (toClient.length) onClient(c.receive(toClient.shift()!));
  }
  return run;
}

/** Feeds a fresh server engine chunk by chunk; accepts the request when it comes. */
function feedServer(method: AuthMethod, chunks: Buffer[]) {
  const s = new ServerHandshake({ methods: [method] });
  const written: Buffer[] = [];
  const actions: ServerAction[] = [];
  let request: Extract<ServerAction, { type: 'request' }>['request'] | undefined;
  let established: Extract<ServerAction, { type: 'established' }> | undefined;
  let error: SocksError | undefined;
  const apply = (as: ServerAction[]) => {
    for (const a of as) {
      actions.push(a);
      if (a.type === 'write') written.push(a.data);
      if (a.type === 'close') error = a.error;
      if (a.type === 'request') { request = a.request; apply(s.accept()); }
      if (a.type === 'established') established = a;
    }
  };
  for (const chunk of chunks) {
    if (established) {
      // After established the adapter owns the bytes; they go through the encapsulation.
      try {
        established.head = Buffer.concat([established.head, established.encapsulation!.unwrap(chunk)]);
      } catch (err) {
        error = err as SocksError;
        break;
      }
    } else {
      apply(s.receive(chunk));
    }
  }
  return { written: Buffer.concat(written), actions, request, established, error };
}

function frames(buf: Buffer): { type: number; token?: Buffer }[] {
  const out: { type: number; token?: Buffer }[] = [];
  let off = 0;
  while (off < buf.length) {
    const f = decodeGssFrame(buf.subarray(off));
    if (!f) throw new Error('partial frame');
    out.push(f.type === 0xff ? { type: 0xff } : { type: f.type, token: f.token });
    off += f.length;
  }
  return out;
}

describe('GSS-API frame codec (RFC 1961 §3–§5)', () => {
  it('encodes VER 01, MTYP, 2-byte BE LEN, token', () => {
    expect(encodeGssFrame(1, hex('aa bb cc'))).to.deep.equal(hex('01 01 00 03 aa bb cc'));
    expect(encodeGssFrame(2, hex('01'))).to.deep.equal(hex('01 02 00 01 01'));
    expect(encodeGssFrame(3, Buffer.alloc(0x1234))).to.have.length(4 + 0x1234);
    expect(encodeGssFrame(3, Buffer.alloc(0x1234)).subarray(0, 4)).to.deep.equal(hex('01 03 12 34'));
    expect(GSS_ABORT).to.deep.equal(hex('01 ff'));
    expect(GSS_EMPTY_AUTH).to.deep.equal(hex('01 01 00 00'));
  });

  it('takes a 65535-byte token and refuses a bigger one', () => {
    const f = encodeGssFrame(3, Buffer.alloc(GSS_MAX_TOKEN, 1));
    expect(f.subarray(0, 4)).to.deep.equal(hex('01 03 ff ff'));
    expect(decodeGssFrame(f)).to.include({ type: 3, length: 4 + 65535 });
    expect(() => encodeGssFrame(3, Buffer.alloc(GSS_MAX_TOKEN + 1))).to.throw(SocksError).with.property('code', 'ERR_SOCKS_USAGE');
  });

  it('decodes at every split: undefined until the frame is whole, trailing bytes left', () => {
    const msg = hex('01 01 00 03 aa bb cc');
    for (let i = 0; i < msg.length; i++) expect(decodeGssFrame(msg.subarray(0, i)), `prefix ${i}`).to.equal(undefined);
    const f = decodeGssFrame(Buffer.concat([msg, hex('01 ff')]))!;
    expect(f).to.deep.include({ type: 1, length: 7 });
    expect((f as { token: Buffer }).token).to.deep.equal(hex('aa bb cc'));
    expect(decodeGssFrame(hex('01 01 00 00'))).to.deep.include({ type: 1, length: 4 });
  });

  it('decodes the 2-byte abort 01 FF with no length', () => {
    expect(decodeGssFrame(hex('01'))).to.equal(undefined);
    expect(decodeGssFrame(hex('01 ff'))).to.deep.equal({ type: 0xff, length: 2 });
  });

  const bad: [string, string, string][] = [
    ['version 05', '05 01 00 00', 'ERR_SOCKS_BAD_VERSION'],
    ['version 00', '00 ff', 'ERR_SOCKS_BAD_VERSION'],
    ['mtyp 04', '01 04 00 00', 'ERR_SOCKS_PROTOCOL'],
    ['mtyp 00', '01 00', 'ERR_SOCKS_PROTOCOL'],
  ];
  for (const [name, bytes, code] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => decodeGssFrame(hex(bytes))).to.throw(SocksError).with.property('code', code);
    });
  }

  it('refuses a LEN over the configured limit as soon as the header is seen', () => {
    expect(() => decodeGssFrame(hex('01 03 04 01'), 1024)).to.throw(SocksError).with.property('code', 'ERR_SOCKS_BUFFER_LIMIT');
  });
});

describe('GSS-API pre-shared-key test mechanism', () => {
  it('establishes a context in several rounds with mutual proof, names the client', () => {
    const mech = pskMechanism({ key: KEY, name: 'alice' });
    const i = mech.initiator!({});
    const a = mech.acceptor!({});
    const s1 = i.initSecContext() as GssStep;
    expect(s1.complete).to.equal(false);
    const s2 = a.acceptSecContext(s1.token!) as GssStep;
    expect(s2.complete).to.equal(false);
    const s3 = i.initSecContext(s2.token) as GssStep;
    expect(s3.complete).to.equal(true);
    const s4 = a.acceptSecContext(s3.token!) as GssStep;
    expect(s4).to.deep.equal({ complete: true });
    expect(a.peerName).to.equal('alice');
    const t = i.wrap(Buffer.from('hi'), true);
    expect(a.unwrap(t)).to.deep.equal({ data: Buffer.from('hi'), confidential: true });
    const u = a.wrap(Buffer.from('yo'), false);
    expect(i.unwrap(u)).to.deep.equal({ data: Buffer.from('yo'), confidential: false });
  });

  it('fresh nonces: two sessions never share tokens', () => {
    const mech = pskMechanism({ key: KEY });
    const t1 = (mech.initiator!({}).initSecContext() as GssStep).token!;
    const t2 = (mech.initiator!({}).initSecContext() as GssStep).token!;
    expect(t1.equals(t2)).to.equal(false);
  });

  it('a wrong key fails on the client (server proof) and on the server (client proof)', () => {
    const good = pskMechanism({ key: KEY });
    const bad = pskMechanism({ key: OTHER_KEY });
    const i = bad.initiator!({});
    const a = good.acceptor!({});
    const s2 = a.acceptSecContext((i.initSecContext() as GssStep).token!) as GssStep;
    expect(() => i.initSecContext(s2.token)).to.throw(AuthError);
    // A client that skips the check and sends a forged proof is caught by the server.
    const a2 = good.acceptor!({});
    a2.acceptSecContext((good.initiator!({}).initSecContext() as GssStep).token!);
    expect(() => a2.acceptSecContext(Buffer.concat([Buffer.from('SKP3'), Buffer.alloc(32)]))).to.throw(AuthError);
  });

  it('rejects a short key', () => {
    expect(() => pskMechanism({ key: Buffer.alloc(15) })).to.throw(SocksError);
  });

  it('key files: hex (whitespace ignored) or raw bytes, at least 32 bytes', () => {
    const h = '00112233445566778899aabbccddeeff'.repeat(2);
    expect(parsePskKey(Buffer.from(` ${h}\n`))).to.deep.equal(hex(h));
    const raw = Buffer.from([...Array(32).keys()].map((x) => x * 11));
    expect(parsePskKey(raw)).to.deep.equal(raw);
    expect(() => parsePskKey(Buffer.from('00112233'))).to.throw(SocksError);
    expect(() => parsePskKey(Buffer.alloc(8))).to.throw(SocksError);
  });
});

describe('GSS-API method through the engines', () => {
  it('client half against server half: negotiation, wrapped request/reply, plaintext head', () => {
    const r = converse(clientMethod(), serverMethod());
    const est = r.clientActions.find((a) => a.type === 'established');
    expect(est, 'client established').to.not.equal(undefined);
    expect(r.identity).to.equal('alice');
    expect(r.serverEnc).to.be.instanceOf(GssEncapsulation);
    expect((r.serverEnc as GssEncapsulation).protection).to.equal('confidentiality');
    // Tunnel data both ways.
    const up = r.serverEnc!.unwrap(r.clientEnc!.wrap(PAYLOAD));
    expect(up).to.deep.equal(PAYLOAD);
    const down = r.clientEnc!.unwrap(r.serverEnc!.wrap(Buffer.from('HTTP/1.0 200 OK\r\n')));
    expect(down.toString()).to.equal('HTTP/1.0 200 OK\r\n');
    // Server: 05 01, then auth frames (T2, empty token), protection reply, wrapped reply.
    const all = Buffer.concat(r.serverBytes);
    expect(all.subarray(0, 2)).to.deep.equal(hex('05 01'));
    const fs = frames(all.subarray(2));
    expect(fs.map((f) => f.type)).to.deep.equal([1, 1, 2, 3]);
    expect(fs[1]!.token).to.have.length(0);
    // Client: greeting 05 01 01, then T1, T3, protection, wrapped request.
    const cl = Buffer.concat(r.clientBytes);
    expect(cl.subarray(0, 3)).to.deep.equal(hex('05 01 01'));
    expect(frames(cl.subarray(3)).map((f) => f.type)).to.deep.equal([1, 1, 2, 3]);
    // The request never appears in clear.
    expect(cl.includes(Buffer.from('example.com'))).to.equal(false);
  });

  for (const level of ['integrity', 'confidentiality', 'selective'] as const) {
    it(`negotiates ${level} when the server grants it`, () => {
      const r = converse(clientMethod(level), serverMethod(['integrity', 'confidentiality', 'selective']));
      expect((r.serverEnc as GssEncapsulation).protection).to.equal(level);
      expect((r.clientEnc as GssEncapsulation).protection).to.equal(level);
      expect(r.serverEnc!.unwrap(r.clientEnc!.wrap(PAYLOAD))).to.deep.equal(PAYLOAD);
      const wire = r.clientEnc!.wrap(PAYLOAD);
      expect(wire.includes(PAYLOAD), 'payload visible on the wire').to.equal(level === 'integrity');
    });
  }

  it('the level itself travels wrapped with conf_req FALSE, and the server answers the level it grants', () => {
    const r = converse(clientMethod('integrity'), serverMethod('confidentiality'));
    // Client asked for 1, accepts stronger; server granted 2.
    expect((r.clientEnc as GssEncapsulation).level).to.equal(2);
    const prot = frames(Buffer.concat(r.clientBytes).subarray(3))[2]!;
    expect(prot.type).to.equal(GssMessageType.Protection);
    expect(prot.token![0], 'token flags: not confidential').to.equal(0);
  });

  it('a client that finds the granted level unacceptable closes', () => {
    const r = converse(clientMethod('confidentiality'), serverMethod('integrity'));
    const err = r.clientActions.find((a) => a.type === 'error') as Extract<ClientAction, { type: 'error' }>;
    expect(err.error).to.be.instanceOf(AuthError);
    expect(err.error.message).to.match(/granted protection integrity/);
    expect(r.serverActions.some((a) => a.type === 'request')).to.equal(false);
  });

  it('a wrong key: the client aborts with 01 FF, the server closes with an AuthError', () => {
    const r = converse(clientMethod('confidentiality', OTHER_KEY), serverMethod());
    const err = r.clientActions.find((a) => a.type === 'error') as Extract<ClientAction, { type: 'error' }>;
    expect(err.error.code).to.equal('ERR_SOCKS_AUTH_FAILED');
    expect(r.clientBytes.at(-1)).to.deep.equal(GSS_ABORT);
    const close = r.serverActions.find((a) => a.type === 'close') as Extract<ServerAction, { type: 'close' }>;
    expect(close.error).to.be.instanceOf(AuthError);
  });

  it('curl-like greeting without 01 gets 05 FF from a GSS-API-only server', () => {
    const out = feedServer(serverMethod(), [hex('05 02 00 02')]);
    expect(out.written).to.deep.equal(hex('05 ff'));
    expect(out.error?.code).to.equal('ERR_SOCKS_AUTH_FAILED');
  });

  it('an async mechanism step becomes a verify action', async () => {
    const base = pskMechanism({ key: KEY });
    const slow = gssapi({
      mechanism: {
        name: 'slow',
        acceptor: (ctx) => {
          const a = base.acceptor!(ctx);
          return {
            acceptSecContext: (t: Buffer) => new Promise<GssStep>((res) => setImmediate(() => res(a.acceptSecContext(t) as GssStep))),
            wrap: a.wrap.bind(a),
            unwrap: a.unwrap.bind(a),
            wrapSizeLimit: a.wrapSizeLimit.bind(a),
            get peerName() { return a.peerName; },
          };
        },
      },
    });
    const s = new ServerHandshake({ methods: [slow] });
    const c = new ClientHandshake({ destination: DEST, methods: [gssapiPsk({ key: KEY })] });
    const pending: Promise<void>[] = [];
    let request: unknown;
    const toS = (as: ClientAction[]) => { for (const a of as) if (a.type === 'write') toC(s.receive(a.data)); };
    const toC = (as: ServerAction[]) => {
      for (const a of as) {
        if (a.type === 'write') toS(c.receive(a.data));
        if (a.type === 'verify') pending.push(Promise.resolve(a.check()).then((value) => toC(s.verified({ ok: true, value }))));
        if (a.type === 'request') { request = a.request; toC(s.accept()); }
      }
    };
    toS(c.start());
    while (pending.length) await pending.shift();
    expect(request).to.have.property('identity', 'psk');
  });
});

describe('GSS-API through ServerHandshake at every split point', () => {
  // One deterministic client transcript: greeting 05 01 01, auth rounds, the
  // wrapped protection request, a wrapped CONNECT and pipelined wrapped payload.
  const ref = converse(clientMethod(), serverMethod());
  const transcript = Buffer.concat([...ref.clientBytes, ref.clientEnc!.wrap(PAYLOAD)]);
  const whole = feedServer(serverMethod(), [transcript]);

  it('the whole transcript: request action, wrapped reply, plaintext head', () => {
    expect(whole.error).to.equal(undefined);
    expect(whole.request).to.deep.include({ version: 5, command: 'connect', destination: DEST, identity: 'alice' });
    expect(whole.established!.head).to.deep.equal(PAYLOAD);
    expect(whole.written).to.deep.equal(Buffer.concat(ref.serverBytes));
    // The client engine decoded the same bytes as a 05 00 success reply.
    expect(ref.clientActions.some((a) => a.type === 'established')).to.equal(true);
    expect(ref.clientActions.some((a) => a.type === 'error')).to.equal(false);
  });

  it('every two-way split and byte by byte give the same actions and bytes', () => {
    let n = 0;
    for (const { name, chunks } of splits(transcript)) {
      const out = feedServer(serverMethod(), chunks);
      expect(out.error, name).to.equal(undefined);
      expect(out.written, name).to.deep.equal(whole.written);
      expect(out.request?.destination, name).to.deep.equal(DEST);
      expect(out.established?.head, name).to.deep.equal(PAYLOAD);
      expect(out.actions.filter((a) => a.type === 'request'), name).to.have.length(1);
      n++;
    }
    expect(n).to.equal(transcript.length + 1);
  });

  // Stage boundaries in the transcript (greeting, T1, T3, protection, request).
  const bounds: number[] = [];
  {
    let off = 0;
    for (const b of ref.clientBytes) { bounds.push(off); off += b.length; }
    bounds.push(off);
  }
  const stages = ['greeting', 'first auth token', 'second auth token', 'protection request', 'wrapped request', 'payload'];

  for (let k = 1; k < bounds.length; k++) {
    if (k === 5) continue; // same as after established, below
    it(`abort 01 FF in place of the ${stages[k]} closes with a typed error`, () => {
      const out = feedServer(serverMethod(), [transcript.subarray(0, bounds[k]), GSS_ABORT]);
      expect(out.request).to.equal(undefined);
      expect(out.error).to.be.instanceOf(SocksError);
      if (k >= 4) {
        // After negotiation an abort is not a legal MTYP 03 frame.
        expect(out.error!.code).to.equal('ERR_SOCKS_ENCAPSULATION');
      } else {
        expect(out.error!.code).to.equal('ERR_SOCKS_AUTH_FAILED');
        expect(out.actions.at(-1)!.type).to.equal('close');
      }
    });
  }

  it('abort 01 FF after the tunnel is established makes unwrap throw ERR_SOCKS_ENCAPSULATION', () => {
    const out = feedServer(serverMethod(), [transcript]);
    expect(() => out.established!.encapsulation!.unwrap(GSS_ABORT)).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
  });

  const reqStart = bounds[4]!;
  const reqEnd = bounds[5]!;
  const payloadFrame = transcript.subarray(reqEnd);

  it('a tampered wrapped request closes with ERR_SOCKS_ENCAPSULATION', () => {
    for (const at of [reqStart + 4, reqStart + 5, reqStart + 13, reqEnd - 1]) {
      const t = Buffer.from(transcript.subarray(0, reqEnd));
      t[at]! ^= 0x01;
      const out = feedServer(serverMethod(), [t]);
      expect(out.error?.code, `byte ${at - reqStart}`).to.equal('ERR_SOCKS_ENCAPSULATION');
      expect(out.request).to.equal(undefined);
    }
  });

  it('a replayed frame (the protection request again) closes with ERR_SOCKS_ENCAPSULATION', () => {
    const prot = transcript.subarray(bounds[3]!, bounds[4]!);
    const replayed = Buffer.concat([transcript.subarray(0, reqStart), Buffer.from([1, 3]), prot.subarray(2)]);
    const out = feedServer(serverMethod(), [replayed]);
    expect(out.error?.code).to.equal('ERR_SOCKS_ENCAPSULATION');
    expect(out.error?.message).to.match(/replayed/);
  });

  it('a replayed or reordered tunnel frame fails; a dropped one too', () => {
    const p2 = ref.clientEnc!.wrap(Buffer.from('second'));
    // replay of the payload frame
    let out = feedServer(serverMethod(), [transcript, payloadFrame]);
    expect(out.established!.head).to.deep.equal(PAYLOAD);
    expect(out.error?.code).to.equal('ERR_SOCKS_ENCAPSULATION');
    expect(out.error?.message).to.match(/replayed/);
    // drop: the second payload frame without the first
    out = feedServer(serverMethod(), [transcript.subarray(0, reqEnd), p2]);
    expect(out.error?.code).to.equal('ERR_SOCKS_ENCAPSULATION');
    expect(out.error?.message).to.match(/out of order/);
    // reorder: second, then first
    out = feedServer(serverMethod(), [transcript.subarray(0, reqEnd), p2, payloadFrame]);
    expect(out.error?.code).to.equal('ERR_SOCKS_ENCAPSULATION');
  });

  it('a truncated token (LEN shortened) closes with ERR_SOCKS_ENCAPSULATION', () => {
    const req = transcript.subarray(reqStart, reqEnd);
    const len = req.readUInt16BE(2);
    const cut = Buffer.concat([hex('01 03'), Buffer.from([(len - 3) >> 8, (len - 3) & 0xff]), req.subarray(4, 4 + len - 3)]);
    const out = feedServer(serverMethod(), [transcript.subarray(0, reqStart), cut]);
    expect(out.error?.code).to.equal('ERR_SOCKS_ENCAPSULATION');
  });

  it('a tampered auth token makes the server send 01 FF and close', () => {
    const t = Buffer.from(transcript.subarray(0, bounds[3]!));
    t[bounds[3]! - 1]! ^= 0x80; // last byte of the client proof
    const out = feedServer(serverMethod(), [t]);
    expect(out.written.subarray(-2)).to.deep.equal(GSS_ABORT);
    expect(out.error).to.be.instanceOf(AuthError);
  });

  it('a frame of the wrong type during authentication gets 01 FF', () => {
    const out = feedServer(serverMethod(), [hex('05 01 01 01 02 00 01 01')]);
    expect(out.written).to.deep.equal(hex('05 01 01 ff'));
    expect(out.error?.code).to.equal('ERR_SOCKS_PROTOCOL');
  });

  it('a bad frame version during authentication gets 01 FF', () => {
    const out = feedServer(serverMethod(), [hex('05 01 01 05 01 00 00')]);
    expect(out.written).to.deep.equal(hex('05 01 01 ff'));
    expect(out.error?.code).to.equal('ERR_SOCKS_BAD_VERSION');
  });
});

describe('GSS-API encapsulation', () => {
  const pair = (level: GssProtection = 'confidentiality', maxToken?: number) => {
    const r = converse(clientMethod(level), serverMethod(level));
    const c = r.clientEnc as GssEncapsulation;
    const s = r.serverEnc as GssEncapsulation;
    return maxToken
      ? { c: new GssEncapsulation((c as unknown as { ctx: never }).ctx, c.level, maxToken), s: new GssEncapsulation((s as unknown as { ctx: never }).ctx, s.level, maxToken) }
      : { c, s };
  };

  for (const level of ['integrity', 'confidentiality'] as const) {
    it(`splits a large write into frames of at most 65535-byte tokens (${level})`, () => {
      const { c, s } = pair(level);
      const big = Buffer.alloc(200_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      const wire = c.wrap(big);
      const fs = frames(wire);
      expect(fs.length).to.be.greaterThan(3);
      for (const f of fs) {
        expect(f.type).to.equal(3);
        expect(f.token!.length).to.be.at.most(GSS_MAX_TOKEN);
      }
      // Fed in odd-sized pieces: partial frames are kept, never more than one.
      const got: Buffer[] = [];
      for (let off = 0; off < wire.length; off += 7777) {
        got.push(s.unwrap(wire.subarray(off, off + 7777)));
        expect(s.pending).to.be.below(4 + GSS_MAX_TOKEN);
      }
      expect(Buffer.concat(got)).to.deep.equal(big);
    });
  }

  it('bounds buffered partial frames by maxToken', () => {
    const { s } = pair('confidentiality', 1024);
    expect(() => s.unwrap(hex('01 03 04 01'))).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
    const { c, s: s2 } = pair('confidentiality', 1024);
    const wire = c.wrap(Buffer.alloc(5000, 1));
    for (const f of frames(wire)) expect(f.token!.length).to.be.at.most(1024);
    expect(s2.unwrap(wire)).to.deep.equal(Buffer.alloc(5000, 1));
  });

  it('after one failure the stream stays failed', () => {
    const { c, s } = pair();
    const w = c.wrap(Buffer.from('x'));
    w[w.length - 1]! ^= 1;
    expect(() => s.unwrap(w)).to.throw(SocksError);
    expect(() => s.unwrap(c.wrap(Buffer.from('y')))).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
  });

  it('level 2 refuses an integrity-only token (downgrade); level 1 refuses an encrypted one', () => {
    const mech = pskMechanism({ key: KEY });
    const i = mech.initiator!({});
    const a = mech.acceptor!({});
    const s2 = a.acceptSecContext((i.initSecContext() as GssStep).token!) as GssStep;
    a.acceptSecContext((i.initSecContext(s2.token) as GssStep).token!);
    const sender1 = new GssEncapsulation(i, 1);
    const recv2 = new GssEncapsulation(a, 2);
    expect(() => recv2.unwrap(sender1.wrap(Buffer.from('plain')))).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
    const sender2 = new GssEncapsulation(a, 2);
    const recv1 = new GssEncapsulation(i, 1);
    expect(() => recv1.unwrap(sender2.wrap(Buffer.from('secret')))).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
  });

  it('selective level: per-message choice, both accepted', () => {
    const r = converse(
      gssapiPsk({ key: KEY, protection: 'selective', confidentialWhen: (b) => b.includes('secret') }),
      serverMethod('selective'),
    );
    const c = r.clientEnc!;
    const s = r.serverEnc!;
    const open = c.wrap(Buffer.from('public data'));
    const hidden = c.wrap(Buffer.from('secret data'));
    expect(open.includes(Buffer.from('public data'))).to.equal(true);
    expect(hidden.includes(Buffer.from('secret data'))).to.equal(false);
    expect(s.unwrap(Buffer.concat([open, hidden])).toString()).to.equal('public datasecret data');
  });

  it('datagrams: one frame each, out of order is fine, a replay or tamper is not', () => {
    const { c, s } = pair();
    const d1 = c.wrapDatagram!(Buffer.from('one'));
    const d2 = c.wrapDatagram!(Buffer.from('two'));
    expect(frames(d1)).to.have.length(1);
    expect(s.unwrapDatagram!(d2).toString()).to.equal('two');
    expect(s.unwrapDatagram!(d1).toString()).to.equal('one');
    expect(() => s.unwrapDatagram!(d1)).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
    const d3 = Buffer.from(c.wrapDatagram!(Buffer.from('three')));
    d3[d3.length - 2]! ^= 4;
    expect(() => s.unwrapDatagram!(d3)).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
    // A bad datagram does not break the stream or later datagrams.
    expect(s.unwrapDatagram!(c.wrapDatagram!(Buffer.from('four'))).toString()).to.equal('four');
    expect(s.unwrap(c.wrap(Buffer.from('stream'))).toString()).to.equal('stream');
    expect(() => s.unwrapDatagram!(Buffer.concat([c.wrapDatagram!(Buffer.from('x')), hex('00')]))).to.throw(SocksError);
  });

  it('encapsulation-stream: both ways through a Duplex pair, truncation at the end is an error', async () => {
    const { c, s } = pair();
    const [a, b] = duplexPair();
    const ca = encapsulate(a, c);
    const sb = encapsulate(b, s);
    const got: Buffer[] = [];
    sb.on('data', (d: Buffer) => got.push(d));
    ca.write(Buffer.alloc(150_000, 9));
    ca.end();
    await new Promise<void>((res) => sb.on('end', res));
    expect(Buffer.concat(got)).to.deep.equal(Buffer.alloc(150_000, 9));

    // Now a peer that stops in the middle of a frame.
    const p2 = pair();
    const [x, y] = duplexPair();
    const sy = encapsulate(y, p2.s);
    const wire = p2.c.wrap(Buffer.from('hello world'));
    x.write(wire.subarray(0, wire.length - 3));
    x.end();
    const err = await new Promise<Error>((res) => { sy.on('error', res); sy.resume(); });
    expect(err).to.be.instanceOf(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
  });
});

describe('GSS-API method options', () => {
  it('offers client and server halves only where the mechanism has them', () => {
    const m = gssapi({ mechanism: { name: 'acceptor-only', acceptor: pskMechanism({ key: KEY }).acceptor } });
    expect(m.code).to.equal(0x01);
    expect(m.server).to.be.a('function');
    expect(m.client).to.equal(undefined);
  });

  it('rejects unknown levels and bad limits', () => {
    expect(() => gssapiPsk({ key: KEY, protection: 'bogus' as GssProtection })).to.throw(SocksError);
    expect(() => gssapiPsk({ key: KEY, maxToken: 70000 })).to.throw(SocksError);
  });

  it('a mixed server (none + gssapi) serves a no-auth client unchanged', () => {
    const out = feedServer(serverMethod(), [hex('05 01 00')]);
    expect(out.written).to.deep.equal(hex('05 ff'));
    const s = new ServerHandshake({ methods: [serverMethod(), none()] });
    const acts = s.receive(hex('05 01 00'));
    expect(acts[0]).to.deep.equal({ type: 'write', data: hex('05 00') });
  });

});

/** Two connected in-memory Duplexes. */
function duplexPair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  const mk = (readable: PassThrough, writable: PassThrough) =>
    new Duplex({
      read() { readable.resume(); },
      write(chunk, _e, cb) { writable.write(chunk, cb); },
      final(cb) { writable.end(); cb(); },
      construct(cb) {
        readable.on('data', (d) => { if (!this.push(d)) readable.pause(); });
        readable.on('end', () => this.push(null));
        cb();
      },
    });
  return [mk(ba, ab), mk(ab, ba)];
}

describe('GSS-API seeded random input', () => {
  it('the server engine only ever returns actions or a SocksError close, buffering stays bounded', () => {
    const rnd = prng(1961);
    const ref = converse(clientMethod(), serverMethod());
    const good = Buffer.concat(ref.clientBytes);
    for (let i = 0; i < 300; i++) {
      // A valid prefix, then random bytes, sometimes with a plausible frame header.
      const cut = Math.floor(rnd() * good.length);
      const noise = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
      if (rnd() < 0.5) { noise[0] = 1; if (noise.length > 1) noise[1] = 1 + Math.floor(rnd() * 3); }
      const s = new ServerHandshake({ methods: [serverMethod()] });
      let closes = 0;
      for (const chunk of [good.subarray(0, cut), noise]) {
        const acts = s.receive(chunk);
        for (const a of acts) {
          if (a.type === 'close') { closes++; expect(a.error).to.be.instanceOf(SocksError); }
          if (a.type === 'request') s.accept();
        }
      }
      expect(closes).to.be.at.most(1);
    }
  });

  it('unwrap of random bytes throws only ERR_SOCKS_ENCAPSULATION', () => {
    const rnd = prng(4);
    for (let i = 0; i < 200; i++) {
      const r = converse(clientMethod(), serverMethod());
      const junk = Buffer.from(Array.from({ length: 4 + Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
      junk[0] = 1; junk[1] = 3; junk.writeUInt16BE(junk.length - 4, 2);
      expect(() => r.serverEnc!.unwrap(junk)).to.throw(SocksError).with.property('code', 'ERR_SOCKS_ENCAPSULATION');
    }
  });
});
