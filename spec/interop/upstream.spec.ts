/**
 * sockskit-proxy with upstream proxies (--upstream, a rule's via:) in front
 * of real Dante (danted) and microsocks on loopback: one hop, a chain of two,
 * via: direct, a name the rules need resolved, BIND refused, SIGHUP reload,
 * and the access log naming the hop without its credentials.
 */
import { expect } from 'chai';
import type { Duplex } from 'node:stream';
import { connect, bind, ReplyError } from '../../lib/index.js';
import { danteConfig } from '../support/dante.js';
import { cleanEnv, echoServer, freePort, listeningPort, requireProgram, runProgram, spawnDaemon, stopAll, tempDir, type Daemon } from '../support/interop.js';
import { waitFor } from '../support/helpers.js';
import { PROGRAM } from '../support/paths.js';

function roundTrip(socket: Duplex, data: string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no echo within ${ms} ms (got ${JSON.stringify(got)})`))), ms);
    socket.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= data.length) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.on('error', (e) => (clearTimeout(timer), reject(e)));
    socket.write(data);
  });
}

describe('interop: sockskit-proxy through upstream proxies (Dante, microsocks)', function () {
  this.timeout(30000);
  const tmp = tempDir('sockskit-upstream-');
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let dante: Daemon;
  let dantePort = 0;
  let microPort = 0;
  let deadPort = 0;

  before(async function () {
    const danted = requireProgram(this, 'danted');
    const micro = requireProgram(this, 'microsocks');
    echo = await echoServer();
    deadPort = await freePort();
    dantePort = await freePort();
    dante = await spawnDaemon(danted, ['-f', tmp.write('danted.conf', danteConfig(dantePort, { log: true }))], { readyPort: dantePort, readyTimeout: 8000 });
    microPort = await freePort();
    // microsocks demands credentials: a tunnel that works went through it with them.
    await spawnDaemon(micro, ['-i', '127.0.0.1', '-p', String(microPort), '-u', 'alice', '-P', 's3cret'], { readyPort: microPort });
  });

  after(async () => {
    await stopAll();
    await echo?.close();
    tmp.cleanup();
  });

  async function proxy(args: string[]): Promise<{ d: Daemon; port: number }> {
    const d = await spawnDaemon(process.execPath, [PROGRAM.proxy, '--listen', '127.0.0.1:0', ...args], { env: cleanEnv() });
    return { d, port: await listeningPort(d) };
  }
  const logLine = async (d: Daemon, re: RegExp): Promise<string> => {
    await waitFor(() => re.test(d.output()), 5000, `an access-log line matching ${re}`);
    return re.exec(d.output())![0];
  };
  const through = (port: number, host: string, destPort = echo.port) => connect({ proxy: `socks5h://127.0.0.1:${port}`, destination: { host, port: destPort } });
  const danteConnects = () => (dante.output().match(/tcp\/connect/g) ?? []).length;
  const micro = () => `socks5h://alice:s3cret@127.0.0.1:${microPort}`;

  it('--upstream microsocks with credentials: the tunnel works and the log names the hop without them', async () => {
    const { d, port } = await proxy(['--upstream', micro()]);
    const r = await through(port, 'localhost');
    expect(await roundTrip(r.socket, 'via microsocks')).to.equal('via microsocks');
    const line = await logLine(d, /command=connect destination=localhost:\d+ .*\n/);
    expect(line).to.include(`via=socks5h://127.0.0.1:${microPort} `);
    expect(d.output()).not.to.include('s3cret');
    expect(d.output()).to.match(/listening on .*; upstream socks5h:\/\/127\.0\.0\.1:\d+\)/);
  });

  it('--upstream Dante (SOCKS4, the name resolved here): Dante logs the connect; its SOCKS4 refusal becomes 01', async () => {
    // Dante 1.4 reads a SOCKS4a request's 0.0.0.x as an address: socks4:// (names resolved by sockskit) is the way.
    const { d, port } = await proxy(['--upstream', `socks4://127.0.0.1:${dantePort}`]);
    const before = danteConnects();
    const r = await through(port, 'localhost');
    expect(await roundTrip(r.socket, 'via dante')).to.equal('via dante');
    await waitFor(() => danteConnects() > before, 5000, 'Dante to log the connect');
    const err = await through(port, '127.0.0.1', deadPort).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ReplyError);
    // Dante answers SOCKS4 91 (rejected or failed): no SOCKS5 code says which, so our client gets 01.
    expect((err as ReplyError).reply).to.equal(1);
    await logLine(d, new RegExp(`destination=127\\.0\\.0\\.1:${deadPort} dialled=127\\.0\\.0\\.1:${deadPort} via=socks4://127\\.0\\.0\\.1:${dantePort} `));
  });

  it('a chain of two: Dante (SOCKS5) then microsocks (socks5h with credentials)', async () => {
    const { d, port } = await proxy(['--upstream', `socks5://127.0.0.1:${dantePort}`, '--upstream', micro()]);
    const before = danteConnects();
    const r = await through(port, 'localhost');
    expect(await roundTrip(r.socket, 'two hops')).to.equal('two hops');
    await waitFor(() => danteConnects() > before, 5000, 'Dante to log the connect to microsocks');
    await logLine(d, new RegExp(`via=socks5://127\\.0\\.0\\.1:${dantePort},socks5h://127\\.0\\.0\\.1:${microPort} `));
  });

  it('a rule with via: direct bypasses a dead --upstream; the rest goes to it and fails', async () => {
    const conf = tmp.write('direct.yaml', `rules:\n  - { action: pass, port: ${echo.port}, via: direct }\n  - { action: pass }\n`);
    const { d, port } = await proxy(['--config', conf, '--upstream', `socks5h://127.0.0.1:${deadPort}`]);
    const r = await through(port, 'localhost');
    expect(await roundTrip(r.socket, 'direct')).to.equal('direct');
    const line = await logLine(d, new RegExp(`destination=localhost:${echo.port} dialled=127\\.0\\.0\\.1:${echo.port} reply=0 .*\\n`));
    expect(line).not.to.include('via=');
    const err = await through(port, 'localhost', echo.port + 1 > 65535 ? 1 : echo.port + 1).then(() => undefined, (e: unknown) => e);
    expect((err as ReplyError).reply).to.equal(5);
    await logLine(d, new RegExp(`via=socks5h://127\\.0\\.0\\.1:${deadPort} reply=5 `));
  });

  it('a rule that needs the address: the name is resolved here and the address goes upstream', async () => {
    const conf = tmp.write('cidr.yaml', `rules:\n  - { action: block, to: 10.0.0.0/8 }\n  - { action: pass, via: "socks4://127.0.0.1:${dantePort}" }\n`);
    const { d, port } = await proxy(['--config', conf]);
    const r = await through(port, 'localhost');
    expect(await roundTrip(r.socket, 'by address')).to.equal('by address');
    await logLine(d, new RegExp(`destination=localhost:${echo.port} dialled=127\\.0\\.0\\.1:${echo.port} via=socks4://127\\.0\\.0\\.1:${dantePort} reply=0`));
  });

  it('BIND and UDP ASSOCIATE routed upstream are refused with 07; a via: direct rule serves BIND', async () => {
    const { port } = await proxy(['--upstream', micro()]);
    const err = await bind({ proxy: `socks5://127.0.0.1:${port}`, destination: { host: '127.0.0.1', port: 0 } }).then(() => undefined, (e: unknown) => e);
    expect((err as ReplyError).reply).to.equal(7);
    const conf = tmp.write('bind.yaml', `rules:\n  - { action: pass, command: bind, via: direct }\n  - { action: pass }\n`);
    const direct = await proxy(['--config', conf, '--upstream', micro()]);
    const b = await bind({ proxy: `socks5://127.0.0.1:${direct.port}`, destination: { host: '127.0.0.1', port: 0 } });
    expect(b.bound.port).to.be.greaterThan(0);
    b.close();
    await b.accepted.catch(() => undefined);
  });

  it('SIGHUP rereads via: a dead upstream replaced by microsocks serves the next request', async () => {
    const file = tmp.write('reload.yaml', `rules:\n  - { action: pass, via: "socks5h://127.0.0.1:${deadPort}" }\n`);
    const { d, port } = await proxy(['--config', file]);
    const first = await through(port, 'localhost').then(() => undefined, (e: unknown) => e);
    expect((first as ReplyError).reply).to.equal(5);
    tmp.write('reload.yaml', `rules:\n  - { action: pass, via: "${micro()}" }\n`);
    d.child.kill('SIGHUP');
    await waitFor(() => /configuration reloaded/.test(d.output()), 5000, 'the reload');
    const r = await through(port, 'localhost');
    expect(await roundTrip(r.socket, 'after reload')).to.equal('after reload');
    await logLine(d, new RegExp(`via=socks5h://127\\.0\\.0\\.1:${microPort} reply=0`));
  });

  it('--check refuses a bad upstream URL and a bad via:, naming them', async () => {
    const bad = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--upstream', 'http://127.0.0.1:3128'], { env: cleanEnv() });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--upstream: unsupported proxy scheme http:\/\//);
    const conf = tmp.write('badvia.yaml', 'rules:\n  - { action: block, via: direct }\n  - { action: pass, via: "ftp://x" }\n');
    const r = await runProgram(process.execPath, [PROGRAM.proxy, '--check', '--config', conf], { env: cleanEnv() });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/rules\[0\]\.via: only a pass rule/);
  });
});
