/**
 * GSS-API Kerberos against Dante built WITH GSS-API (.ci/build-dante-gssapi),
 * a real MIT KDC on loopback, bodies of 300 KB compared byte for byte:
 *
 *  - Dante's socksify (libdsocks) → sockskit-proxy at levels 1 and 2;
 *    socksify sends 127.0.0.0/8 direct, so the program dials a name that
 *    Dante fakes (resolveprotocol: fake) and the proxy resolves (localhost;
 *    or, for SocksServer, a name only its lookup maps to 127.0.0.1); the KDC
 *    port has a `via: direct` route;
 *  - sockskit's client → Dante's sockd (socksmethod: gssapi) at levels 1 and 2;
 *  - Dante refuses level 3; a stale keytab on sockd's side: our client gets
 *    a clean error;
 *  - tshark: at level 2 the payload is never on the wire.
 */
import { expect } from 'chai';
import { chmodSync } from 'node:fs';
import net from 'node:net';

import { SocksServer } from '../../lib/server/server.js';
import { connect } from '../../lib/client/connect.js';
import { SocksError } from '../../lib/protocol/errors.js';
import { GssEncapsulation } from '../../methods/gssapi/index.js';
import { gssapiKerberos } from '../../methods/gssapi/kerberos/index.js';
import { echoServer, freePort, listeningPort, requireProgram, runProgram, spawnDaemon, stopAll } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';
import { capture } from '../support/capture.js';
import { danteGssapi, danteGssapiConfig, socksifyGssapiConfig } from '../support/dante.js';
import { skipUnless, writeIn } from '../support/kdc.js';
import { PYTHON } from '../support/python.js';
import { BODY, kerberosFixture, type KerberosFixture } from '../support/kerberos.js';
import { readN } from '../support/helpers.js';

/** Connects to NAME:PORT (Dante fakes the name), sends stdin, half-closes, prints what comes back. */
const SEND_AND_ECHO = `
import socket, sys
body = sys.stdin.buffer.read()
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(body)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
sys.stdout.buffer.write(got)
`;

const TARGET = 'echo.sockskit.test';

describe('GSS-API Kerberos ⇄ Dante (built with GSS-API, real KDC)', function () {
  this.timeout(60000);
  let fx: KerberosFixture;
  let dante: Exclude<ReturnType<typeof danteGssapi>, { missing: string }>;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let script: string;

  before(async function () {
    const d = danteGssapi();
    skipUnless(this, d.missing);
    dante = d as typeof dante;
    requireProgram(this, PYTHON);
    fx = await kerberosFixture(this);
    // sockd reads the keytab and krb5.conf as nobody.
    chmodSync(fx.kdc.dir, 0o755);
    echo = await echoServer();
    script = writeIn(fx.kdc, 'send_and_echo.py', SEND_AND_ECHO);
  });
  after(async () => {
    await stopAll();
    await echo?.close();
    await fx?.kdc.stop();
  });

  /** The environment of a Dante process: our realm, alice's cache, no replay cache file. */
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, ...fx.kdc.env, KRB5CCNAME: fx.ccache, KRB5RCACHETYPE: 'none', ...extra });

  async function ourServer(): Promise<{ port: number; requests: string[]; identities: unknown[]; close(): Promise<void> }> {
    const requests: string[] = [];
    const identities: unknown[] = [];
    const server = new SocksServer({
      handshakeTimeout: 10000,
      methods: [gssapiKerberos({ keytab: fx.keytab, replayCache: 'none:', protection: ['confidentiality', 'integrity'] })],
      // Only the faked name resolves, and only to loopback.
      lookup: ((host: string, _opts: unknown, cb: (err: Error | null, addrs: { address: string; family: number }[]) => void) => {
        if (host === TARGET) cb(null, [{ address: '127.0.0.1', family: 4 }]);
        else cb(Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
      }) as never,
      onRequest: (ctx) => {
        requests.push(`${ctx.request.destination.host}:${ctx.request.destination.port}`);
        identities.push(ctx.request.identity);
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    return { port, requests, identities, close: () => new Promise<void>((r) => { server.close(() => r()); setTimeout(r, 1000).unref(); }) };
  }

  for (const [enctype, level] of [['integrity', 1], ['confidentiality', 2]] as const) {
    it(`socksify → sockskit-proxy at level ${level} (${enctype}): 300 KB echoed byte for byte, identity alice`, async () => {
      // The program grants exactly this level: Dante's client would keep its own silently.
      const d = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--gssapi-keytab', fx.keytab, '--gssapi-protection', enctype], { env: env({ DEBUG: '' }) });
      const port = await listeningPort(d);
      const conf = writeIn(fx.kdc, `socks-${level}.conf`, socksifyGssapiConfig(port, fx.kdc.port, enctype));
      // "localhost" is faked by Dante and sent to the proxy as a name, which resolves it.
      const r = await runProgram(dante.socksify, [PYTHON, script, 'localhost', String(echo.port)], {
        input: BODY,
        timeout: 30000,
        env: env({ SOCKS_CONF: conf, SOCKS_AUTOADD_LANROUTES: 'no', SOCKS_LIBDIR: dante.lib }),
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdoutBytes.length).to.equal(BODY.length);
      expect(r.stdoutBytes.equals(BODY)).to.equal(true);
      await waitLog(d.output, new RegExp(`alice@SOCKSKIT\\.TEST.*localhost:${echo.port}|localhost:${echo.port}.*alice@SOCKSKIT\\.TEST`));
      await d.stop();
    });
  }

  it('socksify → SocksServer with a name only our lookup knows (resolveprotocol: fake)', async () => {
    const srv = await ourServer();
    try {
      const conf = writeIn(fx.kdc, 'socks-fake.conf', socksifyGssapiConfig(srv.port, fx.kdc.port, 'confidentiality'));
      const r = await runProgram(dante.socksify, [PYTHON, script, TARGET, String(echo.port)], {
        input: BODY,
        timeout: 30000,
        env: env({ SOCKS_CONF: conf, SOCKS_AUTOADD_LANROUTES: 'no', SOCKS_LIBDIR: dante.lib }),
      });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdoutBytes.equals(BODY)).to.equal(true);
      expect(srv.requests).to.deep.equal([`${TARGET}:${echo.port}`]);
      expect(srv.identities).to.deep.equal([fx.principal('alice')]);
    } finally {
      await srv.close();
    }
  });

  async function startSockd(enctype: string, keytab = fx.keytab, service = 'rcmd'): Promise<{ port: number; output(): string }> {
    const port = await freePort();
    const conf = writeIn(fx.kdc, `sockd-${port}.conf`, danteGssapiConfig(port, keytab, enctype, service));
    const d = await spawnDaemon(dante.sockd, ['-f', conf, '-N', '1'], { readyPort: port, env: env() });
    return { port, output: d.output };
  }

  for (const [protection, level] of [['integrity', 1], ['confidentiality', 2]] as const) {
    it(`sockskit → sockd at level ${level} (${protection}): 300 KB echoed byte for byte`, async () => {
      const sockd = await startSockd('integrity confidentiality');
      const res = await connect({ proxy: { host: '127.0.0.1', port: sockd.port }, destination: { host: '127.0.0.1', port: echo.port }, methods: [gssapiKerberos({ ccache: fx.ccache, protection })], handshakeTimeout: 15000 });
      try {
        expect((res.encapsulation as GssEncapsulation).level).to.equal(level);
        res.socket.write(BODY);
        const echoed = await readN(res.socket, BODY.length, res.head);
        expect(echoed.equals(BODY)).to.equal(true);
      } finally {
        res.socket.destroy();
      }
      await waitLog(sockd.output, /alice@SOCKSKIT\.TEST/);
    });
  }

  it('sockd refuses level 3 (selective): our client fails cleanly, nothing relayed', async () => {
    const sockd = await startSockd('integrity confidentiality');
    const before = echo.connections;
    const err = await connect({ proxy: { host: '127.0.0.1', port: sockd.port }, destination: { host: '127.0.0.1', port: echo.port }, methods: [gssapiKerberos({ ccache: fx.ccache, protection: 'selective' })], handshakeTimeout: 15000 }).then((r) => { r.socket.destroy(); return undefined; }, (e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect(echo.connections).to.equal(before);
  });

  // sockd closes without 01 FF when it cannot accept the context.
  it('a stale keytab on sockd: sockd closes, our client gets a clean protocol error, nothing relayed', async () => {
    // A service of its own, so re-keying it leaves rcmd's keytab valid.
    await fx.kdc.addPrincipal('stale/127.0.0.1');
    const stale = await fx.kdc.keytab('dante-stale.keytab', ['stale/127.0.0.1']);
    await fx.kdc.keytab('dante-rekeyed.keytab', ['stale/127.0.0.1']);
    const sockd = await startSockd('integrity confidentiality', stale, 'stale');
    const before = echo.connections;
    const err = await connect({ proxy: { host: '127.0.0.1', port: sockd.port }, destination: { host: '127.0.0.1', port: echo.port }, methods: [gssapiKerberos({ service: 'stale', ccache: fx.ccache })], handshakeTimeout: 15000 }).then((r) => { r.socket.destroy(); return undefined; }, (e: Error) => e);
    expect(err).to.be.instanceOf(SocksError);
    expect(err!.message, err!.message).to.match(/closed/);
    expect(echo.connections).to.equal(before);
  });

  it('tshark: at level 2 through sockd the payload is never on the wire (and the Kerberos exchange is)', async function () {
    const tshark = requireProgram(this, 'tshark');
    const sockd = await startSockd('confidentiality');
    const payload = Buffer.from('sockskit-KERBEROS-payload-0c9d8e7f6a5b4c3d-never-in-clear');
    const pcap = await capture(tshark, sockd.port, async () => {
      const res = await connect({ proxy: { host: '127.0.0.1', port: sockd.port }, destination: { host: '127.0.0.1', port: echo.port }, methods: [gssapiKerberos({ ccache: fx.ccache })], handshakeTimeout: 15000 });
      try {
        res.socket.write(payload);
        expect(await readN(res.socket, payload.length, res.head)).to.deep.equal(payload);
      } finally {
        res.socket.destroy();
      }
    });
    expect(pcap.includes(Buffer.from('SOCKSKIT.TEST')), 'the AP-REQ (realm in clear) was captured').to.equal(true);
    expect(pcap.includes(payload), 'payload in clear').to.equal(false);
    expect(pcap.includes(payload.subarray(8, 28)), 'part of the payload in clear').to.equal(false);
  });
});

async function waitLog(output: () => string, re: RegExp, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(output()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(output()).to.match(re);
}

