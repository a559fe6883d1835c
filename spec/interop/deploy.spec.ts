/**
 * The deployment kit (examples/deploy/), run for real on 127.0.0.1:
 * haproxy.cfg with two sockskit-proxy instances behind it (PROXY protocol v2):
 * both receive clients, the access logs show the real client address, and a
 * binauth token issued through one instance is accepted by the other (same
 * server key). The systemd unit passes `systemd-analyze verify`.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { requireProgram, spawnDaemon, stopAll, runProgram, freePort, cleanEnv, which, interopRequired, type Daemon } from '../support/interop.js';
import { waitFor } from '../support/server.js';
import { PROGRAM, ROOT } from '../support/paths.js';

const DEPLOY = path.join(ROOT, 'examples', 'deploy');

describe('deployment kit: examples/deploy', function () {
  this.timeout(40000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-deploy-'));
  });
  after(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('haproxy.cfg: two instances behind HAProxy both serve, log the real client address, and share binauth tokens', async function () {
    const haproxy = requireProgram(this, 'haproxy');
    const curl = requireProgram(this, 'curl');
    const target = http.createServer((_q, r) => r.end('hello via haproxy\n'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetPort = (target.address() as net.AddressInfo).port;
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as net.AddressInfo).port;
    try {
      const serverKey = path.join(dir, 'server.key');
      const clientKey = path.join(dir, 'client.key');
      await runProgram(process.execPath, [PROGRAM.keys, 'generate', serverKey]);
      const pub = (await runProgram(process.execPath, [PROGRAM.keys, 'generate', clientKey])).stdout.trim();
      writeFileSync(path.join(dir, 'authorized'), `${pub}\n`);
      const [front, a, b] = [await freePort(), await freePort(), await freePort()];
      const instances: { port: number; log: string; daemon?: Daemon }[] = [{ port: a, log: path.join(dir, 'a.log') }, { port: b, log: path.join(dir, 'b.log') }];
      for (const inst of instances) {
        writeFileSync(inst.log, '');
        inst.daemon = await spawnDaemon(process.execPath, [
          PROGRAM.proxy, '--listen', `127.0.0.1:${inst.port}`, '--proxy-protocol', 'v2', '--proxy-protocol-from', '127.0.0.1/32',
          '--binauth-key', serverKey, '--authorized-keys', path.join(dir, 'authorized'), '--user', 'u:p',
          '--access-log', inst.log, '--access-log-format', 'json',
        ], { readyPort: inst.port, env: cleanEnv() });
      }
      // The shipped configuration, with this run's ports.
      const cfg = readFileSync(path.join(DEPLOY, 'haproxy.cfg'), 'utf8')
        .replace('bind 127.0.0.1:1080', `bind 127.0.0.1:${front}`)
        .replace('127.0.0.1:10801 send-proxy-v2', `127.0.0.1:${a} send-proxy-v2`)
        .replace('127.0.0.1:10802 send-proxy-v2', `127.0.0.1:${b} send-proxy-v2`);
      expect(cfg).to.include(`:${a} send-proxy-v2`).and.include(`:${b} send-proxy-v2`).and.include(`bind 127.0.0.1:${front}`);
      writeFileSync(path.join(dir, 'haproxy.cfg'), cfg);
      const hap = await spawnDaemon(haproxy, ['-f', path.join(dir, 'haproxy.cfg'), '-db'], { readyPort: front, readyTimeout: 10000 });

      const connects = (log: string) => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.command === 'connect');
      // Round robin: two curl runs, one per instance; their pinned source ports appear in the logs.
      const ports = [await freePort(), await freePort()];
      for (const p of ports) {
        const r = await runProgram(curl, ['-sS', '--max-time', '10', '--local-port', String(p), '--socks5', `127.0.0.1:${front}`, '-U', 'u:p', `http://127.0.0.1:${targetPort}/`], { env: cleanEnv() });
        expect(r.stdout, r.stderr + hap.output()).to.equal('hello via haproxy\n');
      }
      await waitFor(() => connects(instances[0]!.log).length + connects(instances[1]!.log).length === 2, 5000, 'two access-log lines');
      const clients = instances.map((i) => connects(i.log).map((r) => r.client));
      expect(clients.map((c) => c.length)).to.deep.equal([1, 1]);
      expect(clients.flat().sort()).to.deep.equal(ports.map((p) => `127.0.0.1:${p}`).sort());

      // binauth: the first run gets a token from one instance, the second presents it to the other.
      const cache = path.join(dir, 'token');
      const connectArgs = ['--proxy', `socks5://127.0.0.1:${front}`, '--binauth-key', clientKey, '--binauth-token-cache', cache, '127.0.0.1', String(echoPort)];
      const first = await runProgram(process.execPath, [PROGRAM.connect, ...connectArgs], { input: 'one', env: cleanEnv() });
      expect([first.code, first.stdout], first.stderr).to.deep.equal([0, 'one']);
      const token = readFileSync(cache, 'utf8');
      const second = await runProgram(process.execPath, [PROGRAM.connect, ...connectArgs], { input: 'two', env: cleanEnv() });
      expect([second.code, second.stdout], second.stderr).to.deep.equal([0, 'two']);
      // Accepted as it was: a refused token would have been replaced by a fresh one.
      expect(readFileSync(cache, 'utf8')).to.equal(token);
      await waitFor(() => connects(instances[0]!.log).length + connects(instances[1]!.log).length === 4, 5000, 'four access-log lines');
      const keyed = instances.map((i) => connects(i.log).filter((r) => r.method === 'binauth'));
      expect(keyed.map((k) => k.length)).to.deep.equal([1, 1]);
      for (const k of keyed) expect(k[0].identity).to.equal(`key:${pub}`);
    } finally {
      target.close();
      echo.close();
    }
  });

  it('sockskit-proxy.service passes systemd-analyze verify', async function () {
    const sa = which('systemd-analyze');
    if (!sa) {
      if (interopRequired()) throw new Error('systemd-analyze is missing');
      this.skip();
    }
    // verify wants ExecStart's program to exist: point it at this checkout's build.
    const unit = readFileSync(path.join(DEPLOY, 'sockskit-proxy.service'), 'utf8').replace('/usr/bin/node /usr/lib/node_modules/sockskit/dist/examples/proxy.js', `${process.execPath} ${PROGRAM.proxy}`);
    expect(unit).to.include(PROGRAM.proxy);
    const file = path.join(dir, 'sockskit-proxy.service');
    writeFileSync(file, unit);
    // Documentation=man:sockskit-proxy(8): verify runs man, which finds the page as npm would install it.
    const manDir = path.join(dir, 'man');
    mkdirSync(path.join(manDir, 'man8'), { recursive: true });
    copyFileSync(path.join(ROOT, 'man', 'sockskit-proxy.8'), path.join(manDir, 'man8', 'sockskit-proxy.8'));
    const r = await runProgram(sa!, ['verify', file], { env: cleanEnv({ MANPATH: manDir }) });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stderr).to.not.match(/sockskit-proxy\.service:\d+: /);
  });
});
