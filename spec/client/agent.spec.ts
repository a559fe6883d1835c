/**
 * One SocksAgent for http.get and https.get (TLS over the tunnel, the test
 * CA of spec/fixtures/tls), keep-alive reuse counted at the proxy, the
 * default port of each scheme. The default trust store with
 * NODE_EXTRA_CA_CERTS needs a child process (Node reads it at start):
 * spec/interop/agent-extra-ca.spec.ts.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { SocksAgent } from '../../lib/client/agent.js';
import { fixtureCerts } from '../support/certs.js';
import { httpOrigin, httpsOrigin, type Origin } from '../support/web.js';
import { startServer } from '../support/udp-bind.js';

/** GET (or `get`'s options) with bounded time; resolves with status and body. */
function get(mod: typeof http | typeof https, url: string | http.RequestOptions, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (typeof url === 'string' ? mod.get(url, { agent }) : mod.get({ ...url, agent }));
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('client: SocksAgent for http and https', function () {
  this.timeout(15000);
  let ca: Buffer;
  let web: Origin;
  let secure: Origin;
  let proxy: Awaited<ReturnType<typeof startServer>>;
  const tunnels = () => proxy.server.stats().tunnels;

  before(async () => {
    const certs = fixtureCerts();
    ca = readFileSync(certs.ca);
    web = await httpOrigin();
    secure = await httpsOrigin(certs.leaf);
    proxy = await startServer();
  });
  after(async () => {
    await web?.close();
    await secure?.close();
    await proxy?.close();
  });

  it('one agent serves http.get and https.get (URL strings and option objects)', async () => {
    const agent = new SocksAgent({ proxy: `socks5h://127.0.0.1:${proxy.port}`, tls: { ca } });
    try {
      const before = tunnels();
      expect(await get(http, `${web.url}/one`, agent)).to.deep.equal({ status: 200, body: 'GET /one' });
      expect(await get(https, `${secure.url}/two`, agent)).to.deep.equal({ status: 200, body: 'GET /two' });
      expect(await get(https, { host: 'localhost', port: secure.port, path: '/named' }, agent)).to.deep.equal({ status: 200, body: 'GET /named' });
      expect(await get(http, { host: '127.0.0.1', port: web.port, path: '/obj' }, agent)).to.deep.equal({ status: 200, body: 'GET /obj' });
      expect(tunnels() - before, 'each went through the proxy').to.equal(4);
    } finally {
      agent.destroy();
    }
  });

  it('keep-alive: sequential requests reuse one tunnel per scheme (counted at the proxy and the origin)', async () => {
    const agent = new SocksAgent({ proxy: `socks5h://127.0.0.1:${proxy.port}`, tls: { ca }, agent: { keepAlive: true, maxSockets: 1 } });
    try {
      const t0 = tunnels();
      const w0 = web.connections;
      const s0 = secure.connections;
      for (const p of ['/a', '/b', '/c']) expect((await get(http, `${web.url}${p}`, agent)).body).to.equal(`GET ${p}`);
      for (const p of ['/d', '/e']) expect((await get(https, `${secure.url}${p}`, agent)).body).to.equal(`GET ${p}`);
      expect(tunnels() - t0, 'one tunnel for http, one for https').to.equal(2);
      expect(web.connections - w0).to.equal(1);
      expect(secure.connections - s0).to.equal(1);
    } finally {
      agent.destroy();
    }
  });

  it('the default port is 80 for http and 443 for https (asked of the proxy)', async () => {
    const asked: number[] = [];
    const probe = await startServer({ onRequest: (ctx) => { asked.push(ctx.request.destination.port); ctx.deny(); } });
    const agent = new SocksAgent({ proxy: `socks5h://127.0.0.1:${probe.port}` });
    try {
      await get(http, 'http://origin.test/', agent).catch(() => undefined);
      await get(https, 'https://origin.test/', agent).catch(() => undefined);
      expect(asked).to.deep.equal([80, 443]);
    } finally {
      agent.destroy();
      await probe.close();
    }
  });

  it('TLS options: an untrusted certificate fails; rejectUnauthorized: false and a servername override work', async () => {
    const bare = new SocksAgent({ proxy: `socks5h://127.0.0.1:${proxy.port}` });
    const err = await get(https, `${secure.url}/`, bare).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(err?.code).to.match(/UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    bare.destroy();
    const lax = new SocksAgent({ proxy: `socks5h://127.0.0.1:${proxy.port}`, tls: { rejectUnauthorized: false } });
    expect((await get(https, `${secure.url}/lax`, lax)).body).to.equal('GET /lax');
    lax.destroy();
    // The leaf names localhost and 127.0.0.1, not other.invalid: a servername override is checked.
    const wrongName = new SocksAgent({ proxy: `socks5h://127.0.0.1:${proxy.port}`, tls: { ca, servername: 'other.invalid' } });
    const e2 = await get(https, `${secure.url}/`, wrongName).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(e2?.code).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    wrongName.destroy();
  });

});
