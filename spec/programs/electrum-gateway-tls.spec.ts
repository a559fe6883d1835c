/**
 * sockskit-electrum-gateway --backend-tls on 127.0.0.1: a TLS stand-in
 * Electrum backend with a certificate from a throwaway CA made by the
 * `openssl` CLI (skipped visibly without it; a failure under
 * SOCKSKIT_INTEROP_REQUIRED=1). Checks that an untrusted certificate closes
 * the client cleanly (the gateway keeps running and says why under DEBUG),
 * that --backend-tls-insecure and --backend-ca FILE get the answer through,
 * that the certificate's name is still checked with a CA, and SNI: none for
 * an IP backend (and no Node warning), the name for a hostname backend.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { requireProgram } from '../support/interop.js';
import { makeCerts } from '../support/certs.js';
import { hex, toHex } from '../support/helpers.js';
import { DIST, startStandIn, StandIn, exchange, run, Proc, paddedVersionRequest, tokenBytes } from '../support/electrum.js';

const GATEWAY = path.join(DIST, 'examples', 'electrum-gateway.js');
const CONNECTOR = path.join(DIST, 'examples', 'electrum-connect.js');
const OK14 = hex('05 02 01 00 05 00 00 01 00 00 00 00 00 00');
const TOK = 'tlstoken0123456789abcdefg';
const ANSWER = '["stand-in 1.0","1.4"]\n';
/** Node's warning for an IP address as TLS servername (RFC 6066 forbids it). */
const IP_SNI_WARNING = /DEP0123|ServerName to an IP address/;

function rawSequence(token: string): Buffer {
  return Buffer.concat([hex('05 01 02 01 00'), tokenBytes(token), hex('05 01 00 01 00 00 00 00 00 00')]);
}

describe('electrum interop: sockskit-electrum-gateway --backend-tls (TLS stand-in backend)', function () {
  this.timeout(20000);
  let dir: string | undefined;
  let ca: string;
  let backend: StandIn | undefined;
  let wrongName: StandIn | undefined;
  const procs: Proc[] = [];
  const node = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const p = run(process.execPath, [script, ...args], env);
    procs.push(p);
    return p;
  };
  /** Starts the gateway in front of `backendAddr`; resolves with it and its port. */
  const gateway = async (backendAddr: string, extra: string[]) => {
    const gw = node(GATEWAY, ['--listen', '127.0.0.1:0', '--backend', backendAddr, '--backend-tls', '--auth-token', TOK, ...extra], { DEBUG: 'sockskit:*' });
    const port = Number((await gw.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    return { gw, port };
  };
  const call = async (port: number) => {
    const p = node(CONNECTOR, ['--server', `127.0.0.1:${port}`, '--token', TOK, 'call', 'server.version', 'cli', '1.4']);
    const code = await p.exited(10_000);
    return { code, stdout: p.stdout(), stderr: p.stderr() };
  };

  before(async function () {
    requireProgram(this, 'openssl');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockskit-electrum-tls-'));
    const certs = makeCerts(dir);
    ca = certs.ca;
    backend = await startStandIn({ tls: certs.leaf });
    wrongName = await startStandIn({ tls: certs.otherName });
  });
  after(async () => {
    for (const p of procs) p.kill();
    await backend?.close();
    await wrongName?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('untrusted certificate (no --backend-tls-insecure, no CA): the client is closed, the gateway keeps running and says why', async () => {
    const { gw, port } = await gateway(`127.0.0.1:${backend!.port}`, ['--http', '127.0.0.1:0']);
    const httpPort = Number((await gw.waitFor(/http status on 127\.0\.0\.1:(\d+)/))[1]);
    const lines = backend!.received.length;
    const tlsErrors = backend!.tlsErrors;
    // The SOCKS exchange succeeds (the backend is dialled after it), then the tunnel closes.
    const r = await exchange(port, [Buffer.concat([rawSequence(TOK), paddedVersionRequest()])], { timeout: 5000 });
    expect(r.closed).to.equal(true);
    expect(toHex(r.data)).to.equal(toHex(OK14));
    const why = new RegExp(`sockskit:electrum-gateway backend 127\\.0\\.0\\.1:${backend!.port}: unable to verify the first certificate \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)`);
    await gw.waitFor(why);
    // sockskit-electrum call: exit 1, one line, no answer.
    const c = await call(port);
    expect(c.code).to.equal(1);
    expect(c.stdout).to.equal('');
    expect(c.stderr.split('\n')).to.have.length(2);
    expect(c.stderr).to.match(/^sockskit-electrum: /);
    // Nothing reached the backend's JSON-RPC layer; its side saw failed handshakes.
    expect(backend!.received.length).to.equal(lines);
    expect(backend!.tlsErrors).to.be.above(tlsErrors);
    // Still running, and counting.
    expect(gw.child.exitCode).to.equal(null);
    const status = await fetch(`http://127.0.0.1:${httpPort}/`, { headers: { Authorization: `Basic ${Buffer.from(`:${TOK}`).toString('base64')}` }, signal: AbortSignal.timeout(5000) });
    const body = (await status.json()) as { backendErrors: number; connections: { open: number; total: number } };
    expect(body.backendErrors).to.equal(2);
    expect(body.connections.total).to.equal(2);
    expect(body.connections.open).to.equal(0);
    expect(gw.stderr()).to.not.match(IP_SNI_WARNING);
  });

  it('--backend-timeout: a backend that accepts TCP but never finishes TLS does not hold the client', async () => {
    const silent = net.createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const sp = (silent.address() as net.AddressInfo).port;
      const { gw, port } = await gateway(`127.0.0.1:${sp}`, ['--backend-timeout', '300']);
      const started = Date.now();
      const r = await exchange(port, [Buffer.concat([rawSequence(TOK), paddedVersionRequest()])], { timeout: 5000 });
      expect(r.closed).to.equal(true);
      expect(toHex(r.data)).to.equal(toHex(OK14));
      expect(Date.now() - started).to.be.below(4000);
      await gw.waitFor(new RegExp(`backend 127\\.0\\.0\\.1:${sp}: no connection within 300 ms`));
      expect(gw.child.exitCode).to.equal(null);
    } finally {
      silent.close();
    }
  });

  it('--backend-tls-insecure: server.version through the gateway gets the stand-in answer; no SNI for an IP backend, no Node warning', async () => {
    const { gw, port } = await gateway(`127.0.0.1:${backend!.port}`, ['--backend-tls-insecure']);
    const c = await call(port);
    expect(c.stderr).to.equal('');
    expect(c.stdout).to.equal(ANSWER);
    expect(c.code).to.equal(0);
    expect(backend!.servernames.at(-1)).to.equal(false);
    expect(gw.stderr()).to.not.match(IP_SNI_WARNING);
    expect(gw.stderr()).to.not.match(/electrum-gateway backend /);
  });

  it('--backend-ca CA.pem (no --backend-tls-insecure): verified against the CA, the answer comes back', async () => {
    const { gw, port } = await gateway(`127.0.0.1:${backend!.port}`, ['--backend-ca', ca]);
    const c = await call(port);
    expect(c.stderr).to.equal('');
    expect(c.stdout).to.equal(ANSWER);
    expect(c.code).to.equal(0);
    expect(backend!.servernames.at(-1)).to.equal(false);
    expect(gw.stderr()).to.not.match(IP_SNI_WARNING);
    expect(gw.stderr()).to.not.match(/electrum-gateway backend /);
  });

  it('--backend-ca with a hostname backend (localhost): SNI is the name, the DNS name is verified', async () => {
    const { gw, port } = await gateway(`localhost:${backend!.port}`, ['--backend-ca', ca]);
    const c = await call(port);
    expect(c.stderr).to.equal('');
    expect(c.stdout).to.equal(ANSWER);
    expect(backend!.servernames.at(-1)).to.equal('localhost');
    expect(gw.stderr()).to.not.match(/electrum-gateway backend /);
  });

  it('--backend-ca still checks the name: a CA-signed certificate for another name is refused', async () => {
    const { gw, port } = await gateway(`127.0.0.1:${wrongName!.port}`, ['--backend-ca', ca]);
    const c = await call(port);
    expect(c.code).to.equal(1);
    expect(c.stdout).to.equal('');
    await gw.waitFor(/backend 127\.0\.0\.1:\d+: Hostname\/IP does not match certificate's altnames: .* \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    expect(wrongName!.received).to.deep.equal([]);
    expect(gw.child.exitCode).to.equal(null);
  });

  it('--backend-ca flag errors: needs --backend-tls, not with --backend-tls-insecure, a missing file, a file without a certificate', async () => {
    const notPem = path.join(dir!, 'not.pem');
    writeFileSync(notPem, 'hello\n');
    const base = ['--listen', '127.0.0.1:0', '--backend', '127.0.0.1:1', '--auth-token', TOK];
    for (const [args, code, re] of [
      [[...base, '--backend-ca', ca], 2, /--backend-ca needs --backend-tls/],
      [[...base, '--backend-tls', '--backend-tls-insecure', '--backend-ca', ca], 2, /--backend-ca and --backend-tls-insecure exclude each other/],
      [[...base, '--backend-tls', '--backend-ca', path.join(dir!, 'missing.pem')], 1, /cannot read --backend-ca file .*missing\.pem: ENOENT/],
      [[...base, '--backend-tls', '--backend-ca', notPem], 1, /--backend-ca file .*not\.pem: no PEM certificate in it/],
    ] as [string[], number, RegExp][]) {
      const p = node(GATEWAY, args);
      expect(await p.exited(), args.join(' ')).to.equal(code);
      expect(p.stderr(), args.join(' ')).to.match(re);
      expect(p.stderr().split('\n')[0], args.join(' ')).to.match(/^sockskit-electrum-gateway: /);
    }
    const h = node(GATEWAY, ['--help']);
    expect(await h.exited()).to.equal(0);
    expect(h.stdout()).to.match(/--backend-ca FILE/);
  });
});
