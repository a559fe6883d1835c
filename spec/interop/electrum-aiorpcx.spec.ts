/**
 * Interop with aiorpcx (python3-aiorpcx, Debian 0.22.x), Electrum's RPC and
 * SOCKS library, run with /usr/bin/python3:
 *
 *   - through the spawned sockskit-electrum-gateway in front of the stand-in
 *     Electrum backend (spec/support/electrum.ts): SOCKSProxy(SOCKS5,
 *     SOCKSUserAuth('bwt', TOKEN)) + connect_rs(host, port, proxy=...) +
 *     RPCSession.send_request('server.version', ...), as Electrum does it;
 *     the hostname path (no auth, the token as CONNECT host); wrong tokens;
 *   - against the spawned sockskit-proxy: SOCKS5 (with and without auth),
 *     SOCKS4, SOCKS4a to the stand-in (JSON-RPC) and to an echo target.
 *
 * The script prints RESULT/RPCERROR/ECHO or SOCKSFAILURE lines that the tests
 * assert on. A missing python or aiorpcx skips visibly, or fails when
 * SOCKSKIT_INTEROP_REQUIRED=1.
 */
import net from 'node:net';
import { expect } from 'chai';
import { stopAll, tempDir } from '../support/interop.js';
import { startStandIn, StandIn, TOKEN } from '../support/electrum.js';
import {
  requirePythonModule, runPython, killPython, resultLine, startProxy, spawnListening, probeIPv6,
  dualStack, dualStackEcho, DualStack, PyResult, GATEWAY,
} from '../support/python.js';

const LOCAL = '127.0.0.1';

/**
 * aiorpcx client. argv: protocol (SOCKS5|SOCKS4|SOCKS4a), proxy host, proxy
 * port, username ('' = no auth), password, dest host, dest port, mode.
 * mode `rpc`: connect_rs + RPCSession; prints `RESULT <json>` for
 * server.version and server.ping, then `RPCERROR <code> <message>` for an
 * unknown method. mode `echo`: SOCKSProxy.create_connection with a plain
 * asyncio protocol; prints `ECHO <bytes back>`. SOCKS errors: `SOCKSFAILURE
 * <message>` / `SOCKSPROTOCOLERROR <message>` (exit 3), else `ERROR` (exit 4).
 */
const PY_AIORPCX = String.raw`
import asyncio, json, sys
from aiorpcx import (connect_rs, RPCError, SOCKSProxy, SOCKS4, SOCKS4a, SOCKS5, SOCKSUserAuth,
                     SOCKSFailure, SOCKSProtocolError, NetAddress)
proto, phost, pport, user, password, host, port, mode = sys.argv[1:9]
port = int(port)

def make_proxy():
    auth = SOCKSUserAuth(user, password) if user else None
    protocol = {'SOCKS5': SOCKS5, 'SOCKS4': SOCKS4, 'SOCKS4a': SOCKS4a}[proto]
    return SOCKSProxy(NetAddress(phost, int(pport)), protocol, auth)

async def rpc():
    async with connect_rs(host, port, proxy=make_proxy()) as session:
        version = await session.send_request('server.version', ['aiorpcx-test', '1.4'])
        ping = await session.send_request('server.ping', [])
        print('RESULT', json.dumps([version, ping], separators=(',', ':')), flush=True)
        try:
            await session.send_request('blockchain.nope', [1])
        except RPCError as e:
            print('RPCERROR', e.code, e.message, flush=True)

class Echo(asyncio.Protocol):
    def __init__(self):
        self.got = b''
        self.done = asyncio.get_running_loop().create_future()
    def data_received(self, data):
        self.got += data
        if len(self.got) >= len(PAYLOAD) and not self.done.done():
            self.done.set_result(self.got)
    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(self.got)

PAYLOAD = f'aiorpcx {proto} {host} echo'.encode()

async def echo():
    transport, protocol = await make_proxy().create_connection(Echo, host, port)
    transport.write(PAYLOAD)
    got = await protocol.done
    transport.close()
    print('ECHO', got.decode(), flush=True)

try:
    asyncio.run(asyncio.wait_for(rpc() if mode == 'rpc' else echo(), 15))
except SOCKSFailure as e:
    print('SOCKSFAILURE', e)
    sys.exit(3)
except SOCKSProtocolError as e:
    print('SOCKSPROTOCOLERROR', e)
    sys.exit(3)
except Exception as e:
    print('ERROR', type(e).__name__, e)
    sys.exit(4)
`;

const RESULT = 'RESULT [["stand-in 1.0","1.4"],null]';
const RPCERROR = 'RPCERROR -32601 unknown method blockchain.nope';

function explain(r: PyResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** A forwarder on 127.0.0.1:P and [::1]:P to the stand-in, so `localhost` reaches it whatever it resolves to. */
function forwarder(port: number): Promise<DualStack> {
  return dualStack((s) => {
    const up = net.connect(port, LOCAL);
    up.on('error', () => s.destroy());
    s.on('close', () => up.destroy());
    up.on('close', () => s.destroy());
    s.pipe(up).pipe(s);
  });
}

describe('interop: aiorpcx through sockskit-electrum-gateway (spawned) to a stand-in Electrum backend', function () {
  this.timeout(60000);
  let backend: StandIn;
  let gw: number;
  let tmp: ReturnType<typeof tempDir> | undefined;
  let script: string;

  before(async function () {
    requirePythonModule(this, 'aiorpcx');
    tmp = tempDir('sockskit-aiorpcx-');
    script = tmp.write('aiorpcx_client.py', PY_AIORPCX);
    backend = await startStandIn();
    const started = await spawnListening(GATEWAY, ['--listen', `${LOCAL}:0`, '--backend', `${LOCAL}:${backend.port}`, '--auth-token', TOKEN], [/listening on 127\.0\.0\.1:(\d+)/]);
    gw = started.ports[0]!;
  });
  after(async () => {
    killPython();
    await stopAll();
    await backend?.close();
    tmp?.cleanup();
  });

  const py = (proto: string, user: string, pass: string, host: string, port: number, mode = 'rpc') =>
    runPython(script, [proto, LOCAL, String(gw), user, pass, host, String(port), mode]);

  it("SOCKS5 + SOCKSUserAuth('bwt', TOKEN), connect_rs('bwt', 1): server.version answered by the backend", async () => {
    const seen = backend.received.length;
    const r = await py('SOCKS5', 'bwt', TOKEN, 'bwt', 1);
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'RESULT')).to.equal(RESULT);
    expect(resultLine(r, 'RPCERROR')).to.equal(RPCERROR);
    // aiorpcx's own bytes reached the backend unchanged, server.version first with id 0.
    const lines = backend.received.slice(seen);
    expect(lines).to.have.length(3);
    expect(JSON.parse(lines[0]!)).to.deep.equal({ jsonrpc: '2.0', method: 'server.version', id: 0, params: ['aiorpcx-test', '1.4'] });
    expect(JSON.parse(lines[1]!)).to.include({ method: 'server.ping', id: 1 });
  });

  it('SOCKS5 + auth with an IPv6 destination (::1, 50001): accepted after the password (bwt refuses it)', async () => {
    const r = await py('SOCKS5', 'bwt', TOKEN, '::1', 50001);
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'RESULT')).to.equal(RESULT);
  });

  it('SOCKS5 without auth, the token as CONNECT hostname (hostname path)', async () => {
    const r = await py('SOCKS5', '', '', TOKEN, 1);
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'RESULT')).to.equal(RESULT);
  });

  it('a wrong token as password: SOCKSFailure (auth failure code 1), the backend never dialled', async () => {
    const before = backend.connections;
    const r = await py('SOCKS5', 'bwt', TOKEN.toUpperCase(), 'bwt', 1);
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'SOCKSFAILURE')).to.equal('SOCKSFAILURE SOCKS5 proxy auth failure code: 1');
    expect(backend.connections).to.equal(before);
  });

  it('a wrong token as hostname: SOCKSFailure (REP 02), the backend never dialled', async () => {
    const before = backend.connections;
    const r = await py('SOCKS5', '', '', 'notthetoken', 1);
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'SOCKSFAILURE')).to.equal('SOCKSFAILURE connection not allowed by ruleset');
    expect(backend.connections).to.equal(before);
  });

  it('SOCKS4a (no password field): SOCKSFailure 91', async () => {
    const r = await py('SOCKS4a', 'bwt', TOKEN, 'bwt', 1);
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'SOCKSFAILURE')).to.equal('SOCKSFAILURE SOCKS4a proxy request failed: request rejected or failed');
  });
});

describe('interop: aiorpcx SOCKS4/SOCKS4a/SOCKS5 with sockskit-proxy (spawned)', function () {
  this.timeout(60000);
  let backend: StandIn;
  let fwd: DualStack;
  let echo: DualStack;
  let open: number;
  let authed: number;
  let v6 = false;
  let tmp: ReturnType<typeof tempDir> | undefined;
  let script: string;

  before(async function () {
    requirePythonModule(this, 'aiorpcx');
    v6 = await probeIPv6();
    tmp = tempDir('sockskit-aiorpcx-');
    script = tmp.write('aiorpcx_client.py', PY_AIORPCX);
    backend = await startStandIn();
    fwd = await forwarder(backend.port);
    echo = await dualStackEcho();
    open = (await startProxy([], false)).port;
    authed = (await startProxy(['--user', 'alice:s3cret'], false)).port;
  });
  after(async () => {
    killPython();
    await stopAll();
    await fwd?.close();
    await echo?.close();
    await backend?.close();
    tmp?.cleanup();
  });

  const py = (proto: string, proxyPort: number, user: string, pass: string, host: string, port: number, mode = 'rpc') =>
    runPython(script, [proto, LOCAL, String(proxyPort), user, pass, host, String(port), mode]);

  it('SOCKS5, no auth, connect_rs(127.0.0.1) to the JSON-RPC stand-in', async () => {
    const r = await py('SOCKS5', open, '', '', LOCAL, backend.port);
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'RESULT')).to.equal(RESULT);
    expect(resultLine(r, 'RPCERROR')).to.equal(RPCERROR);
  });

  it("SOCKS5 + SOCKSUserAuth('alice', 's3cret'), connect_rs('localhost') (ATYP 03)", async () => {
    const r = await py('SOCKS5', authed, 'alice', 's3cret', 'localhost', fwd.port);
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'RESULT')).to.equal(RESULT);
  });

  it('SOCKS5 with a wrong password: SOCKSFailure (auth failure code 1)', async () => {
    const r = await py('SOCKS5', authed, 'alice', 'wrong', LOCAL, backend.port);
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'SOCKSFAILURE')).to.equal('SOCKSFAILURE SOCKS5 proxy auth failure code: 1');
  });

  it('SOCKS4a, connect_rs(localhost) resolved by the proxy', async () => {
    const r = await py('SOCKS4a', open, '', '', 'localhost', fwd.port);
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'RESULT')).to.equal(RESULT);
  });

  it('SOCKS4, connect_rs(127.0.0.1) with a USERID', async () => {
    const r = await py('SOCKS4', open, 'someone', 'x', LOCAL, backend.port);
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'RESULT')).to.equal(RESULT);
  });

  it('SOCKS4 plain CONNECT (create_connection) to an echo target', async () => {
    const r = await py('SOCKS4', open, '', '', LOCAL, echo.port, 'echo');
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'ECHO')).to.equal(`ECHO aiorpcx SOCKS4 ${LOCAL} echo`);
  });

  it('SOCKS5 plain CONNECT to an IPv6 echo target (::1)', async function () {
    if (!v6 || !echo.v6) {
      console.log('      (skipped: no IPv6 loopback on this machine)');
      return this.skip();
    }
    const r = await py('SOCKS5', open, '', '', '::1', echo.port, 'echo');
    expect(r.code, explain(r)).to.equal(0);
    expect(resultLine(r, 'ECHO')).to.equal('ECHO aiorpcx SOCKS5 ::1 echo');
  });

  it('SOCKS4 against the proxy with users: SOCKSFailure 91', async () => {
    const r = await py('SOCKS4', authed, '', '', LOCAL, echo.port, 'echo');
    expect(r.code, explain(r)).to.equal(3);
    expect(resultLine(r, 'SOCKSFAILURE')).to.equal('SOCKSFAILURE SOCKS4 proxy request failed: request rejected or failed');
  });
});
