/**
 * The socket fuzzer's rules world: a SocksServer with a random rule list
 * (client, user, destination name/suffix/CIDR, port, command rules) and
 * scrypt-hashed users, reconfigured every few hundred ms with a new list
 * (and sometimes a user removed), in front of TCP and UDP targets that judge
 * every arrival.
 *
 * Each session sends, as its first tunnel bytes or as each datagram, a tag:
 * the destination as requested, the command, and the identity a method
 * verified (null for no-auth and SOCKS4, whatever USERID it sent). A target
 * receiving a tag checks the invariant with evaluateRules, the reference
 * evaluation: some configuration in force between the tag's sending and its
 * arrival passes it (and, for a datagram, still lists its user). So no
 * datagram or tunnel reaches a destination the current rules block, and no
 * unverified identity (a SOCKS4 USERID) can match a `user:` rule.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { SocksServer, none, userpass, hashPassword, parseRules, evaluateRules, hostType, type LookupFunction, type Rule } from '../../lib/index.js';

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, a: readonly T[]): T => a[int(r, a.length)]!;
const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));
const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);

const MAGIC = 'SKTAG ';
const USERS: readonly string[] = ['alice', 'admin'];
const PASSWORD = 'pw-';
/** Host spellings sessions ask for: all but fail.test resolve to 127.0.0.1. */
const HOSTS = ['127.0.0.1', 'localhost', 'LocalHost.', 'a.example', 'db.internal', 'x.corp.internal', 'fail.test'];

/** What a session tells the target: enough to judge the arrival with the reference evaluation. */
interface Tag {
  /** Method name and verified identity (null: none verified). */
  m: string;
  id: string | null;
  c: 'connect' | 'udp';
  h: string;
  p: number;
  /** Date.now() when the request (or datagram) was sent. */
  t: number;
}

interface Generation {
  rules: Rule[];
  users: Set<string>;
  from: number;
  to: number;
}

export class RuledWorld {
  server!: SocksServer;
  port = 0;
  tcpPorts: number[] = [];
  udpPorts: number[] = [];
  readonly history: Generation[] = [];
  readonly violations: string[] = [];
  readonly checked = { tcp: 0, udp: 0, untagged: 0, reloads: 0 };
  private hashes = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly closers: (() => Promise<void>)[] = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly r: Rand) {}

  async start(lookup: LookupFunction): Promise<void> {
    for (const u of USERS) this.hashes.set(u, await hashPassword(PASSWORD + u));
    for (let i = 0; i < 3; i++) this.tcpPorts.push(await this.tcpTarget());
    for (let i = 0; i < 3; i++) this.udpPorts.push(await this.udpTarget());
    const gen = this.generation();
    this.server = new SocksServer({ ...this.options(gen), lookup, socks4: true, handshakeTimeout: 1000, connectTimeout: 300, idleTimeout: 600, lingerTimeout: 300, maxConnections: 400 });
    this.server.on('clientError', () => {});
    await new Promise<void>((res) => this.server.listen(0, '127.0.0.1', res));
    this.port = (this.server.address() as net.AddressInfo).port;
    this.timer = setInterval(() => this.reload(), 150 + int(this.r, 250));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    for (const c of this.closers) await c();
  }

  /** A new configuration: random rules, sometimes a user removed. */
  private reload(): void {
    const gen = this.generation();
    this.server.reconfigure({ ...this.server.options, ...this.options(gen) });
    this.checked.reloads++;
  }

  private generation(): Generation {
    const now = Date.now();
    const prev = this.history[this.history.length - 1];
    if (prev) prev.to = now;
    const users = new Set(USERS.filter(() => this.r() < 0.8));
    const g: Generation = { rules: randomRules(this.r, this.tcpPorts, this.udpPorts), users, from: now, to: Infinity };
    this.history.push(g);
    if (this.history.length > 400) this.history.shift();
    return g;
  }

  private options(g: Generation) {
    const users = Object.fromEntries([...g.users].map((u) => [u, this.hashes.get(u)!]));
    return { methods: [userpass({ users }), none()], rules: g.rules };
  }

  /** The invariant for one arrival (`kind` tcp or udp). */
  judge(kind: 'tcp' | 'udp', text: string): void {
    if (!text.startsWith(MAGIC)) {
      this.checked.untagged++;
      return;
    }
    let tag: Tag;
    try {
      tag = JSON.parse(text.slice(MAGIC.length)) as Tag;
    } catch {
      this.checked.untagged++;
      return;
    }
    this.checked[kind]++;
    const now = Date.now();
    const input = { client: '127.0.0.1', method: tag.m, identity: tag.id, command: tag.c, host: tag.h, hostType: hostType(tag.h), port: tag.p, address: '127.0.0.1' };
    const ok = this.history.some((g) => g.from <= now && g.to >= tag.t - 5 && evaluateRules(g.rules, input).action === 'pass' && (kind === 'tcp' || tag.id === null || g.users.has(tag.id)));
    if (!ok) this.violations.push(`${kind} ${JSON.stringify(tag)} arrived ${now - tag.t} ms after sending; no configuration in force since passes it: ${this.history.filter((g) => g.to >= tag.t - 5).map((g) => JSON.stringify(g.rules.map(show))).join(' | ')}`);
  }

  private async tcpTarget(): Promise<number> {
    const server = net.createServer((s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
      let buf = '';
      const onData = (d: Buffer): void => {
        buf += d.toString('latin1');
        const nl = buf.indexOf('\n');
        if (nl < 0 && buf.length < 1024) return;
        s.removeListener('data', onData);
        this.judge('tcp', nl < 0 ? buf : buf.slice(0, nl));
        s.on('data', () => {});
        s.end('ok\n');
      };
      s.on('data', onData);
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    this.closers.push(() => new Promise((res) => server.close(() => res())));
    return (server.address() as net.AddressInfo).port;
  }

  private async udpTarget(): Promise<number> {
    const u = dgram.createSocket('udp4');
    u.on('message', (m) => this.judge('udp', m.toString('latin1')));
    u.on('error', () => {});
    await new Promise<void>((res) => u.bind(0, '127.0.0.1', res));
    this.closers.push(() => new Promise((res) => u.close(() => res())));
    return u.address().port;
  }
}

function show(r: Rule): Record<string, unknown> {
  return { a: r.action, client: r.client?.map((c) => c.text), user: r.user, to: r.to?.map((d) => ('cidr' in d ? d.cidr.text : 'name' in d ? d.name : d.suffix)), port: r.port, command: r.command };
}

/** 1 to 5 rules over the fields a session can vary, sometimes ended by a catch-all. */
export function randomRules(r: Rand, tcp: number[], udp: number[]): Rule[] {
  const out: Record<string, unknown>[] = [];
  const n = 1 + int(r, 5);
  for (let i = 0; i < n; i++) {
    const e: Record<string, unknown> = { action: r() < 0.5 ? 'pass' : 'block' };
    if (r() < 0.15) e.client = pick(r, ['127.0.0.0/8', '10.0.0.0/8', '127.0.0.1', '192.0.2.0/24']);
    if (r() < 0.35) e.user = USERS.filter(() => r() < 0.6).concat(r() < 0.3 ? ['bob'] : []);
    if (r() < 0.4) e.to = [pick(r, ['127.0.0.1', '127.0.0.0/8', '10.0.0.0/8', 'localhost', '.internal', 'a.example', '.example', 'db.internal'])];
    if (r() < 0.4) {
      const p = pick(r, [...tcp, ...udp]);
      e.port = r() < 0.7 ? String(p) : `${Math.max(1, p - int(r, 3))}-${p + int(r, 3)}`;
    }
    if (r() < 0.3) e.command = pick(r, [['connect'], ['udp'], ['connect', 'udp'], ['bind', 'udp']]);
    if (Array.isArray(e.user) && e.user.length === 0) delete e.user;
    // A user rule mostly passes (what a claimed identity would want to reach).
    if (e.user && r() < 0.7) e.action = 'pass';
    if (e.action === 'block' && r() < 0.3) e.reply = 1 + int(r, 8);
    out.push(e);
  }
  if (r() < 0.6) out.push({ action: r() < 0.6 ? 'pass' : 'block' });
  return parseRules(out);
}

/** What a session needs of the fuzzer's Session: its randomness, a socket factory, its deadline. */
export interface RuledSessionHost {
  r: Rand;
  sock(port: number): net.Socket;
  own: Set<{ destroy(): void }>;
  readonly over: boolean;
}

/** Greeting and authentication (or none) for a SOCKS5 session; the identity a method verifies, and how many reply bytes precede the request's reply. */
function socks5Auth(r: Rand): { bytes: Buffer; m: string; id: string | null; skip: number } {
  if (r() < 0.5) return { bytes: Buffer.from([5, 1, 0]), m: 'none', id: null, skip: 2 };
  const user = pick(r, [...USERS, 'bob']);
  const pw = Buffer.from(r() < 0.9 ? PASSWORD + user : 'wrong');
  const auth = Buffer.concat([Buffer.from([5, 1, 2, 1, user.length]), Buffer.from(user), Buffer.from([pw.length]), pw]);
  return { bytes: auth, m: 'userpass', id: user, skip: 4 };
}

function hostBytes(host: string): Buffer {
  if (hostType(host) === 'ipv4') return Buffer.from([1, ...host.split('.').map(Number)]);
  return Buffer.concat([Buffer.from([3, host.length]), Buffer.from(host)]);
}

function tagLine(tag: Tag): Buffer {
  return Buffer.from(`${MAGIC}${JSON.stringify(tag)}\n`);
}

/** CONNECT through the ruled listener, SOCKS5 or SOCKS4/4a (its USERID a claim): the tag is the first tunnel bytes. */
async function connectSession(s: RuledSessionHost, w: RuledWorld): Promise<void> {
  const r = s.r;
  const host = pick(r, HOSTS);
  const port = pick(r, w.tcpPorts);
  const c = s.sock(w.port);
  c.on('data', () => {});
  await new Promise<void>((res) => c.once('connect', res).once('close', res));
  let hello: Buffer;
  let tag: Tag;
  if (r() < 0.35) {
    // SOCKS4 (an IP) or 4a (a name), with a USERID that names a user: never verified.
    const userId = Buffer.from(pick(r, ['admin', 'alice', 'bob', '']));
    const a4 = hostType(host) === 'ipv4';
    hello = Buffer.concat([Buffer.from([4, 1]), u16(port), a4 ? Buffer.from(host.split('.').map(Number)) : Buffer.from([0, 0, 0, 9]), userId, Buffer.from([0]), a4 ? Buffer.alloc(0) : Buffer.concat([Buffer.from(host), Buffer.from([0])])]);
    tag = { m: 'socks4', id: null, c: 'connect', h: host, p: port, t: Date.now() };
  } else {
    const a = socks5Auth(r);
    hello = Buffer.concat([a.bytes, Buffer.from([5, 1, 0]), hostBytes(host), u16(port)]);
    tag = { m: a.m, id: a.id, c: 'connect', h: host, p: port, t: Date.now() };
  }
  // Pipelined: the tag reaches the target only if the request is granted.
  c.write(Buffer.concat([hello, tagLine(tag)]));
  for (let i = 0; i < 40 && !c.destroyed && !s.over; i++) await sleep(25);
  c.destroy();
}

/** UDP ASSOCIATE (SOCKS5), then tagged datagrams to random targets and host spellings. */
async function udpSession(s: RuledSessionHost, w: RuledWorld): Promise<void> {
  const r = s.r;
  const a = socks5Auth(r);
  const c = s.sock(w.port);
  let got = Buffer.alloc(0);
  c.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
  await new Promise<void>((res) => c.once('connect', res).once('close', res));
  c.write(Buffer.concat([a.bytes, Buffer.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0])]));
  for (let i = 0; i < 30 && got.length < a.skip + 10 && !c.destroyed; i++) await sleep(20);
  if (got.length < a.skip + 10 || got[a.skip + 1] !== 0) return void c.destroy();
  const relay = got.readUInt16BE(a.skip + 8);
  const u = dgram.createSocket('udp4');
  s.own.add({ destroy: () => u.close() });
  u.on('error', () => {});
  await new Promise<void>((res) => u.bind(0, '127.0.0.1', res));
  const n = 1 + int(r, 10);
  // Mostly one name on several ports: the pattern of a reused lookup (issue 18, finding 1).
  const one = r() < 0.7 ? pick(r, HOSTS) : undefined;
  for (let i = 0; i < n && !c.destroyed && !s.over; i++) {
    const host = one ?? pick(r, HOSTS);
    const port = pick(r, w.udpPorts);
    const tag: Tag = { m: a.m, id: a.id, c: 'udp', h: host, p: port, t: Date.now() };
    u.send(Buffer.concat([Buffer.from([0, 0, 0]), hostBytes(host), u16(port), tagLine(tag)]), relay, '127.0.0.1', () => {});
    if (r() < 0.5) await sleep(int(r, 60));
  }
  await sleep(int(r, 100));
  c.destroy();
}

/** One session against the ruled listener. */
export function ruledSession(s: RuledSessionHost, w: RuledWorld): Promise<void> {
  return s.r() < 0.6 ? connectSession(s, w) : udpSession(s, w);
}
