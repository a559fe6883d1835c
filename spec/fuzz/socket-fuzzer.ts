/**
 * The socket-level fuzzer: seeded random sessions over real loopback sockets
 * against a SocksServer with every feature on (no-auth, username/password,
 * binauth, GSS-API PSK, BIND, UDP, ident for SOCKS4 and SOCKS5, the request
 * hook, and a second listener expecting PROXY protocol headers), and a third
 * with random rule lists and scrypt-hashed users, reconfigured as it runs
 * (rule-fuzz.ts).
 *
 * Sessions: random bytes; mutations of valid handshakes (greetings, auth
 * sub-negotiations, requests, SOCKS4/4a, PROXY headers); the real client
 * library through a mangling man-in-the-middle (so binauth and GSS-API get
 * past their first round before being corrupted); BIND with peers arriving
 * at random moments; UDP associations with random and mutated datagrams.
 * Resets (resetAndDestroy) and half-closes at any step.
 *
 * What it checks (the caller asserts): nothing reaches the process-level
 * 'uncaughtException' / 'unhandledRejection' handlers, the servers emit no
 * 'error', and once the (short) deadlines have passed the descriptors, the
 * active handles/timers and the servers' open connections are back to their
 * baseline; and, on the rules listener, that no datagram or tunnel reaches a
 * destination the rules in force blocked, and no unverified identity (a
 * SOCKS4 USERID) matched a `user:` rule (the targets judge each arrival).
 * Destinations are local echo/silent/reset servers; names resolve
 * through an injected lookup (127.0.0.1 or a failure), never real DNS; rules
 * allow only loopback, so no mutated address leaves the host.
 *
 * Each session's inputs come from prng(seed, session index): a failure names
 * the seed; the interleaving of concurrent sessions is not replayed exactly.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { readdirSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes as cryptoRandom } from 'node:crypto';
import {
  SocksServer,
  SocksServerOptions,
  none,
  userpass,
  binauth,
  generateBinauthKeyPair,
  gssapiPsk,
  identSocks4,
  identMethod,
  bindHandler,
  udpHandler,
  parseCidr,
  connect,
  bind as clientBind,
  udpAssociate,
  encodeProxyHeaderV1,
  encodeProxyHeaderV2,
  makeAddress,
} from '../../lib/index.js';
import type { AuthMethod, LookupFunction } from '../../lib/index.js';
import { prng } from '../support/helpers.js';
import { RuledWorld, ruledSession } from './rule-fuzz.js';

export interface FuzzOptions {
  seed: number;
  sessions: number;
  /** Sessions at once (default 16). */
  concurrency?: number;
  /** Stop starting sessions after this many ms (default: none). */
  timeLimit?: number;
  /** Progress lines (long runs). */
  log?: (line: string) => void;
}

export interface FuzzResult {
  seed: number;
  sessions: number;
  byKind: Record<string, number>;
  /** Process-level errors and server 'error' events, with the sessions running when they fired. */
  processErrors: string[];
  /** Empty when descriptors, handles and open connections came back to their baseline. */
  leaks: string[];
  /** Arrivals on the rules listener's targets that no configuration in force passed (must be empty). */
  violations: string[];
  /** What the rules listener's targets judged. */
  ruled: RuledWorld['checked'];
  ms: number;
  stats: Record<string, unknown>;
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, a: readonly T[]): T => a[int(r, a.length)]!;
const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

function bytes(r: Rand, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 256);
  return b;
}

/** A few bytes flipped, dropped, inserted, truncated or extended. */
export function mutate(r: Rand, base: Buffer, edits = 1 + int(r, 3)): Buffer {
  let b = Buffer.from(base);
  for (let k = 0; k < edits; k++) {
    const i = int(r, Math.max(1, b.length));
    switch (int(r, 6)) {
      case 0: b[i] = int(r, 256); break;
      case 1: b[i] = pick(r, [0x00, 0xff, 0x01, 0x05, 0x04, 0x03, 0x80]); break;
      case 2: b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]); break;
      case 3: b = Buffer.concat([b.subarray(0, i), bytes(r, 1 + int(r, 8)), b.subarray(i)]); break;
      case 4: b = b.subarray(0, i); break;
      case 5: b = Buffer.concat([b, bytes(r, int(r, 300))]); break;
    }
  }
  return b;
}

/**
 * An RST (resetAndDestroy), or a plain destroy once end() was called: Node's
 * resetAndDestroy() after end() fails (libuv refuses SO_LINGER 0 while a
 * shutdown is pending), emits EINVAL and leaks the descriptor.
 */
function reset(s: net.Socket): void {
  if (s.writableEnded || s.destroyed) s.destroy();
  else s.resetAndDestroy();
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** The fixed parts of the world: destinations, identd, servers. */
class World {
  readonly sockets = new Set<net.Socket>();
  readonly closers: (() => Promise<void>)[] = [];
  echoPort = 0;
  silentPort = 0;
  resetPort = 0;
  udpEchoPort = 0;
  identPort = 0;
  socksPort = 0;
  proxyPort = 0;
  servers: SocksServer[] = [];
  clientKeys = generateBinauthKeyPair();
  otherKeys = generateBinauthKeyPair();
  psk = cryptoRandom(32);
  errors: string[] = [];
  running = new Set<string>();
  readonly ruled: RuledWorld;

  constructor(private readonly r: Rand) {
    this.ruled = new RuledWorld(r);
  }

  private async tcp(onConn: (s: net.Socket) => void): Promise<number> {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
      onConn(s);
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    this.closers.push(() => new Promise((res) => server.close(() => res())));
    return (server.address() as net.AddressInfo).port;
  }

  async start(): Promise<void> {
    const r = this.r;
    this.echoPort = await this.tcp((s) => s.pipe(s));
    this.silentPort = await this.tcp((s) => s.pause());
    this.resetPort = await this.tcp((s) => reset(s));
    // identd (RFC 1413) with random answers: a user, ERROR, garbage, silence, a reset.
    this.identPort = await this.tcp((s) => {
      s.once('data', (q) => {
        const query = q.toString('latin1').replace(/[\r\n]+$/, '');
        switch (int(r, 6)) {
          case 0: s.end(`${query} : USERID : UNIX : ${pick(r, ['bob', 'alice', '', 'x'.repeat(600)])}\r\n`); break;
          case 1: s.end(`${query} : ERROR : NO-USER\r\n`); break;
          case 2: s.end(bytes(r, int(r, 100))); break;
          case 3: break; // silence: the server's ident timeout ends it
          case 4: reset(s); break;
          default: s.end(`${query} : USERID : UNIX : bob\r\n`);
        }
      });
    });
    const udp = dgram.createSocket('udp4');
    udp.on('message', (m, from) => udp.send(m, from.port, from.address, () => {}));
    udp.on('error', () => {});
    await new Promise<void>((res) => udp.bind(0, '127.0.0.1', res));
    this.udpEchoPort = udp.address().port;
    this.closers.push(() => new Promise((res) => udp.close(() => res())));

    // Names: 127.0.0.1, or a failure; asynchronous like dns.lookup.
    const lookup = ((host: string, opts: unknown, cb: (err: Error | null, address?: unknown, family?: number) => void) => {
      const callback = typeof opts === 'function' ? (opts as typeof cb) : cb;
      const fails = host.length % 5 === 0 || /fail/.test(host);
      setImmediate(() => {
        if (fails) callback(Object.assign(new Error(`fake lookup: ${host} not found`), { code: 'ENOTFOUND' }));
        else if (typeof opts === 'object' && opts && (opts as { all?: boolean }).all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
        else callback(null, '127.0.0.1', 4);
      });
    }) as unknown as LookupFunction;
    const ident = { port: this.identPort, timeout: 150 };
    const common: AuthMethod<unknown>[] = [
      gssapiPsk({ key: this.psk, protection: ['integrity', 'confidentiality', 'selective'] }),
      binauth({ binauth: { serverPrivateKey: generateBinauthKeyPair().privateKey }, authorizedKeys: [this.clientKeys.publicKey] }),
      userpass({ users: { alice: 's3cret' } }),
    ];
    const withNone = [...common, none()];
    const withIdent = [...common, identMethod({ ...ident, policy: 'optional' }) as AuthMethod<unknown>];
    const withIdentRequired = [...common, identMethod(ident) as AuthMethod<unknown>];
    const options: SocksServerOptions = {
      methods: (ctx) => [withNone, withIdent, withIdentRequired][(ctx.source?.port ?? 0) % 3]!,
      socks4: true,
      socks4Identify: identSocks4({ mode: 'verify', ...ident }),
      lookup,
      rules: { allow: [parseCidr('127.0.0.0/8'), parseCidr('::1/128')], deny: [] },
      handshakeTimeout: 400,
      connectTimeout: 300,
      idleTimeout: 600,
      lingerTimeout: 300,
      maxConnections: 400,
      bind: bindHandler({ timeout: 500 }),
      udp: udpHandler({ idleTimeout: 600 }),
      // The request hook decides at random: accept, deny, late, throw, reject, hand-off.
      onRequest: (ctx) => {
        switch (int(r, 10)) {
          case 0: ctx.deny(pick(r, [2, 5, 0x5b, 0xff, 0])); return;
          case 1: return sleep(int(r, 500)); // late: sometimes past the handshake deadline
          case 2: throw Object.assign(new Error('hook failed'), { code: pick(r, ['ECONNREFUSED', 'EACCES', undefined]) });
          case 3: return Promise.reject(new Error('hook rejected'));
          case 4: {
            const { socket } = ctx.handoff();
            socket.on('error', () => {});
            setTimeout(() => socket.destroy(), int(r, 200));
            return;
          }
          case 5: return sleep(int(r, 50)).then(() => ctx.accept());
          default: return;
        }
      },
    };
    for (const proxyProtocol of [false, 'any'] as const) {
      const s = new SocksServer({ ...options, proxyProtocol });
      s.on('error', (err) => this.errors.push(`server error: ${(err as Error).stack}`));
      s.on('clientError', () => {});
      await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
      this.servers.push(s);
    }
    this.socksPort = (this.servers[0]!.address() as net.AddressInfo).port;
    this.proxyPort = (this.servers[1]!.address() as net.AddressInfo).port;
    await this.ruled.start(lookup);
    this.ruled.server.on('error', (err) => this.errors.push(`rules server error: ${(err as Error).stack}`));
    this.servers.push(this.ruled.server);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
    await this.ruled.stop();
    for (const c of this.closers) await c();
  }
}

/** One session's sockets: all destroyed when it ends. */
class Session {
  readonly own = new Set<{ destroy(): void }>();
  constructor(readonly r: Rand, readonly w: World, readonly deadline: number) {}
  get over(): boolean {
    return Date.now() > this.deadline;
  }
  sock(port: number): net.Socket {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => {});
    this.own.add(s);
    return s;
  }
  /** A valid SOCKS request of any version and command, to a destination picked at random. */
  request(cmd = pick(this.r, [1, 1, 1, 2, 3])): Buffer {
    const r = this.r;
    const w = this.w;
    const port = cmd === 3 ? 0 : pick(r, [w.echoPort, w.echoPort, w.silentPort, w.resetPort, 1 + int(r, 65535), 0]);
    switch (int(r, 6)) {
      case 0: return Buffer.concat([h('05 0' + cmd + ' 00 01 7f 00 00 01'), u16(port)]);
      case 1: return Buffer.concat([h('05 0' + cmd + ' 00 04'), h('00'.repeat(15) + '01'), u16(port)]);
      case 2: {
        const name = Buffer.from(pick(r, ['localhost', 'a.example', 'fail.test', 'x', '0', 'y'.repeat(255)]));
        return Buffer.concat([h('05 0' + cmd + ' 00 03'), Buffer.from([name.length]), name, u16(port)]);
      }
      case 3: return Buffer.concat([h('05 0' + cmd + ' 00 01 00 00 00 00'), u16(port)]);
      case 4: return Buffer.concat([h('04 0' + Math.min(cmd, 2)), u16(port), h('7f 00 00 01'), Buffer.from(pick(r, ['bob', '', 'alice'])), h('00')]);
      default: return Buffer.concat([h('04 0' + Math.min(cmd, 2)), u16(port), h('00 00 00 09'), Buffer.from('bob'), h('00'), Buffer.from(pick(r, ['localhost', 'fail.x', ''])), h('00')]);
    }
  }
  /** A greeting plus what follows it for some method (auth frames may be mutated later). */
  handshake(): Buffer {
    const r = this.r;
    const req = this.request();
    if (req[0] === 4) return req;
    switch (int(r, 6)) {
      case 0: return Buffer.concat([h('05 01 00'), req]);
      case 1: return Buffer.concat([h('05 02 00 02'), req]);
      case 2: return Buffer.concat([h('05 01 02 01 05'), Buffer.from('alice'), h('06'), Buffer.from(pick(r, ['s3cret', 'wrong!'])), req]);
      case 3: return Buffer.concat([h('05 01 80'), h('01 02 00 65'), bytes(r, 101), req]); // binauth: a token frame
      case 4: return Buffer.concat([h('05 01 01'), h('01 01'), u16(32), bytes(r, 32), req]); // GSS-API: an auth frame
      default: return Buffer.concat([h('05 04 01 02 80 00'), req]);
    }
  }
  /** A PROXY v1/v2 header (valid, random, mutated). */
  proxyHeader(): Buffer {
    const r = this.r;
    const host = pick(r, ['127.0.0.1', '127.0.0.2', '::1', '10.0.0.1']);
    const src = makeAddress(host, int(r, 65536));
    const dst = makeAddress(host.includes(':') ? '::1' : '127.0.0.1', this.w.proxyPort);
    let hdr: Buffer;
    try {
      hdr = int(r, 2) ? encodeProxyHeaderV1({ source: src, destination: dst }) : encodeProxyHeaderV2({ source: src, destination: dst });
    } catch {
      hdr = Buffer.from('PROXY UNKNOWN\r\n');
    }
    switch (int(r, 5)) {
      case 0: return mutate(r, hdr);
      case 1: return bytes(r, int(r, 120));
      case 2: return Buffer.from('PROXY UNKNOWN\r\n');
      default: return hdr;
    }
  }
  /** Writes chunks with random pauses; may half-close or reset at any step; reads everything. */
  async play(s: net.Socket, data: Buffer, opts: { keepOpen?: boolean } = {}): Promise<Buffer> {
    const r = this.r;
    const got: Buffer[] = [];
    let closed = false;
    s.on('data', (d) => got.length < 64 && got.push(d));
    s.on('close', () => (closed = true));
    await new Promise<void>((res) => {
      s.once('connect', res);
      s.once('close', res);
    });
    let i = 0;
    while (i < data.length && !closed && !this.over) {
      const n = r() < 0.3 ? 1 : 1 + int(r, 200);
      s.write(data.subarray(i, i + n));
      i += n;
      const act = r();
      if (act < 0.03) {
        reset(s);
        return Buffer.concat(got);
      }
      if (act < 0.05) {
        s.end();
        break;
      }
      if (act < 0.4) await sleep(int(r, 30));
    }
    if (opts.keepOpen) {
      await sleep(int(r, 60));
      return Buffer.concat(got);
    }
    const end = r();
    if (end < 0.25 && !closed) reset(s);
    else {
      if (end < 0.5) s.end();
      // Wait for the server's answer or deadline, bounded by the session's.
      while (!closed && !this.over) await sleep(20);
    }
    return Buffer.concat(got);
  }
  close(): void {
    for (const o of this.own) o.destroy();
  }
}

type Kind = (s: Session) => Promise<void>;

const KINDS: Record<string, Kind> = {
  /** Random bytes, or a version byte and random bytes. */
  async random(s) {
    const b = s.r() < 0.5 ? bytes(s.r, int(s.r, 400)) : Buffer.concat([Buffer.from([pick(s.r, [4, 5])]), bytes(s.r, int(s.r, 400))]);
    await s.play(s.sock(s.w.socksPort), b);
  },
  /** A valid handshake, mutated or not, plus tunnel bytes. */
  async handshake(s) {
    const hs = s.handshake();
    const b = s.r() < 0.7 ? mutate(s.r, hs) : Buffer.concat([hs, bytes(s.r, int(s.r, 2000))]);
    await s.play(s.sock(s.w.socksPort), b);
  },
  /** A PROXY header (valid, mutated or random), then a handshake. */
  async proxy(s) {
    const hs = s.handshake();
    await s.play(s.sock(s.w.proxyPort), Buffer.concat([s.proxyHeader(), s.r() < 0.5 ? hs : mutate(s.r, hs)]));
  },
  /** Raw BIND: a peer arrives at a random moment (or never); early data, resets. */
  async bind(s) {
    const r = s.r;
    const v4 = r() < 0.3;
    const req = v4 ? Buffer.concat([h('04 02'), u16(0), h('7f 00 00 01'), Buffer.from('bob'), h('00')]) : Buffer.concat([h('05 01 00 05 02 00 01'), pick(r, [h('7f 00 00 01'), h('00 00 00 00'), h('7f 00 00 02')]), u16(0)]);
    const c = s.sock(s.w.socksPort);
    const got: Buffer[] = [];
    c.on('data', (d) => got.length < 64 && got.push(d));
    const first = new Promise<number | undefined>((res) => {
      const check = () => {
        const b = Buffer.concat(got);
        if (v4 && b.length >= 8) return res(b[1] === 0x5a ? b.readUInt16BE(2) : undefined);
        if (!v4 && b.length >= 12) return res(b[1] === 0 ? b.readUInt16BE(10) : undefined);
      };
      c.on('data', check);
      c.on('close', () => res(undefined));
      setTimeout(() => res(undefined), 600);
    });
    await new Promise<void>((res) => c.once('connect', res).once('close', res));
    c.write(r() < 0.2 ? mutate(r, req) : req);
    const port = await first;
    const acts = int(r, 4);
    for (let k = 0; k < acts && !c.destroyed; k++) {
      const a = int(r, 5);
      if (a === 0) c.write(bytes(r, pick(r, [10, 1000, 70000]))); // early data, maybe past the engine's cap
      else if (a === 1) await sleep(int(r, 300));
      else if (a === 2 && port) {
        const p = s.sock(port);
        p.on('data', () => {});
        if (r() < 0.5) p.write(bytes(r, int(r, 500)));
        if (r() < 0.2) p.once('connect', () => reset(p));
      } else if (a === 3) c.end();
      else if (r() < 0.5) reset(c);
    }
    while (!c.destroyed && !s.over && r() < 0.8) await sleep(50);
  },
  /** Raw UDP ASSOCIATE, then random, mutated and valid datagrams to the relay. */
  async udp(s) {
    const r = s.r;
    const c = s.sock(s.w.socksPort);
    const got: Buffer[] = [];
    c.on('data', (d) => got.push(d));
    await new Promise<void>((res) => c.once('connect', res).once('close', res));
    c.write(h('05 01 00 05 03 00 01 00 00 00 00 00 00'));
    for (let i = 0; i < 30 && Buffer.concat(got).length < 10 && !c.destroyed; i++) await sleep(20);
    const rep = Buffer.concat(got);
    if (rep.length < 12 || rep[3] !== 0) return;
    const relay = rep.readUInt16BE(10);
    const u = dgram.createSocket('udp4');
    s.own.add({ destroy: () => u.close() });
    u.on('error', () => {});
    u.on('message', () => {});
    await new Promise<void>((res) => u.bind(0, '127.0.0.1', res));
    const n = int(r, 12);
    for (let i = 0; i < n && !c.destroyed; i++) {
      const ok = Buffer.concat([h('00 00 00 01 7f 00 00 01'), u16(s.w.udpEchoPort), bytes(r, int(r, 100))]);
      const named = Buffer.concat([h('00 00'), Buffer.from([int(r, 3)]), h('03 09'), Buffer.from('localhost'), u16(s.w.udpEchoPort), h('aa')]);
      const dg = pick(r, [ok, ok, named, mutate(r, ok), mutate(r, named), bytes(r, int(r, 60)), Buffer.concat([h('00 00 00 01 7f 00 00 01 00 00'), h('bb')])]);
      u.send(dg, relay, '127.0.0.1', () => {});
      if (r() < 0.3) await sleep(int(r, 40));
    }
    const end = int(r, 3);
    if (end === 0) reset(c);
    else if (end === 1) c.end();
    else await sleep(int(r, 700)); // let the association's idle timer end it
  },
  /** The client library through a mangling man-in-the-middle. */
  async client(s) {
    const r = s.r;
    const w = s.w;
    const toProxyListener = r() < 0.3;
    // The man in the middle: corrupts, cuts or half-closes the stream.
    const mitm = net.createServer({ allowHalfOpen: true }, (a) => {
      s.own.add(a);
      a.on('error', () => {});
      const b = s.sock(toProxyListener ? w.proxyPort : w.socksPort);
      if (toProxyListener) b.write(s.proxyHeader());
      const pipe = (from: net.Socket, to: net.Socket, p: number) => {
        from.on('data', (d: Buffer) => {
          const x = r();
          if (x < p) to.write(mutate(r, d, 1));
          else if (x < p + 0.02) {
            reset(to);
            reset(from);
          } else if (x < p + 0.04) to.end();
          else if (!to.destroyed && !to.writableEnded) to.write(d);
        });
        from.on('end', () => !to.destroyed && to.end());
        from.on('close', () => to.destroy());
      };
      pipe(a, b, 0.08);
      pipe(b, a, 0.03);
    });
    s.own.add({ destroy: () => mitm.close() });
    await new Promise<void>((res) => mitm.listen(0, '127.0.0.1', res));
    const port = (mitm.address() as net.AddressInfo).port;
    const method = pick(r, ['none', 'userpass', 'binauth', 'binauth-other', 'gssapi', 'gssapi-wrong', 'socks4', 'socks4a']);
    const methods: AuthMethod<unknown>[] =
      method === 'userpass' ? [userpass({ username: 'alice', password: pick(r, ['s3cret', 'nope']) })]
      : method === 'binauth' ? [binauth({ privateKey: w.clientKeys.privateKey })]
      : method === 'binauth-other' ? [binauth({ privateKey: w.otherKeys.privateKey })]
      : method === 'gssapi' ? [gssapiPsk({ key: w.psk, protection: pick(r, ['integrity', 'confidentiality', 'selective'] as const) })]
      : method === 'gssapi-wrong' ? [gssapiPsk({ key: cryptoRandom(32) })]
      : [none()];
    const version = method === 'socks4' ? 4 : method === 'socks4a' ? '4a' : 5;
    const proxy = { host: '127.0.0.1', port, version: version as 4 | '4a' | 5, methods, userId: 'bob' };
    const ac = new AbortController();
    s.own.add({ destroy: () => ac.abort() });
    const common = { proxy, signal: ac.signal, handshakeTimeout: 700, connectTimeout: 700 };
    const cmd = pick(r, ['connect', 'connect', 'bind', 'udp']);
    try {
      if (cmd === 'connect') {
        const host = pick(r, ['127.0.0.1', 'localhost']);
        const res = await connect({ ...common, destination: { host, port: pick(r, [w.echoPort, w.echoPort, w.silentPort, w.resetPort]) } });
        s.own.add(res.socket);
        res.socket.on('error', () => {});
        res.socket.on('data', () => {});
        res.socket.write(bytes(r, int(r, 5000)));
        await sleep(int(r, 100));
        if (r() < 0.5) res.socket.end();
        else reset((res.transport as net.Socket));
      } else if (cmd === 'bind' && version !== '4a') {
        const res = await clientBind({ ...common, destination: { host: '127.0.0.1', port: 0 } });
        // Like a net.Socket, the tunnel is the caller's: it listens for 'error'.
        res.accepted.then((a) => {
          a.socket.on('error', () => {});
          s.own.add(a.socket);
        }, () => {});
        if (r() < 0.7 && res.bound.port) {
          const p = s.sock(res.bound.port);
          p.on('data', () => {});
          p.write(bytes(r, int(r, 300)));
        }
        await sleep(int(r, 300));
        res.close();
      } else if (version === 5) {
        const u = await udpAssociate(common);
        s.own.add({ destroy: () => u.close() });
        u.on('error', () => {});
        for (let i = 0; i < int(r, 5); i++) u.send(bytes(r, int(r, 200)), w.udpEchoPort, pick(r, ['127.0.0.1', 'localhost']));
        await sleep(int(r, 200));
        u.close();
      }
    } catch {
      // Failures are expected; crashes are what is looked for.
    }
  },
  /** CONNECT or UDP through the rules listener: the targets check the invariant. */
  async rules(s) {
    await ruledSession(s, s.w.ruled);
  },
};

const KIND_WEIGHTS: [string, number][] = [['random', 2], ['handshake', 5], ['proxy', 2], ['bind', 2], ['udp', 2], ['client', 3], ['rules', 4]];

function pickKind(r: Rand): string {
  const total = KIND_WEIGHTS.reduce((a, [, n]) => a + n, 0);
  let x = r() * total;
  for (const [k, n] of KIND_WEIGHTS) if ((x -= n) < 0) return k;
  return 'handshake';
}

function describeSocket(w: World, x: net.Socket): string {
  const names: Record<number, string> = { [w.socksPort]: 'socks', [w.proxyPort]: 'socks+PROXY', [w.echoPort]: 'echo', [w.silentPort]: 'silent', [w.resetPort]: 'reset', [w.identPort]: 'identd' };
  const ends = x as unknown as { _sockname?: { port: number }; _peername?: { port: number } };
  const lp = ends._sockname?.port ?? x.localPort;
  const rp = ends._peername?.port ?? x.remotePort;
  return `${lp}(${names[lp!] ?? '?'})<->${rp}(${names[rp!] ?? '?'}) listeners:${x.eventNames().map(String).join(',')}`;
}

/** The TCP sockets still open, named by the ports they join, to find who leaked one. */
function describeSockets(w: World): string {
  const names: Record<number, string> = { [w.socksPort]: 'socks', [w.proxyPort]: 'socks+PROXY', [w.echoPort]: 'echo', [w.silentPort]: 'silent', [w.resetPort]: 'reset', [w.identPort]: 'identd' };
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles
    .filter((x): x is net.Socket => x instanceof net.Socket && !(x as net.Socket & { _isStdio?: boolean })._isStdio && !(x as net.Socket).listenerCount('unpipe'))
    .map((x) => `${x.constructor.name} ${x.localPort}(${names[x.localPort!] ?? '?'})<->${x.remotePort}(${names[x.remotePort!] ?? '?'}) ${x.readyState}${x.destroyed ? ' destroyed' : ''}${x.readableEnded ? ' read-ended' : ''}${x.writableEnded ? ' write-ended' : ''} listeners:${x.eventNames().map((e) => `${String(e)}=[${x.listeners(e).map((f) => f.toString().replace(/\s+/g, ' ').slice(0, 60)).join(' / ')}]`).join(',')} connecting:${x.connecting} pending:${x.pending} handle:${(x as unknown as { _handle?: { fd?: number } })._handle?.fd} ${diagFd((x as unknown as { _handle?: { fd?: number } })._handle?.fd)}`)
    .join('; ');
}

function diagFd(fd: number | undefined): string {
  if (fd === undefined || fd < 0) return '';
  try {
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    const inode = /socket:\[(\d+)\]/.exec(link)?.[1];
    const ss = execFileSync('ss', ['-tanei'], { encoding: 'utf8' }).split('\n').filter((l) => inode && l.includes(`ino:${inode}`));
    return `${link} ${ss.join(' | ')}`;
  } catch (err) {
    return String(err);
  }
}

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of process.getActiveResourcesInfo()) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

export async function runSocketFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const t0 = Date.now();
  const worldRand = prng(o.seed ^ 0x9e3779b9);
  const w = new World(worldRand);
  const processErrors: string[] = [];
  const onException = (err: unknown) => processErrors.push(`uncaughtException while [${[...w.running].join(' ')}]: ${(err as Error)?.stack ?? String(err)}`);
  const onRejection = (err: unknown) => processErrors.push(`unhandledRejection while [${[...w.running].join(' ')}]: ${(err as Error)?.stack ?? String(err)}`);
  // An 'error' on a socket nobody listens to becomes an uncaught exception
  // whose stack names no owner: note which socket it was (its ports) first.
  const emit = net.Socket.prototype.emit;
  net.Socket.prototype.emit = function (this: net.Socket, ev: string | symbol, ...args: unknown[]) {
    if (ev === 'error' && this.listenerCount('error') === 0) {
      processErrors.push(`unhandled 'error' (${(args[0] as Error)?.message}) on a ${this.constructor.name} ${describeSocket(w, this)} while [${[...w.running].join(' ')}]`);
    }
    return (emit as (this: net.Socket, e: string | symbol, ...a: unknown[]) => boolean).call(this, ev, ...args);
  } as typeof emit;
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  const byKind: Record<string, number> = {};
  const leaks: string[] = [];
  let done = 0;
  try {
    await w.start();
    await sleep(50);
    const fd0 = fdCount();
    const res0 = resources();
    const conc = o.concurrency ?? 32;
    let next = 0;
    const worker = async () => {
      while (next < o.sessions && (o.timeLimit === undefined || Date.now() - t0 < o.timeLimit)) {
        const n = next++;
        const r = prng((o.seed + Math.imul(n + 1, 0x85ebca6b)) >>> 0);
        const kind = pickKind(r);
        byKind[kind] = (byKind[kind] ?? 0) + 1;
        const s = new Session(r, w, Date.now() + 1500);
        const tag = `${kind}#${n}`;
        w.running.add(tag);
        try {
          // Bounded: the session's own deadline, then its sockets are destroyed.
          await Promise.race([KINDS[kind]!(s), sleep(1600)]);
        } catch (err) {
          processErrors.push(`session ${tag} threw: ${(err as Error)?.stack ?? String(err)}`);
        } finally {
          s.close();
          w.running.delete(tag);
          done++;
          if (o.log && done % 1000 === 0) o.log(`${done} sessions, ${Math.round((Date.now() - t0) / 1000)} s`);
        }
      }
    };
    await Promise.all(Array.from({ length: conc }, worker));
    for (const x of w.sockets) x.destroy();
    // The deadlines are all under a second (handshake 400, connect 300, idle 600,
    // linger 300, BIND 500, UDP idle 600, ident 150; endSoon's 2 s is unref'd):
    // everything must be back within a few seconds.
    const until = Date.now() + 6000;
    let fd1 = fdCount();
    let diff: string[] = [];
    let open = 0;
    for (;;) {
      fd1 = fdCount();
      const res1 = resources();
      diff = [];
      for (const [t, n] of res1) if (n > (res0.get(t) ?? 0)) diff.push(`${t}: ${res0.get(t) ?? 0} -> ${n}`);
      open = w.servers.reduce((a, s) => a + s.connections, 0);
      if ((fd1 <= fd0 && diff.length === 0 && open === 0) || Date.now() > until) break;
      await sleep(100);
    }
    if (fd1 > fd0) leaks.push(`descriptors: ${fd0} at the start, ${fd1} after the deadlines: ${execFileSync('ss', ['-tanp'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${process.pid},`)).join(' | ')}`);
    if (diff.length) leaks.push(`active resources above baseline: ${diff.join(', ')}; sockets: ${describeSockets(w)}`);
    if (open) leaks.push(`${open} connections still open in the servers`);
  } catch (err) {
    processErrors.push(`the harness failed: ${(err as Error)?.stack ?? String(err)}`);
  }
  {
    const stats = Object.fromEntries(w.servers.map((s, i) => [['listener', 'proxyProtocolListener', 'rulesListener'][i], s.stats()]));
    await w.stop();
    await sleep(20);
    net.Socket.prototype.emit = emit;
    process.removeListener('uncaughtException', onException);
    process.removeListener('unhandledRejection', onRejection);
    processErrors.push(...w.errors);
    return { seed: o.seed, sessions: done, byKind, processErrors, leaks, violations: w.ruled.violations, ruled: w.ruled.checked, ms: Date.now() - t0, stats };
  }
}
