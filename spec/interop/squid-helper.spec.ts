/**
 * Interop: Debian's real Squid helpers behind squidHelper().
 *
 * - basic_ncsa_auth over an htpasswd file made by `htpasswd` (bcrypt and
 *   Apache MD5 entries), one request at a time; passwords with spaces, %
 *   and non-ASCII characters cross the URL escaping intact;
 * - the same helper behind Squid's own `helper-mux`, which speaks the
 *   concurrent (channel-ID) form;
 * - end to end: a SocksServer with userpass({ verify: squidHelper(...) })
 *   and a SOCKS5 client tunnelling to an echo server;
 * - basic_pam_auth: refusals only. A login it accepts needs a PAM service
 *   file in /etc/pam.d and a system account with a known password, and
 *   specs do not change system configuration; with no service file PAM
 *   falls back to its `other` policy, which refuses, and that is what is
 *   checked (the helper runs, reads our escaped lines and answers ERR).
 */
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { squidHelper, type SquidHelper } from '../../methods/squid-helper/index.js';
import { userpass } from '../../methods/userpass.js';
import { SocksServer } from '../../lib/server/server.js';
import { connect } from '../../lib/client/connect.js';
import { requireProgram, tempDir, echoServer } from '../support/interop.js';

const NCSA = '/usr/lib/squid/basic_ncsa_auth';
const MUX = '/usr/lib/squid/helper-mux';
const PAM = '/usr/lib/squid/basic_pam_auth';

describe('interop: Squid auth helpers', function () {
  this.timeout(30000);
  const tmp = tempDir('sockskit-squid-');
  let passwd: string;
  const open: SquidHelper[] = [];
  const pool = (command: string, args: string[], o: Parameters<typeof squidHelper>[0] extends infer T ? Partial<T> : never = {}): SquidHelper => {
    const h = squidHelper({ command, args, children: 2, ttl: 0, negativeTtl: 0, timeout: 10000, ...o });
    open.push(h);
    return h;
  };

  before(function () {
    const htpasswd = requireProgram(this, 'htpasswd');
    requireProgram(this, NCSA);
    passwd = `${tmp.dir}/htpasswd`;
    const run = (args: string[]) => execFileSync(htpasswd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10000 });
    run(['-c', '-b', '-B', '-C', '5', passwd, 'alice', 's3cret']);
    run(['-b', '-m', passwd, 'bob', 'p w%20x']);
    run(['-b', '-B', '-C', '5', passwd, 'carol', 'mot de passe é']);
  });
  afterEach(() => {
    for (const h of open.splice(0)) h.close();
  });
  after(() => tmp.cleanup());

  it('basic_ncsa_auth: bcrypt and MD5 entries, wrong passwords, unknown users, escaped characters', async () => {
    const h = pool(NCSA, [passwd]);
    expect(await h('alice', 's3cret')).to.equal('alice');
    expect(await h('alice', 'S3cret')).to.equal(false);
    expect(await h('bob', 'p w%20x'), 'space and a literal %20').to.equal('bob');
    expect(await h('bob', 'p w x')).to.equal(false);
    expect(await h('carol', 'mot de passe é')).to.equal('carol');
    expect(await h('nobody', 's3cret')).to.equal(false);
    expect(await h('alice s3cret', 'x'), 'a space in the name cannot smuggle a field').to.equal(false);
    expect(h.stats()).to.include({ ok: 3, err: 4, broken: 0 });
  });

  it('basic_ncsa_auth behind helper-mux: the concurrent form, many logins in flight', async function () {
    requireProgram(this, MUX);
    requireProgram(this, 'perl');
    const h = pool(MUX, [NCSA, passwd], { children: 1, concurrency: 8 });
    const asks = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? h('alice', 's3cret') : i % 3 === 1 ? h('bob', 'p w%20x') : h('alice', `wrong${i}`)));
    const got = await Promise.all(asks);
    expect(got).to.deep.equal(Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 'alice' : i % 3 === 1 ? 'bob' : false)));
  });

  it('end to end: a SOCKS5 server with userpass({ verify: squidHelper(basic_ncsa_auth) })', async () => {
    const h = pool(NCSA, [passwd], { ttl: 60000 });
    const server = new SocksServer({ methods: [userpass({ verify: h })] });
    server.on('clientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const echo = await echoServer();
    try {
      const proxy = (password: string) => ({ host: '127.0.0.1', port, version: 5 as const, methods: [userpass({ username: 'alice', password })] });
      const { socket } = await connect({ proxy: proxy('s3cret'), destination: { host: '127.0.0.1', port: echo.port } });
      socket.write('ping');
      const back = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
      socket.destroy();
      expect(back).to.equal('ping');
      const err = await connect({ proxy: proxy('nope'), destination: { host: '127.0.0.1', port: echo.port } }).then(() => undefined, (e: Error) => e);
      expect(err?.message).to.match(/rejected the username\/password/);
      expect(server.stats().auth!.userpass).to.include({ successes: 1, failures: 1 });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await echo.close();
    }
  });

  it('basic_pam_auth: runs and refuses (no PAM service is configured for it, and none is added)', async function () {
    requireProgram(this, PAM);
    const h = pool(PAM, ['-n', 'sockskit-spec-unconfigured'], { children: 1 });
    expect(await h('root', 'certainly-not-the-password')).to.equal(false);
    expect(await h('no-such-user-here', 'x y%')).to.equal(false);
    expect(h.stats()).to.include({ err: 2, broken: 0 });
  });
});
