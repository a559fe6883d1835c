/**
 * Client rules, and every rule the source address alone decides, are judged
 * at accept: a refused client is closed before any byte of the handshake is
 * answered (no method selection, no password oracle).
 */
import { expect } from 'chai';
import { encodeProxyHeaderV1, parseRules, userpass, type ConnectionRecord, type Rule } from '../../lib/index.js';
import { rulesFromSettings } from '../../lib/service/proxy.js';
import { loadSettings } from '../../lib/service/settings.js';
import { PROXY_OPTIONS } from '../../lib/service/proxy-options.js';
import { hex } from '../support/helpers.js';
import { RawClient, waitFor } from '../support/server.js';
import { startSocksServer } from '../support/socks-server.js';

const LOGIN = hex('05 01 02 01 05 616c696365 02 7077'); // alice / pw

describe('rules decided by the client address are judged at accept', () => {
  const stops: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const f of stops.splice(0).reverse()) await f();
  });

  async function serve(rules: readonly Rule[], extra = {}) {
    const s = await startSocksServer({ methods: [userpass({ users: { alice: 'pw' } })], rules, ...extra });
    stops.push(() => s.close());
    const recs: ConnectionRecord[] = [];
    s.server.on('connectionEnd', (r) => recs.push(r));
    return { ...s, recs };
  }

  /** Sends `bytes` and returns everything the server wrote before closing. */
  async function answer(port: number, bytes: Buffer): Promise<Buffer> {
    const c = await RawClient.connect(port);
    stops.push(() => c.destroy());
    c.write(bytes);
    return c.readToEnd(3000);
  }

  it('a client rule: not one byte of the method selection or the password check', async () => {
    const s = await serve(parseRules([{ action: 'block', client: '127.0.0.0/8' }, { action: 'pass' }]));
    expect(await answer(s.port, LOGIN)).to.deep.equal(Buffer.alloc(0));
    await waitFor(() => s.recs.length === 1, 3000, 'the record');
    expect(s.recs[0]).to.deep.include({ end: 'refused', error: 'ruleset', rule: '0', method: undefined });
  });

  it('a destination block before the client rule (it can only block): still at accept', async () => {
    const s = await serve(parseRules([{ action: 'block', to: '10.0.0.0/8' }, { action: 'block', client: '127.0.0.1' }, { action: 'pass' }]));
    expect(await answer(s.port, LOGIN)).to.deep.equal(Buffer.alloc(0));
    await waitFor(() => s.recs.length === 1, 3000, 'the record');
    expect(s.recs[0]).to.deep.include({ end: 'refused', error: 'ruleset', rule: '1' });
  });

  it('the flags as sockskit-proxy lays them out (--deny before --client-deny): still at accept', async () => {
    const settings = loadSettings(['--deny', '10.0.0.0/8', '--client-deny', '127.0.0.1/32', '--allow', '127.0.0.0/8'], PROXY_OPTIONS, {});
    const s = await serve(rulesFromSettings(settings) as Rule[]);
    expect(await answer(s.port, LOGIN)).to.deep.equal(Buffer.alloc(0));
    await waitFor(() => s.recs.length === 1, 3000, 'the record');
    expect(s.recs[0]).to.deep.include({ end: 'refused', error: 'ruleset', rule: 'client-deny' });
  });

  it('--client-allow that does not list the client: closed at accept', async () => {
    const settings = loadSettings(['--client-allow', '192.0.2.0/24'], PROXY_OPTIONS, {});
    const s = await serve(rulesFromSettings(settings) as Rule[]);
    expect(await answer(s.port, LOGIN)).to.deep.equal(Buffer.alloc(0));
  });

  it('every rule naming other clients: nothing can pass, closed at accept', async () => {
    const s = await serve(parseRules([{ action: 'pass', client: '192.0.2.0/24', user: 'alice' }, { action: 'pass', client: '198.51.100.0/24' }]));
    expect(await answer(s.port, LOGIN)).to.deep.equal(Buffer.alloc(0));
  });

  it('a rule that needs the request first (user, destination) keeps the handshake', async () => {
    const s = await serve(parseRules([{ action: 'pass', user: 'bob' }, { action: 'block', client: '127.0.0.0/8' }]));
    const c = await RawClient.connect(s.port);
    stops.push(() => c.destroy());
    c.write(LOGIN);
    expect(await c.read(4)).to.deep.equal(hex('05 02 01 00'));
  });

  it('behind a PROXY header: judged on the real client, before the SOCKS handshake', async () => {
    const s = await serve(parseRules([{ action: 'block', client: '203.0.113.9' }, { action: 'pass' }]), { proxyProtocol: 'v1' });
    const header = encodeProxyHeaderV1({ source: { host: '203.0.113.9', port: 5555, type: 'ipv4' }, destination: { host: '127.0.0.1', port: 1080, type: 'ipv4' } });
    expect(await answer(s.port, Buffer.concat([header, LOGIN]))).to.deep.equal(Buffer.alloc(0));
    const ok = encodeProxyHeaderV1({ source: { host: '203.0.113.10', port: 5555, type: 'ipv4' }, destination: { host: '127.0.0.1', port: 1080, type: 'ipv4' } });
    const c = await RawClient.connect(s.port);
    stops.push(() => c.destroy());
    c.write(Buffer.concat([ok, LOGIN]));
    expect(await c.read(4)).to.deep.equal(hex('05 02 01 00'));
  });
});
