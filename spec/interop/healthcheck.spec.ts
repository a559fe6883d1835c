/**
 * Issue 20 item 5: HAProxy's health checks are not errors. The shipped
 * examples/deploy/haproxy.cfg checks each instance with `check-send-proxy`:
 * a PROXY v2 LOCAL header, then a close. sockskit-proxy counts each as a
 * health check (sockskit_health_checks_total), writes no access-log line
 * and no error for it, and with --log-health-checks one `end=healthcheck`
 * line without an error. A connection that sends nothing behind a PROXY
 * listener is one too.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { cleanEnv, freePort, requireProgram, spawnDaemon, stopAll, tempDir } from '../support/interop.js';
import { PROGRAM, ROOT } from '../support/paths.js';

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}
const value = (text: string, line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('interop: HAProxy check-send-proxy health checks are not errors (issue 20 item 5)', function () {
  this.timeout(40000);
  let tmp: ReturnType<typeof tempDir>;
  before(() => (tmp = tempDir('sockskit-hc-')));
  afterEach(stopAll);
  after(() => tmp.cleanup());

  for (const logThem of [false, true]) {
    it(`the shipped haproxy.cfg's checks are counted, ${logThem ? 'logged as end=healthcheck with --log-health-checks' : 'not logged'}`, async function () {
      const haproxy = requireProgram(this, 'haproxy');
      const [front, a, mport] = [await freePort(), await freePort(), await freePort()];
      const log = tmp.write(`access-${logThem}.log`, '');
      await spawnDaemon(process.execPath, [
        PROGRAM.proxy, '--listen', `127.0.0.1:${a}`, '--proxy-protocol', 'v2', '--proxy-protocol-from', '127.0.0.1/32',
        '--access-log', log, '--metrics', `127.0.0.1:${mport}`, ...(logThem ? ['--log-health-checks'] : []),
      ], { readyPort: a, env: cleanEnv() });
      // The shipped file, with this run's ports (both servers on the one instance) and checks every 200 ms.
      const cfg = readFileSync(path.join(ROOT, 'examples', 'deploy', 'haproxy.cfg'), 'utf8')
        .replace('bind 127.0.0.1:1080', `bind 127.0.0.1:${front}`)
        .replace(/127\.0\.0\.1:1080[12] send-proxy-v2/g, `127.0.0.1:${a} send-proxy-v2`)
        .replace(/inter 10s/g, 'inter 200ms');
      expect(cfg).to.include('check-send-proxy inter 200ms');
      writeFileSync(path.join(tmp.dir, 'haproxy.cfg'), cfg);
      // Not readyPort: a probe of the front would reach the instance as a real client.
      await spawnDaemon(haproxy, ['-f', path.join(tmp.dir, 'haproxy.cfg'), '-db']);
      let text = '';
      for (let i = 0; i < 50 && !(value(text, 'sockskit_health_checks_total') >= 6); i++) {
        await new Promise((r) => setTimeout(r, 200));
        text = await get(mport);
      }
      expect(value(text, 'sockskit_health_checks_total'), text).to.be.at.least(6);
      expect(value(text, 'sockskit_connections_ended_total{end="healthcheck"}')).to.be.at.least(6);
      expect(text).not.to.match(/^sockskit_errors_total\{class="[^"]+"\} [1-9]/m);
      // A connection that sends nothing behind the PROXY listener: a health check too.
      await new Promise<void>((resolve) => net.connect(a, '127.0.0.1', function (this: net.Socket) { this.end(); }).on('close', () => resolve()));
      const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      if (!logThem) expect(lines, 'access log').to.deep.equal([]);
      else {
        expect(lines.length).to.be.at.least(6);
        for (const l of lines) expect(l).to.match(/ end=healthcheck error=-$/);
      }
    });
  }
});
