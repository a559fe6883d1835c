/**
 * Proxy URLs and the proxy environment as curl reads them. A table of
 * NO_PROXY decisions and variable precedence, each row also run through
 * curl itself (ALL_PROXY/NO_PROXY set, a local proxy counting tunnels and a
 * local origin) so that the expected column is curl's behaviour, not ours;
 * socks:// is SOCKS4 (checked on the wire); sockskit-connect follows the
 * same rules end to end.
 */
import net from 'node:net';
import http from 'node:http';
import { execFile, spawn } from 'node:child_process';
import { expect } from 'chai';
import { noProxyMatches, proxyForUrl, proxyForHost } from '../../lib/client/proxy-env.js';
import { parseProxy } from '../../lib/client/connect.js';
import { LocalProtocolError } from '../../lib/protocol/errors.js';
import { which } from '../support/interop.js';
import { startServer } from '../support/udp-bind.js';
import { PROGRAM } from '../support/paths.js';
import { echo, startTarget, type Target } from '../support/server.js';

/** [NO_PROXY, host, direct?] — the third column is what curl does. */
const NO_PROXY_TABLE: [string, string, boolean][] = [
  ['localhost', 'localhost', true],
  ['LOCALHOST', 'localhost', true],
  ['.localhost', 'localhost', true],
  ['localhost.', 'localhost', true],
  ['ocalhost', 'localhost', false],
  ['host', 'localhost', false],
  ['*', 'localhost', true],
  ['*', '127.0.0.1', true],
  [' *', 'localhost', false],
  ['', 'localhost', false],
  ['other.test, localhost', 'localhost', true],
  ['other.test,,localhost', 'localhost', true],
  ['other.test localhost', 'localhost', true],
  ['other.test ,  localhost', 'localhost', true],
  ['localhost:1234', 'localhost', false],
  ['127.0.0.1', '127.0.0.1', true],
  ['127.0.0.1', 'localhost', false],
  ['localhost', '127.0.0.1', false],
  ['127.0.0.0/8', '127.0.0.1', true],
  ['127.0.0.2/32', '127.0.0.1', false],
  ['10.0.0.0/8,127.0.0.0/24', '127.0.0.1', true],
  ['127.0.0.1:80', '127.0.0.1', false],
  ['::1', '[::1]', true],
  ['::/0', '[::1]', false],
];

/**
 * Only in the pure table: names (never resolved, never given to curl), and
 * IPv6 CIDR blocks, where we follow CIDR and curl does not: curl 7.88
 * compares an IPv6 host as a name (only the exact address matches), and
 * later versions get prefixes that are not a multiple of 8 backwards.
 */
const NAME_TABLE: [string, string, boolean][] = [
  ['::/120', '[::1]', true],
  ['::2/120', '[::1]', true],
  ['::1:0/120', '[::1]', false],
  ['::0/127', '[::1]', true],
  ['::2/127', '[::1]', false],
  ['example.test', 'www.example.test', true],
  ['.example.test', 'www.example.test', true],
  ['example.test', 'notexample.test', false],
  ['example.test', 'example.test.org', false],
  ['www.example.test', 'example.test', false],
];

function curl(url: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', url], { env: { PATH: process.env.PATH, ...env }, timeout: 8000 }, (_e, stdout) => resolve(String(stdout)));
  });
}

describe('client: proxy URLs and environment as curl reads them', function () {
  this.timeout(30000);

  it('NO_PROXY: names, .domains, *, IP and CIDR, ports (the table)', () => {
    for (const [list, host, direct] of [...NO_PROXY_TABLE, ...NAME_TABLE]) {
      expect(noProxyMatches(host, list), `NO_PROXY=${JSON.stringify(list)} host ${host}`).to.equal(direct);
    }
  });

  it('which variable: <scheme>_proxy, <SCHEME>_PROXY (never HTTP_PROXY), all_proxy, ALL_PROXY; NO_PROXY first', () => {
    const A = 'socks5h://127.0.0.1:1';
    const B = 'socks5://127.0.0.1:2';
    expect(proxyForUrl('http://h.test/', { ALL_PROXY: A })).to.equal(A);
    expect(proxyForUrl('http://h.test/', { all_proxy: B, ALL_PROXY: A })).to.equal(B);
    expect(proxyForUrl('http://h.test/', { http_proxy: B, ALL_PROXY: A })).to.equal(B);
    expect(proxyForUrl('http://h.test/', { HTTP_PROXY: B, ALL_PROXY: A })).to.equal(A);
    expect(proxyForUrl('https://h.test/', { HTTPS_PROXY: B, ALL_PROXY: A })).to.equal(B);
    expect(proxyForUrl('https://h.test/', { https_proxy: '', ALL_PROXY: A }), 'empty is unset').to.equal(A);
    expect(proxyForUrl('http://h.test/', { ALL_PROXY: A, NO_PROXY: 'h.test' })).to.equal(undefined);
    expect(proxyForUrl('http://h.test/', { ALL_PROXY: A, no_proxy: 'x.test', NO_PROXY: 'h.test' }), 'no_proxy wins over NO_PROXY').to.equal(A);
    expect(proxyForUrl('http://h.test/', {})).to.equal(undefined);
    expect(proxyForHost('h.test', { all_proxy: B })).to.equal(B);
    expect(() => proxyForUrl('http://h.test/', { ALL_PROXY: 'http://127.0.0.1:3128' })).to.throw(LocalProtocolError, /ALL_PROXY is not a SOCKS proxy URL/);
  });

  it('socks:// is SOCKS4 with local name resolution, as in curl', () => {
    expect(parseProxy('socks://127.0.0.1:1')).to.deep.include({ version: 4, remoteDns: false, port: 1 });
    expect(parseProxy('SOCKS://127.0.0.1')).to.deep.include({ version: 4, port: 1080 });
  });

  describe('against curl itself', () => {
    let proxy: Awaited<ReturnType<typeof startServer>>;
    let origin: http.Server;
    let origin6: http.Server | undefined;
    let port = 0;
    before(async function () {
      if (!which('curl')) this.skip();
      proxy = await startServer();
      origin = http.createServer((_q, s) => s.end('ok'));
      await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
      port = (origin.address() as net.AddressInfo).port;
      origin6 = http.createServer((_q, s) => s.end('ok'));
      await new Promise<void>((r) => {
        origin6!.once('error', () => { origin6 = undefined; r(); });
        origin6!.listen(port, '::1', r);
      });
    });
    after(async () => {
      await proxy?.close();
      origin?.close();
      origin6?.close();
    });

    it('curl takes the same decision as noProxyMatches for every loopback row', async () => {
      const mismatches: string[] = [];
      for (const [list, host, direct] of NO_PROXY_TABLE) {
        if (host === '[::1]' && !origin6) continue;
        const before = proxy.server.stats().tunnels;
        const code = await curl(`http://${host}:${port}/`, { ALL_PROXY: `socks5h://127.0.0.1:${proxy.port}`, NO_PROXY: list });
        const viaProxy = proxy.server.stats().tunnels > before;
        if (code !== '200') mismatches.push(`${list} ${host}: curl answered ${code}`);
        if (viaProxy === direct) mismatches.push(`NO_PROXY=${JSON.stringify(list)} ${host}: curl went ${viaProxy ? 'through the proxy' : 'direct'}`);
        if (noProxyMatches(host, list) !== !viaProxy) mismatches.push(`NO_PROXY=${JSON.stringify(list)} ${host}: ours differs from curl`);
      }
      expect(mismatches).to.deep.equal([]);
    });

    it('curl ignores HTTP_PROXY and reads http_proxy, as proxyForUrl does', async () => {
      const P = `socks5h://127.0.0.1:${proxy.port}`;
      for (const env of [{ HTTP_PROXY: P }, { http_proxy: P }, { http_proxy: P, NO_PROXY: '127.0.0.1' }] as NodeJS.ProcessEnv[]) {
        const before = proxy.server.stats().tunnels;
        expect(await curl(`http://127.0.0.1:${port}/`, env)).to.equal('200');
        const viaProxy = proxy.server.stats().tunnels > before;
        expect(viaProxy, JSON.stringify(env)).to.equal(proxyForUrl(`http://127.0.0.1:${port}/`, env) !== undefined);
      }
    });

    it('curl sends SOCKS4 for socks:// (first byte on the wire)', async () => {
      const first = await new Promise<number>((resolve) => {
        const s = net.createServer((c) => c.once('data', (d: Buffer) => { resolve(d[0]!); c.destroy(); s.close(); }));
        s.listen(0, '127.0.0.1', () => void curl(`http://127.0.0.1:${port}/`, { ALL_PROXY: `socks://127.0.0.1:${(s.address() as net.AddressInfo).port}` }));
      });
      expect(first).to.equal(4);
    });
  });

  describe('sockskit-connect with ALL_PROXY and NO_PROXY', () => {
    let proxy: Awaited<ReturnType<typeof startServer>>;
    let target: Target;
    before(async () => {
      proxy = await startServer();
      target = await startTarget(echo);
    });
    after(async () => {
      await proxy?.close();
      await target?.close();
    });

    function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [PROGRAM.connect, ...args], { env: { PATH: process.env.PATH, ...env } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b) => { stdout += b; });
        child.stderr.on('data', (b) => { stderr += b; });
        const t = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
        child.stdin.end('hello');
      });
    }

    const rows: [string, NodeJS.ProcessEnv, string[], boolean][] = [
      ['ALL_PROXY, NO_PROXY=localhost: direct', { NO_PROXY: 'localhost' }, ['localhost'], false],
      ['ALL_PROXY, NO_PROXY=other.test: proxied', { NO_PROXY: 'other.test' }, ['localhost'], true],
      ['all_proxy, no_proxy=127.0.0.0/8: direct', { no_proxy: '127.0.0.0/8' }, ['127.0.0.1'], false],
      ['ALL_PROXY, NO_PROXY=*: direct', { NO_PROXY: '*' }, ['127.0.0.1'], false],
      ['--noproxy "" overrides NO_PROXY: proxied', { NO_PROXY: '*' }, ['--noproxy', '', '127.0.0.1'], true],
      ['NO_PROXY applies to --proxy too (as in curl): direct', { NO_PROXY: '127.0.0.1' }, ['--proxy', 'PROXY', '127.0.0.1'], false],
    ];
    for (const [name, extra, args, proxied] of rows) {
      it(name, async () => {
        const url = `socks5h://127.0.0.1:${proxy.port}`;
        const env = { ...(Object.keys(extra).some((k) => k === k.toLowerCase()) ? { all_proxy: url } : { ALL_PROXY: url }), ...extra };
        const before = proxy.server.stats().tunnels;
        const r = await run([...args.map((a) => (a === 'PROXY' ? url : a)), String(target.port)], env);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.equal('hello');
        expect(proxy.server.stats().tunnels - before, 'tunnels at the proxy').to.equal(proxied ? 1 : 0);
      });
    }

    it('an ALL_PROXY that is not SOCKS is a usage error (exit 2), not a direct connection', async () => {
      const r = await run(['127.0.0.1', String(target.port)], { ALL_PROXY: 'http://127.0.0.1:3128' });
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/ALL_PROXY is not a SOCKS proxy URL/);
    });
  });
});
