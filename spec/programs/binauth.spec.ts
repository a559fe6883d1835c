/**
 * binauth end to end on 127.0.0.1: sockskit-connect --binauth-key through
 * sockskit-proxy --binauth-key --authorized-keys; an unlisted key is refused;
 * a client that does not offer 0x80 (curl, a raw 05 01 00) gets 05 FF;
 * --binauth-server-id on both programs (matching ids tunnel, a client that
 * prefixes another server's id is refused: the cross-server defence).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, spawnDaemon, stopAll, requireProgram, runProgram, RunResult } from '../support/interop.js';
import { generateBinauthKeyPair } from '../../methods/binauth/core.js';
import { writeKeyFile } from '../../methods/binauth/keyfile.js';
import { PROGRAM } from '../support/paths.js';

const PROXY = PROGRAM.proxy;
const CONNECT = PROGRAM.connect;

/** Runs sockskit-connect with `input` on stdin; bounded by a timeout. */
function runConnect(args: string[], input: string): Promise<RunResult> {
  return runProgram(process.execPath, [CONNECT, ...args], { input, timeout: 10_000 });
}

/** Runs a program to its end with no stdin (bounded); for flag errors and --help. */
function runScript(script: string, args: string[]): Promise<RunResult> {
  return runProgram(process.execPath, [script, ...args], { timeout: 10_000 });
}

/** Sends `bytes`, returns everything received until the server closes (bounded). */
function rawExchange(port: number, bytes: Buffer): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed: false });
    }, 5_000);
    s.on('data', (b) => chunks.push(b));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closed: true });
    });
  });
}

describe('binauth end to end (sockskit-proxy + sockskit-connect)', function () {
  this.timeout(30_000);
  let dir: string;
  let proxyPort: number;
  let proxyAPort: number;
  let serverKey: string;
  let authorized: string;
  let echo: net.Server;
  let echoPort: number;
  let clientKey: string;
  let strangerKey: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-binauth-e2e-'));
    const server = generateBinauthKeyPair();
    const client = generateBinauthKeyPair();
    const stranger = generateBinauthKeyPair();
    serverKey = path.join(dir, 'server.key');
    clientKey = path.join(dir, 'client.key');
    strangerKey = path.join(dir, 'stranger.key');
    writeKeyFile(serverKey, server.privateKey);
    writeKeyFile(clientKey, client.privateKey);
    writeKeyFile(strangerKey, stranger.privateKey);
    authorized = path.join(dir, 'authorized_keys');
    writeFileSync(authorized, `# who may use the proxy\n${client.publicKey.toString('hex')}\n`);

    echo = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as net.AddressInfo).port;

    proxyPort = await freePort();
    await spawnDaemon(process.execPath, [PROXY, '--listen', `127.0.0.1:${proxyPort}`, '--binauth-key', serverKey, '--authorized-keys', authorized], { readyPort: proxyPort });
    // The same key pair under the id "proxy-a" (ids guard against cross-server replay, not keys).
    proxyAPort = await freePort();
    await spawnDaemon(process.execPath, [PROXY, '--listen', `127.0.0.1:${proxyAPort}`, '--binauth-key', serverKey, '--authorized-keys', authorized, '--binauth-server-id', 'proxy-a'], { readyPort: proxyAPort });
  });

  after(async () => {
    await stopAll();
    await new Promise<void>((r) => echo.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('an authorized key tunnels data', async () => {
    const r = await runConnect(['--proxy', `socks5://127.0.0.1:${proxyPort}`, '--binauth-key', clientKey, '127.0.0.1', String(echoPort)], 'hello through binauth\n');
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal('hello through binauth\n');
    expect(r.code).to.equal(0);
  });

  it('with a token cache: first run stores a token (0600), later runs use it, a bad one is replaced', async () => {
    const cache = path.join(dir, 'token');
    const args = ['--proxy', `socks5://127.0.0.1:${proxyPort}`, '--binauth-key', clientKey, '--binauth-token-cache', cache, '127.0.0.1', String(echoPort)];
    const first = await runConnect(args, 'one');
    expect(first.stdout).to.equal('one');
    expect(first.code).to.equal(0);
    const token = readFileSync(cache, 'utf8');
    expect(token).to.match(/^[0-9a-f]{202}\n$/);
    expect(statSync(cache).mode & 0o777).to.equal(0o600);
    const second = await runConnect(args, 'two');
    expect(second.stdout).to.equal('two');
    expect(second.code).to.equal(0);
    // A token the server never issued: RESULT 02, challenge round, a fresh token.
    writeFileSync(cache, `${'ab'.repeat(101)}\n`);
    const third = await runConnect(args, 'three');
    expect(third.stdout).to.equal('three');
    expect(third.code).to.equal(0);
    expect(readFileSync(cache, 'utf8')).to.match(/^[0-9a-f]{202}\n$/).and.not.equal(`${'ab'.repeat(101)}\n`);
  });

  it('a key not in the list is refused', async () => {
    const r = await runConnect(['--proxy', `socks5://127.0.0.1:${proxyPort}`, '--binauth-key', strangerKey, '127.0.0.1', String(echoPort)], 'let me in');
    expect(r.code).to.not.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/key not authorized/);
  });

  describe('--binauth-server-id', () => {
    const REFUSED = 'sockskit-connect: binauth: proxy answered authentication failed (status 0x01)\n';
    const via = (port: number, extra: string[]) => ['--proxy', `socks5://127.0.0.1:${port}`, '--binauth-key', clientKey, ...extra, '127.0.0.1', String(echoPort)];

    it('the same id on proxy and client: data tunnels', async () => {
      const r = await runConnect(via(proxyAPort, ['--binauth-server-id', 'proxy-a']), 'hello proxy-a\n');
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal('hello proxy-a\n');
      expect(r.code).to.equal(0);
    });

    it('a client prefixing another server\'s id is refused (cross-server case): status 01 on stderr', async () => {
      // The client means "proxy-b"; proxy-a strips only its own id, so its signature check fails.
      const r = await runConnect(via(proxyAPort, ['--binauth-server-id', 'proxy-b']), 'let me in');
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.equal(REFUSED);
      expect(r.code).to.equal(1);
      // A proxy with no id (the default '') strips nothing: a prefixed signature fails there too.
      const none = await runConnect(via(proxyPort, ['--binauth-server-id', 'proxy-a']), 'let me in');
      expect(none.stdout).to.equal('');
      expect(none.stderr).to.equal(REFUSED);
      expect(none.code).to.equal(1);
    });

    it('a client without an id is still accepted by a proxy with one (upstream behaviour)', async () => {
      const r = await runConnect(via(proxyAPort, []), 'unprefixed');
      expect(r.stderr).to.equal('');
      expect(r.stdout).to.equal('unprefixed');
      expect(r.code).to.equal(0);
    });

    it('needs --binauth-key on both programs; both --help texts name it', async () => {
      const c = await runConnect(['--binauth-server-id', 'proxy-a', '127.0.0.1', String(echoPort)], '');
      expect(c.code).to.equal(2);
      expect(c.stderr).to.equal("sockskit-connect: --binauth-server-id needs --binauth-key\nTry 'sockskit-connect --help'.\n");
      const p = await runScript(PROXY, ['--listen', '127.0.0.1:0', '--binauth-server-id', 'proxy-a']);
      expect(p.code).to.equal(2); // a usage error, like sockskit-connect's
      expect(p.stderr).to.equal("sockskit-proxy: --binauth-server-id needs --binauth-key and --authorized-keys\nTry 'sockskit-proxy --help'.\n");
      expect((await runConnect(['--help'], '')).stdout).to.match(/--binauth-server-id ID/);
      expect((await runScript(PROXY, ['--help'])).stdout).to.match(/--binauth-server-id ID/);
    });
  });

  it('a client offering only no-auth (raw 05 01 00) gets exactly 05 ff and a close', async () => {
    const r = await rawExchange(proxyPort, Buffer.from([0x05, 0x01, 0x00]));
    expect(r.data.toString('hex')).to.equal('05ff');
    expect(r.closed).to.equal(true);
  });

  it('curl --socks5 (which does not offer 0x80) is refused', async function () {
    const curl = requireProgram(this, 'curl');
    const r = await runProgram(curl, ['-sS', '--max-time', '5', '--socks5', `127.0.0.1:${proxyPort}`, `http://127.0.0.1:${echoPort}/`], { timeout: 10_000 });
    // curl >= 7.73 exits 97 (CURLE_PROXY), older ones 7; the message is stable.
    expect(r.code).to.be.oneOf([97, 7]);
    expect(r.stderr).to.match(/No authentication method was acceptable/);
  });
});
