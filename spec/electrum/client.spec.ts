/**
 * Tokens and cookie files (lib/electrum/token.ts), the HTTP Basic guard
 * (lib/electrum/http-auth.ts) and the Electrum connector library
 * (lib/electrum/client.ts) against an in-process token server.
 */
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { generateToken, tokenFromCookie, loadOrCreateCookie, resolveToken, readTokenFile, TOKEN_ALPHABET } from '../../lib/electrum/token.js';
import { basicPassword, checkBasicAuth, basicAuthGuard } from '../../lib/electrum/http-auth.js';
import { electrumConnect, electrumCall, LineReader, ElectrumSession, ElectrumRpcError, rawAuthSequence, ElectrumVia } from '../../lib/electrum/client.js';
import { AuthError, TimeoutError } from '../../lib/protocol/errors.js';
import { toHex } from '../support/helpers.js';
import { TOKEN, startTokenGateway, type TokenGateway, paddedVersionRequest } from '../support/electrum.js';

describe('electrum tokens (lib/electrum/token.ts)', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-token-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('generates 25 characters of [a-z0-9], all symbols in use, no repeats', () => {
    const seen = new Set<string>();
    const symbols = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const t = generateToken();
      expect(t).to.match(/^[a-z0-9]{25}$/);
      seen.add(t);
      for (const c of t) symbols.add(c);
    }
    expect(seen.size).to.equal(400);
    expect([...symbols].sort().join('')).to.equal([...TOKEN_ALPHABET].sort().join(''));
    expect(Math.log2(36) * 25).to.be.greaterThan(128);
  });

  it('one trailing newline of a cookie file is not part of the token', () => {
    expect(tokenFromCookie('abc')).to.equal('abc');
    expect(tokenFromCookie('abc\n')).to.equal('abc');
    expect(tokenFromCookie('abc\r\n')).to.equal('abc');
    expect(tokenFromCookie('abc\n\n')).to.equal('abc\n');
    expect(tokenFromCookie(' abc ')).to.equal(' abc ');
  });

  it('creates a missing cookie with mode 0600 and no newline, then reads it back', () => {
    const file = path.join(dir, 'cookie');
    const a = loadOrCreateCookie(file);
    expect(a.created).to.equal(true);
    expect(a.token).to.match(/^[a-z0-9]{25}$/);
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    expect(readFileSync(file, 'utf8')).to.equal(a.token);
    const b = loadOrCreateCookie(file);
    expect(b).to.deep.equal({ token: a.token, created: false });
    expect(readTokenFile(file)).to.equal(a.token);
  });

  it('an existing cookie is used as is (minus one newline); empty ones are refused', () => {
    const file = path.join(dir, 'given');
    writeFileSync(file, 'Hand-Written Secret, long enough\n', { mode: 0o600 });
    expect(loadOrCreateCookie(file)).to.deep.equal({ token: 'Hand-Written Secret, long enough', created: false });
    writeFileSync(file, '\n');
    expect(() => loadOrCreateCookie(file)).to.throw(/empty/);
    expect(() => loadOrCreateCookie(path.join(dir, 'no', 'such', 'dir'))).to.throw(/ENOENT/);
  });

  it('exactly one of --auth-token / --auth-cookie', () => {
    expect(() => resolveToken({})).to.throw(/exactly one/);
    expect(() => resolveToken({ authToken: 'x', authCookie: path.join(dir, 'c2') })).to.throw(/exactly one/);
    expect(() => resolveToken({ authToken: '' })).to.throw(/empty/);
    expect(resolveToken({ authToken: 'tok' })).to.deep.equal({ token: 'tok', created: false, source: 'token' });
  });
});

describe('HTTP Basic with the token (lib/electrum/http-auth.ts)', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('any username, the token as password; scheme case-insensitive', () => {
    expect(checkBasicAuth(`Basic ${b64(`:${TOKEN}`)}`, TOKEN)).to.equal(true);
    expect(checkBasicAuth(`basic ${b64(`bwt:${TOKEN}`)}`, TOKEN)).to.equal(true);
    expect(checkBasicAuth(`BASIC ${b64(`x:${TOKEN}`)}`, TOKEN)).to.equal(true);
  });

  it('refuses wrong, missing and malformed credentials', () => {
    expect(checkBasicAuth(undefined, TOKEN)).to.equal(false);
    expect(checkBasicAuth('', TOKEN)).to.equal(false);
    expect(checkBasicAuth(`Basic ${b64(`${TOKEN}:`)}`, TOKEN)).to.equal(false); // token as user
    expect(checkBasicAuth(`Basic ${b64(TOKEN)}`, TOKEN)).to.equal(false); // no colon
    expect(checkBasicAuth(`Basic ${b64(`:${TOKEN}x`)}`, TOKEN)).to.equal(false);
    expect(checkBasicAuth(`Bearer ${TOKEN}`, TOKEN)).to.equal(false);
    expect(checkBasicAuth(`Basic !!${b64(`:${TOKEN}`)}`, TOKEN)).to.equal(false);
    // Split at the first colon: the password may itself contain colons.
    expect(basicPassword(`Basic ${b64('u:p:q')}`)).to.equal('p:q');
    expect(checkBasicAuth(`Basic ${b64('u:p:q')}`, 'p:q')).to.equal(true);
  });

  it('guards a real HTTP server: 401 with the challenge, else the handler', async () => {
    const server = http.createServer(basicAuthGuard(TOKEN, (_req, res) => res.end('ok')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    try {
      const denied = await fetch(url);
      expect(denied.status).to.equal(401);
      expect(denied.headers.get('www-authenticate')).to.equal('Basic realm="sockskit"');
      expect(await denied.text()).to.not.include(TOKEN);
      const wrong = await fetch(url, { headers: { Authorization: `Basic ${b64(':nope')}` } });
      expect(wrong.status).to.equal(401);
      const ok = await fetch(url, { headers: { Authorization: `Basic ${b64(`:${TOKEN}`)}` } });
      expect(ok.status).to.equal(200);
      expect(await ok.text()).to.equal('ok');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('LineReader: newline-delimited JSON of any length', () => {
  it('joins lines split across chunks and splits lines sharing one', () => {
    const r = new LineReader();
    expect(r.push(Buffer.from('{"a":')).map(String)).to.deep.equal([]);
    expect(r.push(Buffer.from('1}\n{"b":2}\n{"c"')).map(String)).to.deep.equal(['{"a":1}', '{"b":2}']);
    expect(r.pending).to.equal(4);
    expect(r.push(Buffer.from(':3}\n')).map(String)).to.deep.equal(['{"c":3}']);
    expect(r.pending).to.equal(0);
  });

  it('a padded 1024-byte request byte by byte, and a 5 MiB line in 64 KiB chunks', () => {
    const r = new LineReader();
    const padded = paddedVersionRequest();
    const got: Buffer[] = [];
    for (const b of padded) got.push(...r.push(Buffer.from([b])));
    expect(got).to.have.length(1);
    expect(got[0]!.length).to.equal(1023);
    const big = Buffer.concat([Buffer.from('{"result":"'), Buffer.alloc(5 * 1024 * 1024, 0x61), Buffer.from('"}\n')]);
    const lines: Buffer[] = [];
    for (let i = 0; i < big.length; i += 65536) lines.push(...r.push(big.subarray(i, i + 65536)));
    expect(lines).to.have.length(1);
    expect(lines[0]!.length).to.equal(big.length - 1);
  });

  it('refuses a line beyond maxLine; a line of exactly maxLine passes', () => {
    const ok = new LineReader(10);
    expect(ok.push(Buffer.from('0123456789\n')).map(String)).to.deep.equal(['0123456789']);
    const r = new LineReader(10);
    r.push(Buffer.from('012345'));
    expect(() => r.push(Buffer.from('67890'))).to.throw(/longer than 10 bytes/);
    expect(() => new LineReader(10).push(Buffer.from('0123456789A\n'))).to.throw(/longer than 10 bytes/);
  });
});

describe('electrumConnect / electrumCall against a token server on 127.0.0.1', () => {
  let gateway: TokenGateway;
  let port: number;
  let silent: net.Server;
  let silentPort: number;
  const silentSockets = new Set<net.Socket>();

  before(async () => {
    gateway = await startTokenGateway();
    port = gateway.port;
    // Accepts and never answers: for deadlines.
    silent = net.createServer((s) => {
      silentSockets.add(s);
      s.on('error', () => s.destroy());
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentPort = (silent.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    await gateway.close();
  });

  it('rawAuthSequence is bwt\'s documented byte string', () => {
    expect(toHex(rawAuthSequence('abc'))).to.equal('05 01 02 01 00 03 61 62 63 05 01 00 01 00 00 00 00 00 00');
  });

  for (const via of ['password', 'hostname', 'raw'] as ElectrumVia[]) {
    it(`via ${via}: server.version through the gateway, a padded line too`, async () => {
      const { socket, head } = await electrumConnect({ server: `127.0.0.1:${port}`, token: TOKEN, via });
      expect(head.length).to.equal(0);
      const session = new ElectrumSession(socket, head);
      try {
        expect(await session.request('server.version', ['sockskit-test', '1.4'])).to.deep.equal(['stand-in 1.0', '1.4']);
        expect(await session.request('server.ping')).to.equal(null);
        // A 1024-byte padded line, then a ping: once the ping is answered the padded line was read whole.
        socket.write(paddedVersionRequest().toString().replace('"id":0', '"id":7'));
        expect(await session.request('server.ping')).to.equal(null);
        const padded = gateway.backend.received.at(-2)!;
        expect(padded.length).to.equal(1023);
        expect(JSON.parse(padded).id).to.equal(7);
      } finally {
        session.close();
      }
    });

    it(`via ${via}: a wrong token is an AuthError`, async () => {
      let err: unknown;
      try {
        await electrumConnect({ server: { host: '127.0.0.1', port }, token: TOKEN.toUpperCase(), via });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(AuthError);
      expect((err as AuthError).code).to.equal('ERR_SOCKS_AUTH_FAILED');
    });

    it(`via ${via}: a server that never answers hits the deadline`, async () => {
      const t0 = Date.now();
      let err: unknown;
      try {
        await electrumConnect({ server: `127.0.0.1:${silentPort}`, token: TOKEN, via, timeout: 300 });
      } catch (e) {
        err = e;
      }
      expect(err, String(err)).to.be.instanceOf(TimeoutError);
      expect(Date.now() - t0).to.be.within(250, 2000);
    });
  }

  it('resolves the server name through an injected lookup', async () => {
    const asked: string[] = [];
    // net.connect asks with { all: true } (happy eyeballs) and wants an array then.
    const lookup = ((host: string, opts: { all?: boolean }, cb: (err: null, address: unknown, family?: number) => void) => {
      asked.push(host);
      if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    }) as never;
    for (const via of ['password', 'hostname'] as ElectrumVia[]) {
      const r = await electrumCall({ server: `electrum.example:${port}`, token: TOKEN, via, lookup, method: 'server.ping' });
      expect(r).to.equal(null);
    }
    expect(asked).to.deep.equal(['electrum.example', 'electrum.example']);
  });

  it('electrumCall sends server.version first, and turns a JSON-RPC error into ElectrumRpcError', async () => {
    const before = gateway.backend.received.length;
    let err: unknown;
    try {
      await electrumCall({ server: `127.0.0.1:${port}`, token: TOKEN, method: 'blockchain.nope', params: [1, 'x'] });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ElectrumRpcError);
    expect((err as ElectrumRpcError).rpcCode).to.equal(-32601);
    const sent = gateway.backend.received.slice(before).map((l) => JSON.parse(l) as { method: string; id: number; params: unknown[] });
    expect(sent.map((m) => [m.id, m.method])).to.deep.equal([[0, 'server.version'], [1, 'blockchain.nope']]);
    expect(sent[1]!.params).to.deep.equal([1, 'x']);
  });

  it('an aborted signal rejects before dialling', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    let err: unknown;
    try {
      await electrumConnect({ server: `127.0.0.1:${port}`, token: TOKEN, signal: ac.signal });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('stop');
  });
});
