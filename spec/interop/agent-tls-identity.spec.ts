/**
 * SocksAgent's keep-alive pool never hands a request a TLS connection made
 * under other terms: another `ca`, another (or no) client certificate, a
 * `checkServerIdentity`, another `servername`... each gets its own socket,
 * as https.Agent keys its pool. Two CAs and a client certificate are made
 * by openssl at test time; the origin asks for a client certificate and
 * answers with the name it saw.
 */
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import type tls from 'node:tls';
import { mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { SocksAgent } from '../../lib/client/agent.js';
import { requireProgram } from '../support/interop.js';
import { makeCerts } from '../support/certs.js';
import { startServer } from '../support/udp-bind.js';

interface WhoAmI {
  port: number;
  connections: number;
  close(): Promise<void>;
}

/** An https origin (CA one's leaf) that asks for a client certificate and answers with its CN, or "anonymous". */
async function whoAmI(leaf: { key: Buffer; cert: Buffer }): Promise<WhoAmI> {
  const sockets = new Set<net.Socket>();
  const server = https.createServer({ ...leaf, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
    res.end(peer?.subject?.CN ?? 'anonymous');
  });
  const o: WhoAmI = { port: 0, connections: 0, close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
  server.on('connection', (s: net.Socket) => { o.connections++; sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  o.port = (server.address() as net.AddressInfo).port;
  return o;
}

function get(agent: https.Agent | SocksAgent, port: number, tlsOptions: https.RequestOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: 'localhost', port, path: '/', agent, ...tlsOptions });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

const failure = (p: Promise<unknown>): Promise<string> => p.then((v) => `succeeded: ${String(v)}`, (e: NodeJS.ErrnoException) => e.code ?? e.message);

describe('client: SocksAgent pools TLS connections by TLS identity', function () {
  this.timeout(20000);
  let dir: string;
  let caOne: Buffer;
  let caTwo: Buffer;
  let client: { key: Buffer; cert: Buffer };
  let origin: WhoAmI;
  let proxy: Awaited<ReturnType<typeof startServer>>;
  let agent: SocksAgent;

  before(async function () {
    requireProgram(this, 'openssl');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-agent-id-'));
    mkdirSync(path.join(dir, 'one'));
    mkdirSync(path.join(dir, 'two'));
    const one = makeCerts(path.join(dir, 'one'));
    const two = makeCerts(path.join(dir, 'two'));
    caOne = readFileSync(one.ca);
    caTwo = readFileSync(two.ca);
    // CA one's "other" leaf serves as the client's certificate (the origin reads its CN).
    client = one.otherName;
    origin = await whoAmI(one.leaf);
    proxy = await startServer();
  });
  beforeEach(() => {
    agent = new SocksAgent({ proxy: `socks5h://127.0.0.1:${proxy.port}`, agent: { keepAlive: true, maxSockets: 1 } });
  });
  afterEach(() => agent.destroy());
  after(async () => {
    await origin?.close();
    await proxy?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a request with a `ca` that did not sign the server is not served on a socket verified under another ca', async () => {
    expect(await get(agent, origin.port, { ca: caOne })).to.equal('anonymous');
    expect(await failure(get(agent, origin.port, { ca: caTwo }))).to.match(/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  });

  it('a request without a client certificate is not served as the certificate\'s user', async () => {
    const before = origin.connections;
    expect(await get(agent, origin.port, { ca: caOne, ...client })).to.equal('other');
    expect(await get(agent, origin.port, { ca: caOne })).to.equal('anonymous');
    expect(await get(agent, origin.port, { ca: caOne, ...client }), 'the certificate\'s socket is still reused').to.equal('other');
    expect(origin.connections - before, 'one connection per identity').to.equal(2);
  });

  it('a checkServerIdentity that refuses is run on a fresh connection', async () => {
    expect(await get(agent, origin.port, { ca: caOne })).to.equal('anonymous');
    const refuse = (): Error => Object.assign(new Error('pinned key mismatch'), { code: 'ERR_PINNED' });
    expect(await failure(get(agent, origin.port, { ca: caOne, checkServerIdentity: refuse }))).to.equal('ERR_PINNED');
  });

  it('the same terms share one socket (keep-alive still works)', async () => {
    const before = origin.connections;
    for (let i = 0; i < 3; i++) expect(await get(agent, origin.port, { ca: caOne, ciphers: 'DEFAULT' })).to.equal('anonymous');
    expect(origin.connections - before).to.equal(1);
    // Other ciphers, another servername, rejectUnauthorized: each its own socket.
    expect(await get(agent, origin.port, { ca: caOne, ciphers: 'HIGH' })).to.equal('anonymous');
    expect(await get(agent, origin.port, { ca: caOne, servername: 'localhost' })).to.equal('anonymous');
    expect(origin.connections - before).to.equal(3);
  });

  it('the pool key holds no key material (hashed, not verbatim)', () => {
    const name = agent.getName({ host: 'localhost', port: origin.port, protocol: 'https:', ...client, passphrase: 'hunter2' } as never);
    expect(name).to.not.include('hunter2');
    expect(name).to.not.include(client.key.toString().split('\n')[1]!);
  });
});
