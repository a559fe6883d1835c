/**
 * The binauth SOCKS5 method (methods/binauth/method.ts): its framing at every split
 * point, driven through the sans-I/O ServerHandshake and ClientHandshake.
 */
import { expect } from 'chai';
import { hex, splits } from '../support/helpers.js';
import { ServerHandshake, ServerAction } from '../../lib/protocol/server-handshake.js';
import { ClientHandshake, ClientAction } from '../../lib/protocol/client-handshake.js';
import { createBinauth, signBinauthChallenge, binauthPublicKey, Binauth } from '../../methods/binauth/core.js';
import { binauth, encodeBinauthFrame, BinauthFrame, BinauthStatus, BINAUTH_DEFAULT_MAX_MESSAGE } from '../../methods/binauth/index.js';
import { ByteQueue } from '../../lib/protocol/codec/byte-queue.js';
import { takeBinauthFrame } from '../../methods/binauth/index.js';
import { AuthError, SocksError } from '../../lib/protocol/errors.js';
import * as sockskit from '../../lib/index.js';

// Fixed keys and clock: every byte on the wire is deterministic.
const SERVER_SEED = hex('11'.repeat(32));
const CLIENT_SEED = hex('22'.repeat(32));
const OTHER_SEED = hex('33'.repeat(32));
const CLIENT_PUB = binauthPublicKey(CLIENT_SEED);
const OTHER_PUB = binauthPublicKey(OTHER_SEED);
const T0 = 1_750_000_000_000;

// RFC 1928: greeting offering only 0x80; CONNECT 127.0.0.1:8080; success reply 0.0.0.0:0.
const GREETING = hex('05 01 80');
const CONNECT = hex('05 01 00 01 7f 00 00 01 1f 90');
const REPLY_OK = hex('05 00 00 01 00 00 00 00 00 00');
const PAYLOAD = Buffer.from('GET / HTTP/1.0\r\n\r\n');

const frame = encodeBinauthFrame;
const result = (status: number, token?: Buffer) => frame(BinauthFrame.Result, token ? Buffer.concat([Buffer.from([status]), token]) : Buffer.from([status]));

function server(now: () => number = () => T0, extra: Partial<Parameters<typeof createBinauth>[0]> = {}): Binauth {
  return createBinauth({ serverPrivateKey: SERVER_SEED, now, ...extra });
}

interface Run {
  written: Buffer;
  identity?: unknown;
  head?: Buffer;
  closed?: SocksError;
  verifies: number;
}

/** Feeds chunks to a ServerHandshake; accepts the request; runs verify checks synchronously. */
function runServer(hs: ServerHandshake, chunks: Buffer[]): Run {
  const run: Run = { written: Buffer.alloc(0), verifies: 0 };
  const handle = (actions: ServerAction[]): void => {
    for (const a of actions) {
      switch (a.type) {
        case 'write':
          run.written = Buffer.concat([run.written, a.data]);
          break;
        case 'verify': {
          run.verifies++;
          let value: unknown;
          try {
            value = a.check();
          } catch (error) {
            handle(hs.verified({ ok: false, error }));
            break;
          }
          handle(hs.verified({ ok: true, value }));
          break;
        }
        case 'request':
          run.identity = a.request.identity;
          handle(hs.accept());
          break;
        case 'established':
        case 'handoff':
          run.head = Buffer.concat([run.head ?? Buffer.alloc(0), a.head]);
          break;
        case 'close':
          run.closed = a.error ?? new SocksError('ERR_SOCKS_CLOSED', 'closed');
          break;
      }
    }
  };
  for (const c of chunks) {
    handle(hs.receive(c));
    // Data after the handshake goes to the tunnel, not the engine.
    if (run.head !== undefined && hs.phase === 'done') {
      const i = chunks.indexOf(c);
      run.head = Buffer.concat([run.head, ...chunks.slice(i + 1)]);
      break;
    }
  }
  return run;
}

/** What a binauth client sends for a full challenge round at T0. */
function challengeRound(auth: Binauth, seed = CLIENT_SEED, serverId?: string) {
  const pub = binauthPublicKey(seed);
  const challenge = auth.getChallenge(pub);
  const signed = signBinauthChallenge(challenge, seed, serverId);
  const token = auth.getToken(pub, signed);
  return { pub, challenge, signed, token };
}

describe('binauth method: framing', () => {
  it('is exported from sockskit', () => {
    expect(sockskit.binauth).to.equal(binauth);
  });

  it('encodes VER 01 | TYPE | LEN (BE) | BODY', () => {
    expect(frame(BinauthFrame.Hello, hex('aa bb'))).to.deep.equal(hex('01 01 00 02 aa bb'));
    expect(result(BinauthStatus.Retry)).to.deep.equal(hex('01 05 00 01 02'));
    expect(frame(BinauthFrame.Signed, Buffer.alloc(300)).subarray(0, 4)).to.deep.equal(hex('01 04 01 2c'));
  });

  it('takes frames only when whole, and rejects oversize LEN from the header alone', () => {
    const q = new ByteQueue();
    q.push(hex('01 03 00'));
    expect(takeBinauthFrame(q, 512)).to.equal(undefined);
    q.push(hex('02 aa'));
    expect(takeBinauthFrame(q, 512)).to.equal(undefined);
    q.push(hex('bb cc'));
    expect(takeBinauthFrame(q, 512)).to.deep.equal({ type: 3, body: hex('aa bb') });
    expect(q.length).to.equal(1);
    const big = new ByteQueue();
    big.push(hex('01 04 01 fd')); // 4 + 509 = 513 > 512
    expect(() => takeBinauthFrame(big, 512)).to.throw(SocksError, /exceeds 512/);
    const ver = new ByteQueue();
    ver.push(hex('05 01 00 00'));
    expect(() => takeBinauthFrame(ver, 512)).to.throw(SocksError, /version/);
  });

  it('validates its options', () => {
    expect(() => binauth({ code: 0x02 })).to.throw(/private method code/);
    expect(() => binauth({ maxMessage: 50 })).to.throw(/maxMessage/);
    expect(() => binauth({ binauth: server() })).to.throw(/authorizedKeys or authorize/);
    expect(() => binauth({ binauth: server(), authorizedKeys: ['xyz'] })).to.throw(/64 hex digits/);
    expect(() => binauth({ binauth: server(undefined, { serverId: 'x'.repeat(400) }), authorize: () => true })).to.throw(/too small/);
    const m = binauth({ privateKey: CLIENT_SEED });
    expect(m.code).to.equal(0x80);
    expect(m.server).to.equal(undefined);
    expect(m.client).to.be.a('function');
    expect(binauth({ binauth: { serverPrivateKey: SERVER_SEED }, authorizedKeys: [CLIENT_PUB] }).client).to.equal(undefined);
  });
});

describe('binauth method: server half through ServerHandshake', () => {
  const auth = server();
  const round = challengeRound(auth);
  const method = () => binauth({ binauth: auth, authorizedKeys: [CLIENT_PUB.toString('hex').toUpperCase()] });

  // Client bytes and the exact server answer for the challenge round.
  const clientIn = Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, round.signed), CONNECT, PAYLOAD]);
  const serverOut = Buffer.concat([hex('05 80'), frame(BinauthFrame.Challenge, round.challenge), result(0, round.token), REPLY_OK]);

  it('challenge round: whole, every split, byte by byte; identity is the hex key; trailing bytes are head', () => {
    const cases = splits(clientIn);
    expect(cases.length).to.equal(clientIn.length + 1);
    for (const { name, chunks } of cases) {
      const run = runServer(new ServerHandshake({ methods: [method()] }), chunks);
      expect(run.closed, name).to.equal(undefined);
      expect(run.written.equals(serverOut), name).to.equal(true);
      expect(run.identity, name).to.equal(CLIENT_PUB.toString('hex'));
      expect(run.head?.equals(PAYLOAD), name).to.equal(true);
    }
  });

  it('fast path: TOKEN → RESULT 00, at every split', () => {
    const input = Buffer.concat([GREETING, frame(BinauthFrame.Token, round.token), CONNECT]);
    const expected = Buffer.concat([hex('05 80'), result(0), REPLY_OK]);
    for (const { name, chunks } of splits(input)) {
      const run = runServer(new ServerHandshake({ methods: [method()] }), chunks);
      expect(run.written.equals(expected), name).to.equal(true);
      expect(run.identity, name).to.equal(CLIENT_PUB.toString('hex'));
    }
  });

  it('stateless: a token issued by one instance passes the method of another sharing the key', () => {
    const later = T0 + 3_600_000;
    const second = binauth({ binauth: { serverPrivateKey: Buffer.concat([SERVER_SEED, auth.serverPublicKey]), now: () => later }, authorizedKeys: [CLIENT_PUB] });
    const run = runServer(new ServerHandshake({ methods: [second] }), [Buffer.concat([GREETING, frame(BinauthFrame.Token, round.token), CONNECT])]);
    expect(run.written).to.deep.equal(Buffer.concat([hex('05 80'), result(0), REPLY_OK]));
  });

  it('expired token: RESULT 02, then the challenge round in the same connection, at every split', () => {
    let t = T0;
    const clocked = server(() => t);
    const old = challengeRound(clocked).token;
    t = T0 + 86_400_000 + 1000; // a day and a second later: expired
    const fresh = challengeRound(clocked);
    const input = Buffer.concat([GREETING, frame(BinauthFrame.Token, old), frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, fresh.signed), CONNECT]);
    const expected = Buffer.concat([hex('05 80'), result(BinauthStatus.Retry), frame(BinauthFrame.Challenge, fresh.challenge), result(0, fresh.token), REPLY_OK]);
    for (const { name, chunks } of splits(input)) {
      const run = runServer(new ServerHandshake({ methods: [binauth({ binauth: clocked, authorizedKeys: [CLIENT_PUB] })] }), chunks);
      expect(run.closed, name).to.equal(undefined);
      expect(run.written.equals(expected), name).to.equal(true);
    }
  });

  it('foreign token (another server key): RESULT 02; a second TOKEN after that is a bad message', () => {
    const foreign = challengeRound(createBinauth({ serverPrivateKey: OTHER_SEED, now: () => T0 })).token;
    const run = runServer(new ServerHandshake({ methods: [method()] }), [Buffer.concat([GREETING, frame(BinauthFrame.Token, foreign), frame(BinauthFrame.Token, round.token)])]);
    expect(run.written).to.deep.equal(Buffer.concat([hex('05 80'), result(BinauthStatus.Retry), result(BinauthStatus.BadMessage)]));
    expect(run.closed).to.be.instanceOf(AuthError);
  });

  it('tokenFallback false: a rejected token fails cleanly with RESULT 01', () => {
    const foreign = challengeRound(createBinauth({ serverPrivateKey: OTHER_SEED, now: () => T0 })).token;
    const m = binauth({ binauth: auth, authorizedKeys: [CLIENT_PUB], tokenFallback: false });
    const run = runServer(new ServerHandshake({ methods: [m] }), [Buffer.concat([GREETING, frame(BinauthFrame.Token, foreign)])]);
    expect(run.written).to.deep.equal(Buffer.concat([hex('05 80'), result(BinauthStatus.Failure)]));
    expect(run.closed).to.be.instanceOf(AuthError).with.property('message').that.matches(/token failed signature validation/);
  });

  it('a key not in the list: RESULT 03 right after HELLO, no challenge; with a valid token too', () => {
    const run = runServer(new ServerHandshake({ methods: [method()] }), [Buffer.concat([GREETING, frame(BinauthFrame.Hello, OTHER_PUB)])]);
    expect(run.written).to.deep.equal(Buffer.concat([hex('05 80'), result(BinauthStatus.NotAuthorized)]));
    expect(run.closed).to.be.instanceOf(AuthError);
    const otherToken = challengeRound(auth, OTHER_SEED).token; // validly signed, but the key was removed
    const run2 = runServer(new ServerHandshake({ methods: [method()] }), [Buffer.concat([GREETING, frame(BinauthFrame.Token, otherToken)])]);
    expect(run2.written).to.deep.equal(Buffer.concat([hex('05 80'), result(BinauthStatus.NotAuthorized)]));
  });

  it('a bad signed challenge: RESULT 01 and close', () => {
    const bad = Buffer.from(round.signed);
    bad[100]! ^= 1;
    const run = runServer(new ServerHandshake({ methods: [method()] }), [Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, bad)])]);
    expect(run.written).to.deep.equal(Buffer.concat([hex('05 80'), frame(BinauthFrame.Challenge, round.challenge), result(BinauthStatus.Failure)]));
    expect(run.closed?.message).to.match(/incorrect signature/);
  });

  it('an expired challenge: RESULT 01', () => {
    let t = T0;
    const clocked = server(() => t);
    const m = binauth({ binauth: clocked, authorizedKeys: [CLIENT_PUB] });
    const hs = new ServerHandshake({ methods: [m] });
    const first = runServer(hs, [Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB)])]);
    const challenge = first.written.subarray(2 + 4);
    t = T0 + 61_000;
    const second = runServer(hs, [frame(BinauthFrame.Signed, signBinauthChallenge(challenge, CLIENT_SEED))]);
    expect(second.written).to.deep.equal(result(BinauthStatus.Failure));
    expect(second.closed?.message).to.match(/challenge expired/);
  });

  it('malformed frames: RESULT 04 and close; oversize LEN is refused before the body arrives', () => {
    const table: [string, Buffer][] = [
      ['bad VER', hex('02 01 00 20')],
      ['HELLO of 31 bytes', frame(BinauthFrame.Hello, Buffer.alloc(31))],
      ['SIGNED first', frame(BinauthFrame.Signed, round.signed)],
      ['unknown type', frame(0x09, Buffer.alloc(1))],
      ['LEN 65535', hex('01 04 ff ff')],
    ];
    for (const [name, bytes] of table) {
      const run = runServer(new ServerHandshake({ methods: [method()] }), [Buffer.concat([GREETING, bytes])]);
      expect(run.written, name).to.deep.equal(Buffer.concat([hex('05 80'), result(BinauthStatus.BadMessage)]));
      expect(run.closed, name).to.be.instanceOf(SocksError);
    }
  });

  it('async authorize() runs as a verify step; false → RESULT 03, throw → RESULT 05', async () => {
    const seen: string[] = [];
    const m = binauth({
      binauth: auth,
      authorize: async (key) => {
        seen.push(key);
        return key === CLIENT_PUB.toString('hex');
      },
    });
    const hs = new ServerHandshake({ methods: [m] });
    const actions = hs.receive(Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, round.signed), CONNECT]));
    expect(actions.map((a) => a.type)).to.deep.equal(['write', 'verify']);
    const v = actions[1] as Extract<ServerAction, { type: 'verify' }>;
    const after = hs.verified({ ok: true, value: await v.check() });
    expect(seen).to.deep.equal([CLIENT_PUB.toString('hex')]);
    const writes = after.filter((a) => a.type === 'write').map((a) => (a as { data: Buffer }).data);
    expect(Buffer.concat(writes)).to.deep.equal(Buffer.concat([frame(BinauthFrame.Challenge, round.challenge), result(0, round.token)]));
    expect(after.at(-1)).to.include({ type: 'request' });

    const denied = runServer(new ServerHandshake({ methods: [binauth({ binauth: auth, authorize: () => false })] }), [Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB)])]);
    expect(denied.written).to.deep.equal(Buffer.concat([hex('05 80'), result(BinauthStatus.NotAuthorized)]));
    const broken = runServer(new ServerHandshake({ methods: [binauth({ binauth: auth, authorize: () => { throw new Error('db down'); } })] }), [Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB)])]);
    expect(broken.written).to.deep.equal(Buffer.concat([hex('05 80'), result(BinauthStatus.ServerError)]));
    // Both a list and a callback: both must agree.
    const both = runServer(new ServerHandshake({ methods: [binauth({ binauth: auth, authorizedKeys: [CLIENT_PUB], authorize: () => true })] }), [Buffer.concat([GREETING, frame(BinauthFrame.Token, round.token), CONNECT])]);
    expect(both.written).to.deep.equal(Buffer.concat([hex('05 80'), result(0), REPLY_OK]));
    expect(both.verifies).to.equal(1);
  });

  it('a client that does not offer 0x80 (curl: 05 01 00) gets exactly 05 FF', () => {
    const run = runServer(new ServerHandshake({ methods: [method()] }), [hex('05 01 00')]);
    expect(run.written).to.deep.equal(hex('05 ff'));
    expect(run.closed).to.be.instanceOf(AuthError);
  });

  it('a configurable method code', () => {
    const m = binauth({ binauth: auth, authorizedKeys: [CLIENT_PUB], code: 0x81 });
    const run = runServer(new ServerHandshake({ methods: [m] }), [Buffer.concat([hex('05 02 80 81'), frame(BinauthFrame.Token, round.token), CONNECT])]);
    expect(run.written).to.deep.equal(Buffer.concat([hex('05 81'), result(0), REPLY_OK]));
  });

  it('serverId: a prefixed signature for this server passes; one for another server fails', () => {
    const named = server(undefined, { serverId: 'proxy-a' });
    const m = () => binauth({ binauth: named, authorizedKeys: [CLIENT_PUB] });
    const good = challengeRound(named, CLIENT_SEED, 'proxy-a');
    const ok = runServer(new ServerHandshake({ methods: [m()] }), [Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, good.signed), CONNECT])]);
    expect(ok.identity).to.equal(CLIENT_PUB.toString('hex'));
    const forB = signBinauthChallenge(good.challenge, CLIENT_SEED, 'proxy-b');
    const bad = runServer(new ServerHandshake({ methods: [m()] }), [Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, forB)])]);
    expect(bad.written.subarray(-5)).to.deep.equal(result(BinauthStatus.Failure));
  });
});

describe('binauth method: client half through ClientHandshake', () => {
  const auth = server();
  const round = challengeRound(auth);
  const DEST = { type: 'ipv4' as const, host: '127.0.0.1', port: 8080 };

  interface ClientRun {
    written: Buffer;
    established?: Buffer;
    error?: SocksError;
  }
  function runClient(hs: ClientHandshake, chunks: Buffer[]): ClientRun {
    const run: ClientRun = { written: Buffer.alloc(0) };
    const handle = (actions: ClientAction[]) => {
      for (const a of actions) {
        if (a.type === 'write') run.written = Buffer.concat([run.written, a.data]);
        else if (a.type === 'established') run.established = a.head;
        else if (a.type === 'error') run.error = a.error;
      }
    };
    handle(hs.start());
    for (let i = 0; i < chunks.length; i++) {
      handle(hs.receive(chunks[i]!));
      // After the reply, the rest is tunnel data: the adapter's business.
      if (run.established) {
        run.established = Buffer.concat([run.established, ...chunks.slice(i + 1)]);
        break;
      }
    }
    return run;
  }

  it('challenge round at every split of the server bytes; onToken gets the token', () => {
    const serverOut = Buffer.concat([hex('05 80'), frame(BinauthFrame.Challenge, round.challenge), result(0, round.token), REPLY_OK, PAYLOAD]);
    const expected = Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, round.signed), CONNECT]);
    for (const { name, chunks } of splits(serverOut)) {
      const tokens: Buffer[] = [];
      const m = binauth({ privateKey: CLIENT_SEED, onToken: (t) => tokens.push(t) });
      const run = runClient(new ClientHandshake({ destination: DEST, methods: [m] }), chunks);
      expect(run.error, name).to.equal(undefined);
      expect(run.written.equals(expected), name).to.equal(true);
      expect(run.established?.equals(PAYLOAD), name).to.equal(true);
      expect(tokens, name).to.have.length(1);
      expect(tokens[0]!.equals(round.token), name).to.equal(true);
    }
  });

  it('fast path with a held token, at every split', () => {
    const serverOut = Buffer.concat([hex('05 80'), result(0), REPLY_OK]);
    const expected = Buffer.concat([GREETING, frame(BinauthFrame.Token, round.token), CONNECT]);
    for (const { name, chunks } of splits(serverOut)) {
      const run = runClient(new ClientHandshake({ destination: DEST, methods: [binauth({ privateKey: CLIENT_SEED, token: round.token })] }), chunks);
      expect(run.error, name).to.equal(undefined);
      expect(run.written.equals(expected), name).to.equal(true);
      expect(run.established, name).to.deep.equal(Buffer.alloc(0));
    }
  });

  it('retry: RESULT 02 → HELLO → challenge round; the stale token is not offered again', () => {
    const serverOut = Buffer.concat([hex('05 80'), result(BinauthStatus.Retry), frame(BinauthFrame.Challenge, round.challenge), result(0, round.token), REPLY_OK]);
    const stale = Buffer.alloc(101, 7);
    const expected = Buffer.concat([GREETING, frame(BinauthFrame.Token, stale), frame(BinauthFrame.Hello, CLIENT_PUB), frame(BinauthFrame.Signed, round.signed), CONNECT]);
    for (const { name, chunks } of splits(serverOut)) {
      const tokens: Buffer[] = [];
      const m = binauth({ privateKey: CLIENT_SEED, token: stale, onToken: (t) => tokens.push(t) });
      const run = runClient(new ClientHandshake({ destination: DEST, methods: [m] }), chunks);
      expect(run.error, name).to.equal(undefined);
      expect(run.written.equals(expected), name).to.equal(true);
      expect(tokens.length, name).to.equal(1);
      // The same method object now starts with the new token.
      const next = runClient(new ClientHandshake({ destination: DEST, methods: [m] }), [hex('05 80')]);
      expect(next.written.equals(Buffer.concat([GREETING, frame(BinauthFrame.Token, round.token)])), name).to.equal(true);
    }
  });

  it('failures: RESULT 03 is an AuthError; a token-only client cannot retry', () => {
    const run = runClient(new ClientHandshake({ destination: DEST, methods: [binauth({ privateKey: CLIENT_SEED })] }), [Buffer.concat([hex('05 80'), result(BinauthStatus.NotAuthorized)])]);
    expect(run.error).to.be.instanceOf(AuthError).with.property('message').that.matches(/key not authorized/);
    const tokenOnly = runClient(new ClientHandshake({ destination: DEST, methods: [binauth({ token: round.token })] }), [Buffer.concat([hex('05 80'), result(BinauthStatus.Retry)])]);
    expect(tokenOnly.error?.message).to.match(/no privateKey/);
  });

  it('refuses to sign a challenge for another key or a token-shaped blob', () => {
    const foreign = auth.getChallenge(OTHER_PUB);
    const r1 = runClient(new ClientHandshake({ destination: DEST, methods: [binauth({ privateKey: CLIENT_SEED })] }), [Buffer.concat([hex('05 80'), frame(BinauthFrame.Challenge, foreign)])]);
    expect(r1.error?.message).to.match(/another key/);
    expect(r1.written).to.deep.equal(Buffer.concat([GREETING, frame(BinauthFrame.Hello, CLIENT_PUB)]));
    const r2 = runClient(new ClientHandshake({ destination: DEST, methods: [binauth({ privateKey: CLIENT_SEED })] }), [Buffer.concat([hex('05 80'), frame(BinauthFrame.Challenge, round.token)])]);
    expect(r2.error?.message).to.match(/malformed challenge/);
  });

  it('bounded: an oversize frame from the proxy is refused from its header', () => {
    const run = runClient(new ClientHandshake({ destination: DEST, methods: [binauth({ privateKey: CLIENT_SEED })] }), [hex('05 80 01 03 ff ff')]);
    expect(run.error?.code).to.equal('ERR_SOCKS_BUFFER_LIMIT');
    expect(BINAUTH_DEFAULT_MAX_MESSAGE).to.equal(512);
  });

  it('client and server engines talk to each other, byte by byte, with serverId and a token cache', () => {
    let t = T0;
    const named = server(() => t, { serverId: 'proxy-a', tokenTTL: 3_600_000 });
    const serverMethod = binauth({ binauth: named, authorizedKeys: [CLIENT_PUB] });
    const cache: Buffer[] = [];
    const clientMethod = binauth({ privateKey: CLIENT_SEED, serverId: 'proxy-a', onToken: (tok) => cache.push(tok) });

    const connect = () => {
      const s = new ServerHandshake({ methods: [serverMethod] });
      const c = new ClientHandshake({ destination: DEST, methods: [clientMethod] });
      let toServer: Buffer[] = [];
      let toClient: Buffer[] = [];
      let identity: unknown;
      let established = false;
      let error: SocksError | undefined;
      const onServer = (actions: ServerAction[]) => {
        for (const a of actions) {
          if (a.type === 'write') toClient.push(...[...a.data].map((b) => Buffer.from([b])));
          else if (a.type === 'request') {
            identity = a.request.identity;
            onServer(s.accept());
          } else if (a.type === 'close') error = a.error;
        }
      };
      const onClient = (actions: ClientAction[]) => {
        for (const a of actions) {
          if (a.type === 'write') toServer.push(...[...a.data].map((b) => Buffer.from([b])));
          else if (a.type === 'established') established = true;
          else if (a.type === 'error') error = a.error;
        }
      };
      onClient(c.start());
      for (let i = 0; i < 10_000 && (toServer.length || toClient.length); i++) {
        const a = toServer;
        toServer = [];
        for (const b of a) onServer(s.receive(b));
        const z = toClient;
        toClient = [];
        for (const b of z) onClient(c.receive(b));
      }
      return { identity, established, error };
    };

    const first = connect();
    expect(first.error).to.equal(undefined);
    expect(first.established).to.equal(true);
    expect(first.identity).to.equal(CLIENT_PUB.toString('hex'));
    expect(cache).to.have.length(1);
    // Second connection: fast path with the cached token, no new token.
    t += 60_000;
    const second = connect();
    expect(second.established).to.equal(true);
    expect(cache).to.have.length(1);
    // Two hours later the token has expired: retry, challenge round, new token.
    t += 2 * 3_600_000;
    const third = connect();
    expect(third.established).to.equal(true);
    expect(cache).to.have.length(2);
    expect(cache[1]!.equals(cache[0]!)).to.equal(false);
  });
});
