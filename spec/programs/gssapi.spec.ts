/**
 * GSS-API (RFC 1961, shared-key test mechanism) end to end on 127.0.0.1:
 * SocksServer ⇄ lib/client/connect.ts connect(), curl and a raw socket against a
 * GSS-API-only server, and a packet capture (tshark) proving the payload never
 * crosses the wire in clear (with the no-auth control that finds it).
 */
import { capture } from '../support/capture.js';
import { expect } from 'chai';
import net from 'node:net';
import type { SocksServerOptions } from '../../lib/server/server.js';
import { connect } from '../../lib/client/connect.js';
import { AuthError } from '../../lib/protocol/errors.js';
import { none } from '../../methods/none.js';
import { gssapiPsk, GssEncapsulation } from '../../methods/gssapi/index.js';
import type { AuthMethod } from '../../lib/protocol/method.js';
import { echoServer, requireProgram, tempDir, freePort, spawnDaemon, stopAll, runProgram, RunResult } from '../support/interop.js';
import { hex, readN } from '../support/helpers.js';
import { PROGRAM } from '../support/paths.js';
import { startSocksServer, type StartedServer } from '../support/socks-server.js';

const KEY = Buffer.from('5f1e0a7c3b2d49e8a6c4b1f0d9e8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0', 'hex');

function startServer(opts: SocksServerOptions): Promise<StartedServer> {
  return startSocksServer({ handshakeTimeout: 5000, ...opts });
}

async function tunnelEcho(proxyPort: number, echoPort: number, methods: AuthMethod[], payload: Buffer): Promise<{ echoed: Buffer; encapsulated: boolean }> {
  const res = await connect({ proxy: { host: '127.0.0.1', port: proxyPort }, destination: { host: '127.0.0.1', port: echoPort }, methods, handshakeTimeout: 5000 });
  try {
    res.socket.write(payload);
    const echoed = await readN(res.socket, payload.length, res.head, 5000);
    return { echoed, encapsulated: res.encapsulation instanceof GssEncapsulation };
  } finally {
    res.socket.destroy();
  }
}

describe('GSS-API end to end (SocksServer ⇄ connect)', function () {
  this.timeout(20000);
  let echo: Awaited<ReturnType<typeof echoServer>>;
  before(async () => { echo = await echoServer(); });
  after(async () => { await echo.close(); });

  for (const protection of ['confidentiality', 'integrity', 'selective'] as const) {
    it(`tunnels data both ways with ${protection} (large payload, split into frames)`, async () => {
      const srv = await startServer({ methods: [gssapiPsk({ key: KEY, protection })] });
      try {
        const payload = Buffer.alloc(300_000);
        for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
        const r = await tunnelEcho(srv.port, echo.port, [gssapiPsk({ key: KEY, protection })], payload);
        expect(r.encapsulated).to.equal(true);
        expect(r.echoed.equals(payload)).to.equal(true);
      } finally {
        await srv.close();
      }
    });
  }

  it('the request hook sees the principal as identity', async () => {
    let identity: unknown;
    const srv = await startServer({ methods: [gssapiPsk({ key: KEY })], onRequest: (ctx) => { identity = ctx.request.identity; } });
    try {
      await tunnelEcho(srv.port, echo.port, [gssapiPsk({ key: KEY, name: 'alice@TEST' })], Buffer.from('x'));
      expect(identity).to.equal('alice@TEST');
    } finally {
      await srv.close();
    }
  });

  it('a wrong key fails with an AuthError and nothing is relayed', async () => {
    const before = echo.connections;
    const srv = await startServer({ methods: [gssapiPsk({ key: KEY })] });
    try {
      const err = await connect({ proxy: { host: '127.0.0.1', port: srv.port }, destination: { host: '127.0.0.1', port: echo.port }, methods: [gssapiPsk({ key: Buffer.alloc(32, 1) })], handshakeTimeout: 5000 }).then(() => undefined, (e) => e);
      expect(err).to.be.instanceOf(AuthError);
      expect(echo.connections).to.equal(before);
    } finally {
      await srv.close();
    }
  });

  it('a raw socket offering only 00 gets exactly 05 FF, then the close', async () => {
    const srv = await startServer({ methods: [gssapiPsk({ key: KEY })] });
    try {
      const s = net.connect(srv.port, '127.0.0.1');
      s.write(hex('05 01 00'));
      const got = await readN(s, 100, undefined, 5000); // resolves at end
      s.destroy();
      expect(got).to.deep.equal(hex('05 ff'));
    } finally {
      await srv.close();
    }
  });

  it('curl without GSS-API (--socks5-basic: greeting 05 01 00) is refused with 05 FF', async function () {
    const curl = requireProgram(this, 'curl');
    const before = echo.connections;
    const srv = await startServer({ methods: [gssapiPsk({ key: KEY })] });
    try {
      const r = await run(curl, ['-sS', '--max-time', '5', '--socks5-basic', '--socks5', `127.0.0.1:${srv.port}`, `http://127.0.0.1:${echo.port}/`]);
      expect(r.code, r.stderr).to.equal(97); // CURLE_PROXY
      expect(r.stderr).to.match(/No authentication method was acceptable/);
      expect(echo.connections).to.equal(before);
    } finally {
      await srv.close();
    }
  });

  it('curl offering 01 without a usable GSS-API (its default greeting 05 02 00 01) gets nowhere', async function () {
    // Debian's curl offers 01 but cannot do GSS-API per-message protection; whatever
    // it does next, no tunnel may open.
    const curl = requireProgram(this, 'curl');
    const before = echo.connections;
    const srv = await startServer({ methods: [gssapiPsk({ key: KEY })] });
    try {
      const r = await run(curl, ['-sS', '--max-time', '5', '--socks5', `127.0.0.1:${srv.port}`, `http://127.0.0.1:${echo.port}/`]);
      expect(r.code, r.stderr).to.not.equal(0);
      expect(echo.connections).to.equal(before);
    } finally {
      await srv.close();
    }
  });
});

function run(cmd: string, args: string[]): Promise<RunResult> {
  return runProgram(cmd, args, { timeout: 10000 });
}

describe('GSS-API on the wire (tshark capture)', function () {
  this.timeout(40000);
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let tshark: string;
  before(async function () {
    tshark = requireProgram(this, 'tshark');
    echo = await echoServer();
  });
  after(async () => { await echo?.close(); });

  const PAYLOAD = Buffer.from('sockskit-DISTINCTIVE-payload-7f3a9c21e5d4b8a6-the-secret-plans');

  it('control: on a no-auth server the capture contains the payload', async () => {
    const srv = await startServer({ methods: [none()] });
    try {
      const pcap = await capture(tshark, srv.port, async () => {
        const r = await tunnelEcho(srv.port, echo.port, [none()], PAYLOAD);
        expect(r.echoed).to.deep.equal(PAYLOAD);
      });
      expect(pcap.includes(PAYLOAD), 'payload found in clear').to.equal(true);
    } finally {
      await srv.close();
    }
  });

  it('with default protection (confidentiality) the capture never contains the payload', async () => {
    const srv = await startServer({ methods: [gssapiPsk({ key: KEY })] });
    try {
      const pcap = await capture(tshark, srv.port, async () => {
        const r = await tunnelEcho(srv.port, echo.port, [gssapiPsk({ key: KEY })], PAYLOAD);
        expect(r.echoed).to.deep.equal(PAYLOAD);
      });
      // The capture did record the conversation (the RFC 1961 frames), just not the payload.
      expect(pcap.includes(Buffer.from('SKP1')), 'handshake captured').to.equal(true);
      expect(pcap.includes(PAYLOAD), 'payload in clear').to.equal(false);
      expect(pcap.includes(PAYLOAD.subarray(8, 28)), 'part of the payload in clear').to.equal(false);
    } finally {
      await srv.close();
    }
  });
});

/** Runs a program with `input` on stdin; bounded. */
async function runWithInput(cmd: string, args: string[], input: Buffer, timeout = 10000): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const r = await runProgram(cmd, args, { input, timeout });
  return { code: r.code, stdout: r.stdoutBytes, stderr: r.stderr };
}

describe('sockskit-proxy / sockskit-connect --gssapi-psk', function () {
  this.timeout(40000);
  const proxyJs = PROGRAM.proxy;
  const connectJs = PROGRAM.connect;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let tmp: ReturnType<typeof tempDir>;
  let keyFile: string;
  let port: number;

  before(async () => {
    echo = await echoServer();
    tmp = tempDir('sockskit-gss-');
    keyFile = tmp.write('proxy.key', `${KEY.toString('hex')}\n`);
    port = await freePort();
    await spawnDaemon(process.execPath, [proxyJs, '--listen', `127.0.0.1:${port}`, '--gssapi-psk', keyFile], { readyPort: port });
  });
  after(async () => {
    await stopAll();
    await echo?.close();
    tmp?.cleanup();
  });

  const connectArgs = (key: string) => [connectJs, '--proxy', `socks5h://127.0.0.1:${port}`, '--gssapi-psk', key, '127.0.0.1', String(echo.port)];

  it('tunnels stdin to the destination and back', async () => {
    const payload = Buffer.alloc(100_000, 0x5a);
    const r = await runWithInput(process.execPath, connectArgs(keyFile), payload);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.equals(payload)).to.equal(true);
  });

  it('a wrong key fails (exit code, message), nothing is relayed', async () => {
    const before = echo.connections;
    const wrong = tmp.write('wrong.key', Buffer.alloc(32, 0x42).toString('hex'));
    const r = await runWithInput(process.execPath, connectArgs(wrong), Buffer.from('x'));
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/does not hold the same key/);
    expect(echo.connections).to.equal(before);
  });

  it('a short key file is a usage error', async () => {
    const short = tmp.write('short.key', '0011223344');
    const r = await runWithInput(process.execPath, connectArgs(short), Buffer.alloc(0));
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/at least 32 bytes/);
  });

  it('GSS-API is the only method offered: 05 01 00 gets exactly 05 FF, curl --socks5-basic is refused', async function () {
    const s = net.connect(port, '127.0.0.1');
    s.write(hex('05 01 00'));
    const got = await readN(s, 100, undefined, 5000);
    s.destroy();
    expect(got).to.deep.equal(hex('05 ff'));
    const curl = requireProgram(this, 'curl');
    const r = await run(curl, ['-sS', '--max-time', '5', '--socks5-basic', '--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${echo.port}/`]);
    expect(r.code).to.equal(97);
    expect(r.stderr).to.match(/No authentication method was acceptable/);
  });

  it('the capture of a program transfer does not contain the payload', async function () {
    const tshark = requireProgram(this, 'tshark');
    const payload = Buffer.from('program-level-DISTINCTIVE-9d41c7e2a0b35f68-payload');
    const pcap = await capture(tshark, port, async () => {
      const r = await runWithInput(process.execPath, connectArgs(keyFile), payload);
      expect(r.stdout).to.deep.equal(payload);
    });
    expect(pcap.includes(Buffer.from('SKP1'))).to.equal(true);
    expect(pcap.includes(payload)).to.equal(false);
  });
});
