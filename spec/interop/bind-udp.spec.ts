/**
 * BIND and UDP ASSOCIATE against real clients, through the sockskit-proxy
 * program on 127.0.0.1:
 *  - PySocks (Debian python3-socks) UDP ASSOCIATE;
 *  - Dante's socksify (libdsocks preloaded): UDP from a Python program and
 *    from `ncat -u`, BIND over SOCKS5 and SOCKS4 from a program doing
 *    bind() + listen() + accept() (Dante turns that into a SOCKS BIND);
 *  - the program's own flags: --no-bind, --no-udp, --external.
 */
import { expect } from 'chai';
import { ChildProcess, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { requireProgram, spawnDaemon, freePort, stopAll, tempDir, interopRequired, stopChild, startProgram, stopPrograms } from '../support/interop.js';
import { Conn, Udp, udpEcho, portHex } from '../support/udp-bind.js';
import { hex, toHex, waitFor } from '../support/helpers.js';
import { PROGRAM } from '../support/paths.js';

const PROXY = PROGRAM.proxy;
// Debian's python, where python3-socks is installed (a pyenv python3 earlier on PATH lacks it).
const PYTHON = process.env.SOCKSKIT_PYTHON ?? '/usr/bin/python3';

const PYSOCKS_UDP = `
import socks, socket, sys
proxy, target = int(sys.argv[1]), int(sys.argv[2])
s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, '127.0.0.1', proxy)
s.settimeout(5)
for msg in (b'hello', b'world'):
    s.sendto(msg, ('127.0.0.1', target))
    data, addr = s.recvfrom(4096)
    print(data.decode(), addr[0], addr[1])
`;

// A plain UDP program: socksify makes its sendto/recvfrom go through UDP ASSOCIATE.
const PLAIN_UDP = `
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(5)
u.sendto(b'via-dante', ('127.0.0.1', int(sys.argv[1])))
data, addr = u.recvfrom(4096)
print(data.decode(), addr[0], addr[1])
`;

// bind() + listen() + accept(): socksify turns this into a SOCKS BIND, and
// getsockname() then returns the address from the proxy's first reply.
// Python's accept() uses accept4(), which libdsocks does not wrap, so call
// accept() through the symbol table; NULL address arguments crash the wrapper.
const BINDER = `
import ctypes, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('0.0.0.0', 0))
s.listen(1)
host, port = s.getsockname()
print('LISTEN', host, port, flush=True)
addr = ctypes.create_string_buffer(128)
alen = ctypes.c_uint32(128)
fd = libc.accept(s.fileno(), addr, ctypes.byref(alen))
if fd < 0:
    print('ACCEPT-ERRNO', ctypes.get_errno(), flush=True)
    sys.exit(1)
c = socket.socket(fileno=fd)
c.settimeout(5)
print('PEER', *c.getpeername(), flush=True)
c.sendall(b'hello-peer')
print('GOT', c.recv(100).decode(), flush=True)
c.close()
`;

/** Dante client route through our proxy; `command` limits what it asks for. */
function socksConf(port: number, protocol: 'socks_v4' | 'socks_v5'): string {
  const commands = protocol === 'socks_v5' ? 'bind connect udpassociate' : 'bind connect';
  return `route {
  from: 0.0.0.0/0 to: 0.0.0.0/0 via: 127.0.0.1 port = ${port}
  proxyprotocol: ${protocol}
  command: ${commands}
  method: none
}
`;
}

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves when stdout matches `re` (bounded). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (bounded; the process is stopped on timeout). */
  exit(ms?: number): Promise<number | null>;
}

/** startProgram() (support/interop.ts), with waits on stdout alone. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const p = startProgram(cmd, args, { DEBUG: '', ...env });
  return {
    child: p.child,
    out: p.stdout,
    err: p.stderr,
    waitFor: async (re, ms = 8000) => {
      await waitFor(() => re.test(p.stdout()), ms, `${re} from ${path.basename(cmd)}; stdout: ${p.stdout()} stderr: ${p.stderr()}`);
      return p.stdout().match(re)!;
    },
    exit: (ms = 10000) => p.exited(ms).catch(() => stopChild(p.child).then(() => null)),
  };
}

/** Skips (or fails under CI) unless Debian's python with PySocks is present. */
function requirePySocks(ctx: Mocha.Context): void {
  requireProgram(ctx, PYTHON);
  const r = spawnSync(PYTHON, ['-c', 'import socks'], { timeout: 5000 });
  if (r.status === 0) return;
  const msg = `${PYTHON} cannot import socks (Debian python3-socks)`;
  if (interopRequired()) throw new Error(`${msg} (SOCKSKIT_INTEROP_REQUIRED=1)`);
  console.log(`      (skipped: ${msg})`);
  ctx.skip();
}

/** Starts sockskit-proxy; its debug log shows which commands it served (a client that went direct would pass otherwise). */
async function startProxy(extra: string[] = []): Promise<{ port: number; log: () => string }> {
  const port = await freePort();
  const d = await spawnDaemon(process.execPath, [PROXY, '--listen', `127.0.0.1:${port}`, ...extra], {
    readyPort: port,
    env: { ...process.env, DEBUG: 'sockskit:udp,sockskit:bind' },
  });
  return { port, log: d.output };
}

describe('interop: BIND and UDP ASSOCIATE with real clients (sockskit-proxy on 127.0.0.1)', function () {
  this.timeout(30000);
  let proxy = 0;
  let proxyLog: () => string = () => '';
  /** Proxy log lines written since the last call. */
  let seen = 0;
  const newLog = () => {
    const all = proxyLog();
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
  let echo: Awaited<ReturnType<typeof udpEcho>>;
  const tmp = tempDir('sockskit-bindudp-');
  const files: Record<string, string> = {};

  before(async () => {
    ({ port: proxy, log: proxyLog } = await startProxy());
    echo = await udpEcho();
    files.pysocks = tmp.write('pysocks_udp.py', PYSOCKS_UDP);
    files.plainUdp = tmp.write('plain_udp.py', PLAIN_UDP);
    files.binder = tmp.write('binder.py', BINDER);
    files.conf5 = tmp.write('socks5.conf', socksConf(proxy, 'socks_v5'));
    files.conf4 = tmp.write('socks4.conf', socksConf(proxy, 'socks_v4'));
  });
  after(async () => {
    await stopPrograms();
    await stopAll();
    echo?.close();
    tmp.cleanup();
  });

  const dante = (conf: string) => ({ SOCKS_CONF: conf, SOCKS_AUTOADD_LANROUTES: 'no' });

  it('PySocks: UDP ASSOCIATE, sendto/recvfrom through a UDP echo target', async function () {
    requirePySocks(this);
    echo.received.length = 0;
    newLog();
    const r = run(PYTHON, [files.pysocks!, String(proxy), String(echo.port)]);
    expect(await r.exit(), r.err()).to.equal(0);
    expect(r.out()).to.equal(`echo:hello 127.0.0.1 ${echo.port}\necho:world 127.0.0.1 ${echo.port}\n`);
    expect(echo.received.map(String)).to.deep.equal(['hello', 'world']);
    expect(newLog()).to.match(/UDP ASSOCIATE for 127\.0\.0\.1:\d+: relay 127\.0\.0\.1:\d+/);
  });

  it('socksify (Dante): a plain UDP program goes through UDP ASSOCIATE', async function () {
    const socksify = requireProgram(this, 'socksify');
    requireProgram(this, PYTHON);
    echo.received.length = 0;
    newLog();
    const r = run(socksify, [PYTHON, files.plainUdp!, String(echo.port)], dante(files.conf5!));
    expect(await r.exit(), r.err()).to.equal(0);
    expect(r.out()).to.equal(`echo:via-dante 127.0.0.1 ${echo.port}\n`);
    expect(echo.received.map(String)).to.deep.equal(['via-dante']);
    expect(newLog()).to.match(/UDP ASSOCIATE for 127\.0\.0\.1:\d+: relay/);
  });

  it('socksify ncat -u: UDP through the relay', async function () {
    const socksify = requireProgram(this, 'socksify');
    const ncat = requireProgram(this, 'ncat');
    echo.received.length = 0;
    newLog();
    const r = run(socksify, [ncat, '-u', '127.0.0.1', String(echo.port)], dante(files.conf5!));
    r.child.stdin!.write('ncat-line\n');
    await r.waitFor(/echo:ncat-line\n/);
    r.child.stdin!.end(); // stdin open until the answer came: ncat quits at EOF
    await r.exit(5000);
    expect(echo.received.map(String)).to.deep.equal(['ncat-line\n']);
    expect(newLog()).to.match(/UDP ASSOCIATE for 127\.0\.0\.1:\d+: relay/);
  });

  for (const version of ['socks_v5', 'socks_v4'] as const) {
    it(`socksify (Dante, ${version}): bind()+listen()+accept() becomes a BIND; data flows both ways`, async function () {
      const socksify = requireProgram(this, 'socksify');
      requireProgram(this, PYTHON);
      newLog();
      const r = run(socksify, [PYTHON, files.binder!], dante(version === 'socks_v5' ? files.conf5! : files.conf4!));
      const m = await r.waitFor(/^LISTEN (\S+) (\d+)$/m);
      // getsockname() under socksify is the proxy's first reply: our listener.
      expect(m[1]).to.equal('127.0.0.1');
      const peer = await Conn.open(Number(m[2]));
      try {
        expect((await peer.read(10, 8000)).toString()).to.equal('hello-peer');
        peer.write(Buffer.from('hello-binder'));
        expect(await r.exit(), r.err()).to.equal(0);
        // accept() returned the peer as the proxy's second reply named it.
        expect(r.out()).to.equal(`LISTEN 127.0.0.1 ${m[2]}\nPEER 127.0.0.1 ${peer.socket.localPort}\nGOT hello-binder\n`);
        expect(newLog()).to.include(`BIND: peer 127.0.0.1:${peer.socket.localPort} connected`);
      } finally {
        peer.destroy();
      }
    });
  }

  it('sockskit-proxy --no-bind --no-udp refuses both (REP 07; SOCKS4 BIND 5B)', async () => {
    const { port } = await startProxy(['--no-bind', '--no-udp']);
    for (const cmd of ['02', '03']) {
      const c = await Conn.open(port);
      try {
        c.write(hex(`05 01 00  05 ${cmd} 00 01 7f 00 00 01 00 00`));
        expect(toHex(await c.read(12))).to.equal('05 00 05 07 00 01 00 00 00 00 00 00');
      } finally {
        c.destroy();
      }
    }
    const c4 = await Conn.open(port);
    try {
      c4.write(hex('04 02 00 15 7f 00 00 01 00'));
      expect(toHex(await c4.read(8))).to.equal('00 5b 00 00 00 00 00 00');
    } finally {
      c4.destroy();
    }
  });

  it('sockskit-proxy --external 127.0.0.3: BIND listens there and UDP binds there, both advertised', async () => {
    const { port } = await startProxy(['--external', '127.0.0.3']);
    const c = await Conn.open(port);
    const u = await Udp.open();
    try {
      c.write(hex('05 01 00  05 02 00 01 00 00 00 00 00 00'));
      const first = await c.read(12);
      expect(toHex(first.subarray(0, 10))).to.equal('05 00 05 00 00 01 7f 00 00 03');
      const peer = await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.3', port: first.readUInt16BE(10) }, () => resolve(s));
        s.once('error', reject);
      });
      expect(toHex(await c.read(10))).to.equal(`05 00 00 01 7f 00 00 01 ${portHex(peer.localPort!)}`);
      peer.destroy();

      const cu = await Conn.open(port);
      try {
        cu.write(hex('05 01 00  05 03 00 01 00 00 00 00 00 00'));
        const reply = await cu.read(12);
        expect(toHex(reply.subarray(0, 10))).to.equal('05 00 05 00 00 01 7f 00 00 03');
        echo.received.length = 0;
        await u.send(Buffer.concat([hex(`00 00 00 01 7f 00 00 01 ${portHex(echo.port)}`), Buffer.from('ext')]), reply.readUInt16BE(10), '127.0.0.3');
        const got = await u.recv(3000);
        expect(got?.from.address).to.equal('127.0.0.3');
        expect(got?.msg.subarray(10).toString()).to.equal('echo:ext');
      } finally {
        cu.destroy();
      }
    } finally {
      c.destroy();
      u.close();
    }
  });
});
