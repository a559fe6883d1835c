/** sockskit-connect's argument parser, by import (moved from spec/client: it is the program's, not the client's). */
import { expect } from 'chai';
import { ReplyError } from '../../lib/protocol/errors.js';
import { parseConnectArgs, describeConnectError } from '../../lib/service/index.js';

describe("sockskit-connect arguments (lib/service/connect-options)", () => {
  it('HOST PORT with defaults', () => {
    const p = parseConnectArgs(['example.org', '443']);
    expect(p.kind).to.equal('run');
    if (p.kind !== 'run') return;
    expect(p.options).to.deep.include({ host: 'example.org', port: 443, proxies: ['socks5h://127.0.0.1:1080'], timeout: 10000, listen: undefined });
    expect(p.options.methods.map((m) => m.name)).to.deep.equal(['none']);
  });
  it('repeated --proxy keeps the order; -L with and without BIND; --timeout', () => {
    const p = parseConnectArgs(['--proxy', 'socks4://127.0.0.1:1', '--proxy', 'socks5h://u:p@127.0.0.1:2', '-L', '8080', '--timeout', '500', 'h', '1']);
    if (p.kind !== 'run') throw new Error('expected run');
    expect(p.options.proxies).to.deep.equal(['socks4://127.0.0.1:1', 'socks5h://u:p@127.0.0.1:2']);
    expect(p.options.listen).to.deep.equal({ host: '127.0.0.1', port: 8080 });
    expect(p.options.timeout).to.equal(500);
    const q = parseConnectArgs(['-L', '[::1]:9000', 'h', '1']);
    if (q.kind !== 'run') throw new Error('expected run');
    expect(q.options.listen).to.deep.equal({ host: '::1', port: 9000 });
  });
  it('help, version, and usage errors', () => {
    expect(parseConnectArgs(['--help']).kind).to.equal('help');
    expect(parseConnectArgs(['-V']).kind).to.equal('version');
    expect(() => parseConnectArgs(['onlyhost'])).to.throw(/expected HOST PORT/);
    expect(() => parseConnectArgs(['h', '99999'])).to.throw(/invalid port/);
    expect(() => parseConnectArgs(['--bogus', 'h', '1'])).to.throw(/bogus/);
    expect(() => parseConnectArgs(['--proxy', 'http://u:pw@x', 'h', '1'])).to.throw(/u:\*\*\*@/);
  });
  it('describeError: one line naming the failure', () => {
    expect(describeConnectError(new ReplyError(5), [])).to.equal('proxy refused the request: connection refused (05)');
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(describeConnectError(refused, ['socks5h://u:pw@127.0.0.1:1'])).to.equal('cannot reach proxy socks5h://u:***@127.0.0.1:1: ECONNREFUSED');
  });
});