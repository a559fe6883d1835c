/** sockskit-connect -L stops on SIGTERM even with a tunnel open: the tunnels are closed and it exits 0. */
import { expect } from 'chai';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { PROGRAM } from '../support/paths.js';
import { cleanEnv, echoServer } from '../support/interop.js';
import { startServer, Conn } from '../support/udp-bind.js';

describe('sockskit-connect -L and SIGTERM', function () {
  this.timeout(20000);

  it('SIGTERM with a tunnel open: the tunnel is closed and the program exits 0 at once', async () => {
    const echo = await echoServer();
    const proxy = await startServer();
    const child = spawn(process.execPath, [PROGRAM.connect, '--proxy', `socks5://127.0.0.1:${proxy.port}`, '-L', '127.0.0.1:0', '127.0.0.1', String(echo.port)], { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const t0 = Date.now();
      while (!/listening on 127\.0\.0\.1:\d+/.test(err) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(err)![1]);
      const c = await Conn.open(port);
      c.write(Buffer.from('hello'));
      expect((await c.read(5)).toString()).to.equal('hello');
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 3 s'), 3000))]);
      expect(code, err).to.equal(0);
      await c.whenClosed();
      // Nothing listens any more.
      const refused = await new Promise<boolean>((r) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => (s.destroy(), r(false)));
        s.on('error', () => r(true));
      });
      expect(refused).to.equal(true);
    } finally {
      child.kill('SIGKILL');
      await proxy.close();
      await echo.close();
    }
  });
});
