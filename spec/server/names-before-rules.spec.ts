/**
 * Names before rules: a name is looked up only when a rule that needs its
 * address could change the verdict; a name rule earlier or later decides on
 * the name alone when it can. Run with the shipped example configuration,
 * whose first rule mixes a CIDR and a name.
 */
import { expect } from 'chai';
import path from 'node:path';
import { evaluateBeforeLookup, parseRules, type ConnectionRecord, type LookupFunction } from '../../lib/index.js';
import { buildProxyConfig } from '../../lib/service/proxy.js';
import { hex } from '../support/helpers.js';
import { ROOT } from '../support/paths.js';
import { talk, waitFor } from '../support/server.js';
import { startSocksServer } from '../support/socks-server.js';

const EXAMPLE = path.join(ROOT, 'examples', 'sockskit-proxy.yaml');
const port16 = (p: number) => Buffer.from([p >> 8, p & 255]);
const ask = (name: string, port: number) => Buffer.concat([hex('05 01 00 05 01 00 03'), Buffer.from([name.length]), Buffer.from(name), port16(port)]);

describe('names before rules', () => {
  it('the shipped example: a .internal name is blocked by its name rule (reply 4, error=ruleset) without a lookup', async () => {
    const cfg = buildProxyConfig(['--config', EXAMPLE, '--listen', '127.0.0.1:0'], {}, () => {});
    const lookups: string[] = [];
    const lookup = ((h: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a?: string, f?: number) => void) => {
      lookups.push(h);
      cb(Object.assign(new Error(`ENOTFOUND ${h}`), { code: 'ENOTFOUND' }));
    }) as unknown as LookupFunction;
    const s = await startSocksServer({ ...cfg.options, lookup });
    const recs: ConnectionRecord[] = [];
    s.server.on('connectionEnd', (r) => recs.push(r));
    try {
      const reply = await talk(s.port, ask('db.corp.internal', 443));
      expect(reply.subarray(2, 4)).to.deep.equal(hex('05 04'));
      await waitFor(() => recs.length === 1, 3000, 'the record');
      expect(recs[0]).to.deep.include({ error: 'ruleset', rule: '1', reply: 4 });
      // The metadata name in rule 0 is blocked on its name as well.
      await talk(s.port, ask('metadata.google.internal', 80));
      await waitFor(() => recs.length === 2, 3000, 'the record');
      expect(recs[1]).to.deep.include({ error: 'ruleset', rule: '0', reply: 2 });
      expect(lookups).to.deep.equal([]);
      // A name the rules cannot decide without its address is looked up (port 443 passes only if rule 0's CIDR does not match).
      await talk(s.port, ask('example.test', 443));
      await waitFor(() => recs.length === 3, 3000, 'the record');
      expect(lookups).to.deep.equal(['example.test']);
      // A port no rule passes is blocked by the final rule whatever the address: no lookup.
      await talk(s.port, ask('example.test', 22));
      await waitFor(() => recs.length === 4, 3000, 'the record');
      expect(recs[3]).to.deep.include({ error: 'ruleset', rule: '5', reply: 2 });
      expect(lookups).to.deep.equal(['example.test']);
    } finally {
      await s.close();
    }
  });

  it('evaluateBeforeLookup: earlier CIDR rules that can only block do not force a lookup; one that could pass does', () => {
    const rules = parseRules([
      { action: 'block', to: ['10.0.0.0/8', 'meta.test'] },
      { action: 'block', to: '.internal', reply: 4 },
      { action: 'pass', to: '192.168.0.0/16' },
      { action: 'block', to: '.corp' },
      { action: 'pass' },
    ]);
    const base = { client: '127.0.0.1', command: 'connect' as const, hostType: 'domain' as const, port: 80 };
    expect(evaluateBeforeLookup(rules, { ...base, host: 'a.internal' })).to.deep.equal({ action: 'block', reply: 4, index: 1 });
    // A pass by CIDR (rule 2) could come first: the address is needed.
    expect(evaluateBeforeLookup(rules, { ...base, host: 'b.corp' })).to.equal(undefined);
    expect(evaluateBeforeLookup(rules, { ...base, host: 'example.test' })).to.equal(undefined);
  });
});
