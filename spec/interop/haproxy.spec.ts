/**
 * A real HAProxy (send-proxy, send-proxy-v2) in front of sockskit-proxy
 * --proxy-protocol, reached by curl: the log shows curl's own address.
 */
import net from 'node:net';
import http from 'node:http';
import { expect } from 'chai';
import { requireProgram, spawnDaemon, stopAll, freePort, tempDir, Daemon, runProgram, RunResult, cleanEnv } from '../support/interop.js';
import { PROGRAM } from '../support/paths.js';
import { waitFor } from '../support/helpers.js';

const LOCAL = '127.0.0.1';

const PROXY = PROGRAM.proxy;

/** Runs curl to completion; killed after `timeout` ms. */
function curl(args: string[], timeout = 15000): Promise<RunResult> {
  return runProgram('curl', args, { timeout });
}

describe('interop: HAProxy send-proxy in front of sockskit-proxy', function () {
  this.timeout(30000);
  let haproxy: string;
  let target: http.Server;
  let targetPort: number;
  let tmp: ReturnType<typeof tempDir>;

  before(async function () {
    haproxy = requireProgram(this, 'haproxy');
    requireProgram(this, 'curl');
    tmp = tempDir('sockskit-haproxy-');
    target = http.createServer((_req, res) => res.end('hello through haproxy\n'));
    await new Promise<void>((r) => target.listen(0, LOCAL, () => r()));
    targetPort = (target.address() as net.AddressInfo).port;
  });

  afterEach(stopAll);

  after(async () => {
    await stopAll();
    if (target) await new Promise<void>((r) => target.close(() => r()));
    tmp?.cleanup();
  });

  /** sockskit-proxy on an ephemeral port, DEBUG on for the server; returns its port. */
  async function startProxy(args: string[]): Promise<{ port: number; daemon: Daemon }> {
    const daemon = await spawnDaemon(process.execPath, [PROXY, '--listen', `${LOCAL}:0`, ...args], { env: cleanEnv({ DEBUG: 'sockskit:server', DEBUG_COLORS: '0' }) });
    let port = 0;
    await waitFor(() => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(daemon.output());
      if (m) port = Number(m[1]);
      return port > 0 || daemon.child.exitCode !== null;
    }, 10000, 'the proxy to listen').catch((e) => {
      throw new Error(`${(e as Error).message}\n${daemon.output()}`);
    });
    if (!port) throw new Error(`proxy exited: ${daemon.output()}`);
    return { port, daemon };
  }

  for (const [mode, sendProxy] of [['v1', 'send-proxy'], ['v2', 'send-proxy-v2'], ['any', 'send-proxy-v2']] as const) {
    it(`--proxy-protocol ${mode} behind "server ... ${sendProxy}": curl --socks5 works, the log shows curl's own address`, async () => {
      const { port: backend, daemon: proxy } = await startProxy(['--proxy-protocol', mode, '--proxy-protocol-from', '127.0.0.1/32']);
      const front = await freePort();
      const cfg = tmp.write(`haproxy-${mode}.cfg`, [
        'global',
        '  maxconn 64',
        'defaults',
        '  mode tcp',
        '  timeout connect 5s',
        '  timeout client 30s',
        '  timeout server 30s',
        'frontend socks',
        `  bind ${LOCAL}:${front}`,
        '  default_backend sockskit',
        'backend sockskit',
        `  server s1 ${LOCAL}:${backend} ${sendProxy}`,
        '',
      ].join('\n'));
      const hap = await spawnDaemon(haproxy, ['-f', cfg, '-db'], { readyPort: front, readyTimeout: 10000 });
      // curl's source port is pinned, so the log line can only match the header's address.
      const clientPort = await freePort();
      const r = await curl(['-sS', '--max-time', '10', '--local-port', String(clientPort), '--socks5', `${LOCAL}:${front}`, `http://${LOCAL}:${targetPort}/`]);
      expect(r.stderr + r.stdout, hap.output()).to.equal('hello through haproxy\n');
      expect(r.code).to.equal(0);
      const v = mode === 'v1' ? 1 : 2;
      await waitFor(() => proxy.output().includes(`PROXY v${v} from 127.0.0.1:`), 3000, 'the PROXY debug line').catch((e) => {
        throw new Error(`${(e as Error).message}\n${proxy.output()}`);
      });
      expect(proxy.output()).to.match(new RegExp(`PROXY v${v} from 127\\.0\\.0\\.1:\\d+: client 127\\.0\\.0\\.1:${clientPort}, to 127\\.0\\.0\\.1:${front}`));
    });
  }

  it('a client that bypasses HAProxy (no header) is closed by sockskit-proxy; curl fails', async () => {
    const { port: backend } = await startProxy(['--proxy-protocol', 'v1']);
    const r = await curl(['-sS', '--max-time', '10', '--socks5', `${LOCAL}:${backend}`, `http://${LOCAL}:${targetPort}/`]);
    expect(r.code).to.not.equal(0);
    expect(r.stdout).to.equal('');
  });
});
