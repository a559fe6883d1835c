/**
 * Issue 20 item 6: the metrics of every program pass `promtool check
 * metrics` (Debian's prometheus package): the proxy, the proxy with
 * --workers 2, and the Electrum gateway. Each series is declared once with
 * HELP and TYPE, counters end in _total, process_* and per-method and
 * per-end series are there. Issue 18 finding 20: the gateway's /status under
 * --workers shows the sum of the workers' counters.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { PROGRAM } from '../support/paths.js';
import { cleanEnv, echoServer, requireProgram, runProgram, startProgram, stopPrograms, type Proc } from '../support/interop.js';
import { TOKEN, tokenBytes } from '../support/electrum.js';
import { hex } from '../support/helpers.js';

function get(port: number, path: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {};
    http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Sends `bytes`, waits for the reply (or the close), closes. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    const got: Buffer[] = [];
    const t = setTimeout(() => s.destroy(), 1000);
    s.on('data', (d) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(got));
    });
  });
}

async function metricsPort(p: Proc): Promise<number> {
  return Number((await p.waitFor(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/, 10000))[1]);
}

/** promtool accepts it, and our own rules hold: one HELP and TYPE per family, counters named _total. */
async function checkExposition(promtool: string, text: string): Promise<void> {
  const r = await runProgram(promtool, ['check', 'metrics'], { input: text });
  expect(r.code, `${r.stdout}${r.stderr}\n${text}`).to.equal(0);
  expect(r.stdout + r.stderr, 'promtool lint').to.equal('');
  const help = [...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!);
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
  expect(new Set(help).size, 'each family once').to.equal(help.length);
  expect(types.map(([n]) => n)).to.deep.equal(help);
  for (const [name, type] of types) if (type === 'counter') expect(name).to.match(/_total$/);
  const families = new Set(help);
  for (const line of text.trim().split('\n').filter((l) => !l.startsWith('#'))) {
    const name = /^([a-z_]+)/.exec(line)![1]!;
    expect(families.has(name) || families.has(name.replace(/_(bucket|sum|count)$/, '')), `${name} declared`).to.equal(true);
  }
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds', 'process_start_time_seconds']) {
    expect(families.has(name), name).to.equal(true);
  }
}

describe('promtool check metrics: proxy, proxy with workers, gateway (issue 20 item 6; issue 18 finding 20)', function () {
  this.timeout(30000);
  let promtool: string;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  before(async function () {
    promtool = requireProgram(this, 'promtool');
    echo = await echoServer();
  });
  after(() => echo?.close());
  afterEach(() => stopPrograms());

  const tunnel = (port: number) => exchange(port, Buffer.concat([hex('05 01 00 05 01 00 01 7f 00 00 01'), Buffer.from([echo.port >> 8, echo.port & 255]), Buffer.from('x')]));

  it('the proxy: per-method and per-end series move with traffic', async () => {
    const p = startProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--access-log', 'off'], cleanEnv());
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10000))[1]);
    const m = await metricsPort(p);
    await tunnel(port);
    await exchange(port, hex('05 01 02')); // no acceptable method
    await new Promise((r) => setTimeout(r, 200));
    const text = (await get(m, '/metrics')).body;
    await checkExposition(promtool, text);
    expect(text).to.match(/^sockskit_connections_method_total\{method="none"\} 1$/m);
    expect(text).to.match(/^sockskit_connections_ended_total\{end="closed"\} 1$/m);
    expect(text).to.match(/^sockskit_connections_ended_total\{end="auth"\} 1$/m);
  });

  it('the proxy with --workers 2 (the workers gauge declared, the sums checked)', async () => {
    const p = startProgram(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', '--workers', '2', '--metrics', '127.0.0.1:0', '--access-log', 'off'], cleanEnv());
    const m = await metricsPort(p);
    await p.waitFor(/listening on 127\.0\.0\.1:\d+[^\n]*\n[^]*listening on 127\.0\.0\.1:\d+/, 10000);
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(p.stderr())![1]);
    for (let i = 0; i < 4; i++) await tunnel(port);
    await new Promise((r) => setTimeout(r, 200));
    const text = (await get(m, '/metrics')).body;
    await checkExposition(promtool, text);
    expect(text).to.match(/^sockskit_workers 2$/m);
    expect(text).to.match(/^sockskit_tunnels_total 4$/m);
  });

  it('the gateway, alone and with --workers 2: metrics pass, /status sums the workers', async () => {
    for (const workers of ['1', '2']) {
      const p = startProgram(process.execPath, [PROGRAM.electrumGateway, '--listen', '127.0.0.1:0', '--backend', `127.0.0.1:${echo.port}`, '--auth-token', TOKEN, '--metrics', '127.0.0.1:0', '--http', '127.0.0.1:0', '--workers', workers, '--access-log', 'off'], cleanEnv());
      const m = await metricsPort(p);
      const statusPort = Number((await p.waitFor(/http status on 127\.0\.0\.1:(\d+)/, 10000))[1]);
      const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10000))[1]);
      // Six wrong tokens: spread over the workers, all six must show.
      for (let i = 0; i < 6; i++) await exchange(port, Buffer.concat([hex('05 01 02 01 00'), tokenBytes('wrong-token-wrong-token-x'), hex('05 01 00 01 00 00 00 00 00 00')]));
      await new Promise((r) => setTimeout(r, 200));
      const text = (await get(m, '/metrics')).body;
      await checkExposition(promtool, text);
      expect(text).to.match(/^sockskit_gateway_auth_failures_total\{reason="password"\} 6$/m);
      const status = JSON.parse((await get(statusPort, '/status', `x:${TOKEN}`)).body);
      expect(status.authFailures, `workers ${workers}`).to.equal(6);
      expect(status.authFailuresByReason.password).to.equal(6);
      p.kill();
      await p.exited();
    }
  });
});
