/**
 * Interop: real Python SOCKS clients that nobody here wrote, from Debian
 * packages, run with /usr/bin/python3 against the spawned sockskit-proxy
 * (`node dist/examples/proxy.js`, on 127.0.0.1 and [::1]), to node echo
 * targets on loopback:
 *
 *   - python3-python-socks (python_socks 2.0.x): the sync Proxy and the
 *     asyncio Proxy, SOCKS4, SOCKS4a (rdns), SOCKS5 with and without auth,
 *     SOCKS5 with remote DNS (`localhost` only); errors as ProxyError;
 *   - python3-socksio (sans-I/O): its SOCKS5/SOCKS4/SOCKS4a state machines
 *     driven over a plain blocking socket, IPv4, IPv6 (::1) and `localhost`.
 *
 * Each script prints one result line (ECHO ..., PROXYERROR ..., REPLY ...)
 * that the tests assert on. A missing python or module skips the suite
 * visibly, or fails when SOCKSKIT_INTEROP_REQUIRED=1.
 */
import { expect } from 'chai';
import { stopAll, tempDir } from '../support/interop.js';
import {
  requirePythonModule, runPython, killPython, resultLine, startProxy, probeIPv6,
  dualStackEcho, closedPort, DualStack, PyResult,
} from '../support/python.js';

const LOCAL = '127.0.0.1';

/**
 * python_socks client. argv: api (sync|asyncio|bulk), proxy URL, dest host,
 * dest port, rdns (0|1), payload (for bulk: a byte count, sent then half-closed). Prints `ECHO <payload back>` (exit 0),
 * `PROXYERROR <error_code> <message>` (exit 3) or `ERROR <type> <message>` (exit 4).
 */
const PY_PYTHON_SOCKS = String.raw`
import asyncio, socket, sys
from python_socks import ProxyError
api, url, host, port, rdns, payload = sys.argv[1:7]
port = int(port)
payload = payload.encode()

def sync_main():
    from python_socks.sync import Proxy
    proxy = Proxy.from_url(url, rdns=(rdns == '1'))
    s = proxy.connect(host, port, timeout=10)
    try:
        s.settimeout(10)
        s.sendall(payload)
        got = b''
        while len(got) < len(payload):
            d = s.recv(4096)
            if not d:
                break
            got += d
        return got
    finally:
        s.close()

async def asyncio_main():
    from python_socks.async_.asyncio import Proxy
    proxy = Proxy.from_url(url, rdns=(rdns == '1'))
    sock = await proxy.connect(host, port, timeout=10)
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 10)
    finally:
        writer.close()

def bulk_main():
    # payload is a size: send that many random bytes, half-close, read to EOF.
    import hashlib, os
    from python_socks.sync import Proxy
    data = os.urandom(int(payload))
    s = Proxy.from_url(url, rdns=(rdns == '1')).connect(host, port, timeout=10)
    try:
        s.settimeout(10)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    finally:
        s.close()
    same = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    return f'{len(got)} bytes, {"identical" if same else "DIFFERENT"}, then EOF'.encode()

try:
    if api == 'sync':
        got = sync_main()
    elif api == 'bulk':
        got = bulk_main()
    else:
        got = asyncio.run(asyncio.wait_for(asyncio_main(), 15))
except ProxyError as e:
    print('PROXYERROR', e.error_code, e)
    sys.exit(3)
except Exception as e:
    print('ERROR', type(e).__name__, e)
    sys.exit(4)
print('ECHO', got.decode())
`;

/**
 * socksio client over a plain socket. argv: mode (s5|s4|s4a), proxy host,
 * proxy port, dest host, dest port, user ('' = none), password, payload.
 * Prints `REPLY <code> <atype> <addr>` after the handshake, then
 * `ECHO <payload back>`; `AUTHFAIL`/`NOMETHOD <m>`/a non-success REPLY exit 3.
 */
const PY_SOCKSIO = String.raw`
import socket, sys
from socksio import (SOCKS5Connection, SOCKS5AuthMethodsRequest, SOCKS5AuthMethod, SOCKS5Command,
                     SOCKS5CommandRequest, SOCKS5UsernamePasswordRequest, SOCKS5ReplyCode, SOCKS5AType,
                     SOCKS4Connection, SOCKS4Request, SOCKS4ARequest, SOCKS4Command, SOCKS4ReplyCode)
from socksio.socks5 import SOCKS5State
mode, phost, pport, dhost, dport, user, password, payload = sys.argv[1:9]
dport = int(dport)
payload = payload.encode()
s = socket.socket(socket.AF_INET6 if ':' in phost else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(10)
s.connect((phost, int(pport)))

def recv_exact(n):
    got = b''
    while len(got) < n:
        d = s.recv(n - len(got))
        if not d:
            print('EOF after', got.hex())
            sys.exit(5)
        got += d
    return got

if mode == 's5':
    conn = SOCKS5Connection()
    methods = [SOCKS5AuthMethod.USERNAME_PASSWORD] if user else [SOCKS5AuthMethod.NO_AUTH_REQUIRED]
    conn.send(SOCKS5AuthMethodsRequest(methods))
    s.sendall(conn.data_to_send())
    auth = conn.receive_data(recv_exact(2))
    if auth.method == SOCKS5AuthMethod.USERNAME_PASSWORD:
        conn.send(SOCKS5UsernamePasswordRequest(user.encode(), password.encode()))
        s.sendall(conn.data_to_send())
        if not conn.receive_data(recv_exact(2)).success:
            print('AUTHFAIL', conn.state.name)
            sys.exit(3)
    elif auth.method != SOCKS5AuthMethod.NO_AUTH_REQUIRED:
        print('NOMETHOD', auth.method.name)
        sys.exit(3)
    conn.send(SOCKS5CommandRequest.from_address(SOCKS5Command.CONNECT, (dhost, dport)))
    s.sendall(conn.data_to_send())
    head = recv_exact(4)
    if head[3] == 1:
        rest = recv_exact(6)
    elif head[3] == 4:
        rest = recv_exact(18)
    else:
        n = recv_exact(1)
        rest = n + recv_exact(n[0] + 2)
    reply = conn.receive_data(head + rest)
    print('REPLY', reply.reply_code.name, reply.atype.name, reply.addr, conn.state.name)
    if reply.reply_code != SOCKS5ReplyCode.SUCCEEDED:
        sys.exit(3)
else:
    conn = SOCKS4Connection(user_id=b'sockskit')
    req = SOCKS4Request if mode == 's4' else SOCKS4ARequest
    conn.send(req.from_address(SOCKS4Command.CONNECT, (dhost, dport)))
    s.sendall(conn.data_to_send())
    reply = conn.receive_data(recv_exact(8))
    print('REPLY', reply.reply_code.name, 'IPV4', reply.addr)
    if reply.reply_code != SOCKS4ReplyCode.REQUEST_GRANTED:
        sys.exit(3)

s.sendall(payload)
got = b''
while len(got) < len(payload):
    d = s.recv(4096)
    if not d:
        break
    got += d
s.close()
print('ECHO', got.decode())
`;

function explain(r: PyResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

describe('interop: python3-python-socks (python_socks) with sockskit-proxy', function () {
  this.timeout(60000);
  let echo: DualStack;
  let open: number;
  let authed: number;
  let refused: number;
  let tmp: ReturnType<typeof tempDir> | undefined;
  let script: string;

  before(async function () {
    requirePythonModule(this, 'python_socks', 'python_socks.sync', 'python_socks.async_.asyncio');
    await probeIPv6();
    tmp = tempDir('sockskit-py-');
    script = tmp.write('python_socks_client.py', PY_PYTHON_SOCKS);
    echo = await dualStackEcho();
    refused = await closedPort();
    open = (await startProxy([], false)).port;
    authed = (await startProxy(['--user', 'alice:s3cret'], false)).port;
  });
  after(async () => {
    killPython();
    await stopAll();
    await echo?.close();
    tmp?.cleanup();
  });

  const py = (api: string, url: string, host: string, port: number, rdns: boolean, payload: string) =>
    runPython(script, [api, url, host, String(port), rdns ? '1' : '0', payload]);

  for (const api of ['sync', 'asyncio']) {
    describe(`${api} Proxy`, () => {
      const ok: [string, () => string, string, boolean][] = [
        ['socks5://, no auth, IPv4 destination', () => `socks5://${LOCAL}:${open}`, LOCAL, false],
        ['socks5:// rdns=True (socks5h): `localhost` resolved by the proxy', () => `socks5://${LOCAL}:${open}`, 'localhost', true],
        ['socks4://, IPv4 destination', () => `socks4://${LOCAL}:${open}`, LOCAL, false],
        ['socks4:// rdns=True (SOCKS4a): `localhost` resolved by the proxy', () => `socks4://${LOCAL}:${open}`, 'localhost', true],
        ['socks5://alice:s3cret@ (RFC 1929), IPv4 destination', () => `socks5://alice:s3cret@${LOCAL}:${authed}`, LOCAL, false],
        ['socks5://alice:s3cret@ rdns=True, `localhost`', () => `socks5://alice:s3cret@${LOCAL}:${authed}`, 'localhost', true],
      ];
      for (const [name, url, host, rdns] of ok) {
        it(name, async () => {
          const payload = `${api} ${name.split(' ')[0]} ${host} round trip`;
          const before = echo.connections;
          const r = await py(api, url(), host, echo.port, rdns, payload);
          expect(r.code, explain(r)).to.equal(0);
          expect(resultLine(r, 'ECHO')).to.equal(`ECHO ${payload}`);
          expect(echo.connections).to.equal(before + 1);
        });
      }

      it('a wrong password raises ProxyError("Username and password authentication failure")', async () => {
        const before = echo.connections;
        const r = await py(api, `socks5://alice:wrong@${LOCAL}:${authed}`, LOCAL, echo.port, false, 'never');
        expect(r.code, explain(r)).to.equal(3);
        expect(resultLine(r, 'PROXYERROR')).to.equal('PROXYERROR None Username and password authentication failure');
        expect(echo.connections).to.equal(before);
      });

      it('no credentials against a proxy that requires them: ProxyError (05 FF)', async () => {
        const r = await py(api, `socks5://${LOCAL}:${authed}`, LOCAL, echo.port, false, 'never');
        expect(r.code, explain(r)).to.equal(3);
        expect(resultLine(r, 'PROXYERROR')).to.equal('PROXYERROR None No acceptable authentication methods were offered');
      });

      it('SOCKS4 against a proxy with users: ProxyError 91 (SOCKS4 carries no password)', async () => {
        const r = await py(api, `socks4://${LOCAL}:${authed}`, LOCAL, echo.port, false, 'never');
        expect(r.code, explain(r)).to.equal(3);
        expect(resultLine(r, 'PROXYERROR')).to.equal('PROXYERROR 91 Request rejected or failed');
      });

      it('a refused destination: SOCKS5 REP 05 → ProxyError 5', async () => {
        const r = await py(api, `socks5://${LOCAL}:${open}`, LOCAL, refused, false, 'never');
        expect(r.code, explain(r)).to.equal(3);
        expect(resultLine(r, 'PROXYERROR')).to.equal('PROXYERROR 5 Connection refused by destination host');
      });

      it('a refused destination over SOCKS4: ProxyError 91', async () => {
        const r = await py(api, `socks4://${LOCAL}:${open}`, LOCAL, refused, false, 'never');
        expect(r.code, explain(r)).to.equal(3);
        expect(resultLine(r, 'PROXYERROR')).to.equal('PROXYERROR 91 Request rejected or failed');
      });
    });
  }

  for (const [scheme, host, rdns] of [['socks5', 'localhost', true], ['socks4', LOCAL, false]] as const) {
    it(`sync ${scheme}://: 3 MB both ways, then shutdown(SHUT_WR) → EOF back through the tunnel`, async () => {
      const r = await py('bulk', `${scheme}://${LOCAL}:${open}`, host, echo.port, rdns, String(3_000_000));
      expect(r.code, explain(r)).to.equal(0);
      expect(resultLine(r, 'ECHO')).to.equal('ECHO 3000000 bytes, identical, then EOF');
    });
  }
});

describe('interop: python3-socksio (sans-I/O) over a plain socket with sockskit-proxy', function () {
  this.timeout(60000);
  let echo: DualStack;
  let open: { port: number; port6: number };
  let authed: { port: number; port6: number };
  let refused: number;
  let v6 = false;
  let tmp: ReturnType<typeof tempDir> | undefined;
  let script: string;

  before(async function () {
    requirePythonModule(this, 'socksio');
    v6 = await probeIPv6();
    tmp = tempDir('sockskit-py-');
    script = tmp.write('socksio_client.py', PY_SOCKSIO);
    echo = await dualStackEcho();
    refused = await closedPort();
    open = await startProxy([], v6);
    authed = await startProxy(['--user', 'alice:s3cret'], v6);
  });
  after(async () => {
    killPython();
    await stopAll();
    await echo?.close();
    tmp?.cleanup();
  });

  const py = (mode: string, phost: string, pport: number, dhost: string, dport: number, user: string, pass: string, payload: string) =>
    runPython(script, [mode, phost, String(pport), dhost, String(dport), user, pass, payload]);

  it('SOCKS5 CONNECT to an IPv4 address (127.0.0.1)', async () => {
    const r = await py('s5', LOCAL, open.port, LOCAL, echo.port, '', '', 'socksio v4');
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'REPLY')).to.equal('REPLY SUCCEEDED IPV4_ADDRESS 127.0.0.1 TUNNEL_READY');
    expect(resultLine(r, 'ECHO')).to.equal('ECHO socksio v4');
  });

  it('SOCKS5 CONNECT to an IPv6 address (::1), proxy reached on [::1]', async function () {
    if (!v6 || !echo.v6) {
      console.log('      (skipped: no IPv6 loopback on this machine)');
      return this.skip();
    }
    const r = await py('s5', '::1', open.port6, '::1', echo.port, '', '', 'socksio v6');
    expect(r.code, explain(r)).to.equal(0);
    // BND.ADDR is the proxy's side of its connection to ::1, so an IPv6 address.
    expect(resultLine(r, 'REPLY')).to.equal('REPLY SUCCEEDED IPV6_ADDRESS ::1 TUNNEL_READY');
    expect(resultLine(r, 'ECHO')).to.equal('ECHO socksio v6');
  });

  it('SOCKS5 CONNECT to the name `localhost` (ATYP 03, resolved by the proxy)', async () => {
    const r = await py('s5', LOCAL, open.port, 'localhost', echo.port, '', '', 'socksio name');
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'REPLY')).to.match(/^REPLY SUCCEEDED (IPV4_ADDRESS 127\.0\.0\.1|IPV6_ADDRESS ::1) TUNNEL_READY$/);
    expect(resultLine(r, 'ECHO')).to.equal('ECHO socksio name');
  });

  it('SOCKS5 with username/password (RFC 1929), over [::1] when available', async () => {
    const [host, port] = v6 ? ['::1', authed.port6] : [LOCAL, authed.port];
    const r = await py('s5', host, port, LOCAL, echo.port, 'alice', 's3cret', 'socksio auth');
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'REPLY')).to.equal('REPLY SUCCEEDED IPV4_ADDRESS 127.0.0.1 TUNNEL_READY');
    expect(resultLine(r, 'ECHO')).to.equal('ECHO socksio auth');
  });

  it('SOCKS5 with a wrong password: the sans-I/O machine sees failure and MUST_CLOSE', async () => {
    const r = await py('s5', LOCAL, authed.port, LOCAL, echo.port, 'alice', 'nope', 'never');
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'AUTHFAIL')).to.equal('AUTHFAIL MUST_CLOSE');
  });

  it('SOCKS5 to a refused destination: REP 05 parsed as CONNECTION_REFUSED', async () => {
    const r = await py('s5', LOCAL, open.port, LOCAL, refused, '', '', 'never');
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'REPLY')).to.match(/^REPLY CONNECTION_REFUSED IPV4_ADDRESS \S+ MUST_CLOSE$/);
  });

  it('SOCKS4 CONNECT to 127.0.0.1 (8-byte reply 90)', async () => {
    const r = await py('s4', LOCAL, open.port, LOCAL, echo.port, '', '', 'socksio s4');
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'REPLY')).to.match(/^REPLY REQUEST_GRANTED IPV4 \S+$/);
    expect(resultLine(r, 'ECHO')).to.equal('ECHO socksio s4');
  });

  it('SOCKS4a CONNECT to `localhost` (0.0.0.255 + name)', async () => {
    const r = await py('s4a', LOCAL, open.port, 'localhost', echo.port, '', '', 'socksio s4a');
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'REPLY')).to.match(/^REPLY REQUEST_GRANTED IPV4 \S+$/);
    expect(resultLine(r, 'ECHO')).to.equal('ECHO socksio s4a');
  });

  it('SOCKS4 against the proxy with users: REQUEST_REJECTED_OR_FAILED (5B)', async () => {
    const r = await py('s4', LOCAL, authed.port, LOCAL, echo.port, '', '', 'never');
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'REPLY')).to.match(/^REPLY REQUEST_REJECTED_OR_FAILED IPV4 \S+$/);
  });
});
