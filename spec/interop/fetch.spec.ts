/**
 * Node's global fetch() with socksDispatcher() against local http and https
 * origins (a CA and certificate made by openssl at test time) through
 * sockskit-proxy, Dante and microsocks, all on 127.0.0.1. Each test proves
 * the request went through the proxy: sockskit-proxy's tunnel counter
 * (SIGUSR1), Dante's and microsocks' connect log lines, and a control: the
 * same fetch without the dispatcher leaves the counter alone.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { socksDispatcher } from '../../lib/undici.js';
import { gssapiPsk } from '../../methods/gssapi/method.js';
import { requireProgram, freePort, spawnDaemon, stopAll, tempDir, type Daemon } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';
import { danteConfig } from '../support/dante.js';
import { makeCerts } from '../support/certs.js';
import { httpOrigin, httpsOrigin, type Origin } from '../support/web.js';
import { waitFor } from '../support/server.js';
import { createRequire } from 'node:module';

/** The undici that sockskit loads from here (the matrix in spec/package/undici.spec.ts swaps it). */
function undiciVersion(): string {
  const main = createRequire(import.meta.url).resolve('undici');
  return (JSON.parse(readFileSync(path.join(path.dirname(main), 'package.json'), 'utf8')) as { version: string }).version;
}

const PSK = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 'hex');

/** sockskit-proxy's tunnel count, read from its SIGUSR1 stats line. */
async function tunnels(d: Daemon): Promise<number> {
  const seen = (d.output().match(/stats \{/g) ?? []).length;
  d.child.kill('SIGUSR1');
  await waitFor(() => (d.output().match(/stats \{/g) ?? []).length > seen, 3000, 'a stats line');
  const lines = d.output().split('\n').filter((l) => l.includes('stats {'));
  return (JSON.parse(lines.at(-1)!.replace(/^.*?stats /, '')) as { tunnels: number }).tunnels;
}

/** Lines of `d`'s output matching `re` (bounded wait for at least `n`). */
async function logLines(d: Daemon, re: RegExp, n: number): Promise<string[]> {
  const lines = () => d.output().split('\n').filter((l) => re.test(l));
  await waitFor(() => lines().length >= n, 3000, `${n} log line(s) matching ${re}`).catch(() => {});
  return lines();
}

describe('interop: fetch() with socksDispatcher', function () {
  this.timeout(20000);
  let dir: string;
  let ca: string;
  let web: Origin;
  let secure: Origin;
  const tmp = tempDir('sockskit-fetch-');

  before(async function () {
    requireProgram(this, 'openssl');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-fetch-tls-'));
    const certs = makeCerts(dir);
    ca = certs.ca;
    web = await httpOrigin();
    secure = await httpsOrigin(certs.leaf);
  });
  after(async () => {
    await stopAll();
    await web?.close();
    await secure?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    tmp.cleanup();
  });

  describe('through sockskit-proxy (username/password)', () => {
    let proxy: Daemon;
    let port = 0;
    before(async () => {
      port = await freePort();
      const key = tmp.write('psk.key', PSK.toString('hex'));
      proxy = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--listen', `127.0.0.1:${port}`, '--user', 'alice:s3cret', '--gssapi-psk', key], { readyPort: port });
    });

    it('http GET and https POST go through the proxy (its tunnel counter), a plain fetch does not', async () => {
      const dispatcher = socksDispatcher(`socks5h://alice:s3cret@127.0.0.1:${port}`, { tls: { ca: readCa() } });
      const before = await tunnels(proxy);
      const r1 = await fetch(`${web.url}/plain?x=1`, { dispatcher } as RequestInit);
      expect(r1.status).to.equal(200);
      expect(await r1.text()).to.equal('GET /plain?x=1');
      const r2 = await fetch(`${secure.url}/tls`, { method: 'POST', body: 'over socks', dispatcher } as RequestInit);
      expect(await r2.text()).to.equal('POST /tls over socks');
      expect(await tunnels(proxy)).to.equal(before + 2);
      // Control: the counter does tell proxied from direct.
      expect(await (await fetch(`${web.url}/direct`)).text()).to.equal('GET /direct');
      expect(await tunnels(proxy)).to.equal(before + 2);
      await dispatcher.close();
    });

    it('undici\'s own fetch() takes the dispatcher too, on the undici major under test', async () => {
      const want = process.env.SOCKSKIT_UNDICI_MAJOR;
      if (want) expect(undiciVersion().split('.')[0]).to.equal(want);
      const undici = await import('undici');
      const dispatcher = socksDispatcher(`socks5h://alice:s3cret@127.0.0.1:${port}`, { tls: { ca: readCa() } });
      const before = await tunnels(proxy);
      expect(await (await undici.fetch(`${web.url}/own`, { dispatcher })).text()).to.equal('GET /own');
      expect(await (await undici.fetch(`${secure.url}/own-tls`, { method: 'POST', body: 'via undici', dispatcher })).text()).to.equal('POST /own-tls via undici');
      expect(await tunnels(proxy)).to.equal(before + 2);
      await dispatcher.close();
    });

    it('keep-alive: sequential requests reuse the tunnel (one tunnel at the proxy, one connection at the origin)', async () => {
      const dispatcher = socksDispatcher(`socks5h://alice:s3cret@127.0.0.1:${port}`, { tls: { ca: readCa() } });
      const before = await tunnels(proxy);
      const conns = secure.connections;
      for (const p of ['/k1', '/k2', '/k3']) {
        expect(await (await fetch(`${secure.url}${p}`, { dispatcher } as RequestInit)).text()).to.equal(`GET ${p}`);
        // undici returns the connection to its pool just after the body ends.
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await tunnels(proxy)).to.equal(before + 1);
      expect(secure.connections - conns).to.equal(1);
      await dispatcher.close();
    });

    it('https by name: SNI and the certificate check use the URL\'s host (localhost, resolved by the proxy)', async () => {
      const dispatcher = socksDispatcher(`socks5h://alice:s3cret@127.0.0.1:${port}`, { tls: { ca: readCa() } });
      const before = await tunnels(proxy);
      const r = await fetch(`https://localhost:${secure.port}/named`, { dispatcher } as RequestInit);
      expect(await r.text()).to.equal('GET /named');
      expect(await tunnels(proxy)).to.equal(before + 1);
      await dispatcher.close();
    });

    it('an untrusted certificate fails the fetch (no silent fallback), a wrong password too', async () => {
      const untrusted = socksDispatcher(`socks5h://alice:s3cret@127.0.0.1:${port}`);
      const e1 = await fetch(`${secure.url}/`, { dispatcher: untrusted } as RequestInit).then(() => undefined, (e: Error) => e);
      expect((e1?.cause as NodeJS.ErrnoException)?.code).to.match(/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
      await untrusted.close();
      const wrong = socksDispatcher(`socks5h://alice:nope@127.0.0.1:${port}`);
      const e2 = await fetch(`${web.url}/`, { dispatcher: wrong } as RequestInit).then(() => undefined, (e: Error) => e);
      expect((e2?.cause as { code?: string })?.code).to.equal('ERR_SOCKS_AUTH_FAILED');
      await wrong.close();
    });

    it('any method plugin: GSS-API with protection (an encapsulated tunnel) carries http and https', async () => {
      const dispatcher = socksDispatcher(`socks5h://127.0.0.1:${port}`, { methods: [gssapiPsk({ key: PSK })], tls: { ca: readCa() } });
      const before = await tunnels(proxy);
      expect(await (await fetch(`${web.url}/gss`, { dispatcher } as RequestInit)).text()).to.equal('GET /gss');
      expect(await (await fetch(`${secure.url}/gss`, { method: 'PUT', body: 'sealed', dispatcher } as RequestInit)).text()).to.equal('PUT /gss sealed');
      expect(await tunnels(proxy)).to.equal(before + 2);
      await dispatcher.close();
    });

    describe('and the other proxies', () => {
      let dante: Daemon;
      let dantePort = 0;
      let micro: Daemon;
      let microPort = 0;
      before(async function () {
        const danted = requireProgram(this, 'danted');
        const ms = requireProgram(this, 'microsocks');
        dantePort = await freePort();
        const conf = tmp.write('danted.conf', danteConfig(dantePort, { commands: 'connect', log: true }));
        dante = await spawnDaemon(danted, ['-f', conf], { readyPort: dantePort, readyTimeout: 8000 });
        microPort = await freePort();
        micro = await spawnDaemon(ms, ['-i', '127.0.0.1', '-p', String(microPort), '-u', 'bob', '-P', 'hunter2'], { readyPort: microPort });
      });

      it('Dante: http and https, each in Dante\'s connect log', async () => {
        const dispatcher = socksDispatcher(`socks5://127.0.0.1:${dantePort}`, { tls: { ca: readCa() } });
        expect(await (await fetch(`${web.url}/dante`, { dispatcher } as RequestInit)).text()).to.equal('GET /dante');
        expect(await (await fetch(`${secure.url}/dante`, { dispatcher } as RequestInit)).text()).to.equal('GET /dante');
        const lines = await logLines(dante, /tcp\/connect/, 2);
        expect(lines.some((l) => l.includes(`127.0.0.1.${web.port}`)), lines.join('\n')).to.equal(true);
        expect(lines.some((l) => l.includes(`127.0.0.1.${secure.port}`)), lines.join('\n')).to.equal(true);
        await dispatcher.close();
      });

      it('microsocks (username/password): http and https, each in its log', async () => {
        const dispatcher = socksDispatcher(`socks5h://bob:hunter2@127.0.0.1:${microPort}`, { tls: { ca: readCa() } });
        expect(await (await fetch(`${web.url}/micro`, { dispatcher } as RequestInit)).text()).to.equal('GET /micro');
        expect(await (await fetch(`${secure.url}/micro`, { method: 'POST', body: 'b', dispatcher } as RequestInit)).text()).to.equal('POST /micro b');
        const lines = await logLines(micro, /connected to/, 2);
        expect(lines.some((l) => l.includes(`connected to 127.0.0.1:${web.port}`)), lines.join('\n')).to.equal(true);
        expect(lines.some((l) => l.includes(`connected to 127.0.0.1:${secure.port}`)), lines.join('\n')).to.equal(true);
        await dispatcher.close();
      });

      it('a chain: sockskit-proxy then microsocks, each hop with its own credentials', async () => {
        const dispatcher = socksDispatcher([`socks5h://alice:s3cret@127.0.0.1:${port}`, `socks5h://bob:hunter2@127.0.0.1:${microPort}`], { tls: { ca: readCa() } });
        const before = await tunnels(proxy);
        expect(await (await fetch(`${secure.url}/chain`, { dispatcher } as RequestInit)).text()).to.equal('GET /chain');
        expect(await tunnels(proxy), 'first hop').to.equal(before + 1);
        const lines = await logLines(micro, new RegExp(`connected to 127\\.0\\.0\\.1:${secure.port}`), 2);
        expect(lines.length, 'second hop').to.be.at.least(2);
        await dispatcher.close();
      });
    });
  });

  function readCa(): Buffer {
    return readFileSync(ca);
  }
});
