/** RFC 1928 §7 fragment reassembly, sans-I/O with an explicit clock. */
import { expect } from 'chai';
import { UdpReassembler, ReassemblyResult } from '../../lib/protocol/udp-reassembly.js';
import type { SocksAddress } from '../../lib/protocol/codec/address.js';

const A: SocksAddress = { type: 'ipv4', host: '127.0.0.1', port: 9 };
const B: SocksAddress = { type: 'ipv4', host: '127.0.0.1', port: 10 };
const b = (s: string) => Buffer.from(s);

function complete(r: ReassemblyResult): string {
  expect(r.type).to.equal('complete');
  return (r as { data: Buffer }).data.toString();
}

describe('UdpReassembler (RFC 1928 §7)', () => {
  it('passes FRAG 00 through untouched and holds nothing', () => {
    const r = new UdpReassembler();
    expect(complete(r.push(0x00, A, b('whole'), 0))).to.equal('whole');
    expect(r.pending).to.deep.equal({ fragments: 0, bytes: 0 });
    expect(r.deadline).to.equal(undefined);
  });

  it('reassembles in order: 01 02 83', () => {
    const r = new UdpReassembler();
    expect(r.push(0x01, A, b('ab'), 0).type).to.equal('pending');
    expect(r.push(0x02, A, b('cd'), 10).type).to.equal('pending');
    const out = r.push(0x83, A, b('ef'), 20);
    expect(complete(out)).to.equal('abcdef');
    expect(out).to.include({ fragments: 3 });
    expect((out as { address: SocksAddress }).address).to.deep.equal(A);
    expect(r.pending.fragments).to.equal(0);
  });

  it('a single-fragment sequence (81) is complete at once', () => {
    expect(complete(new UdpReassembler().push(0x81, A, b('x'), 0))).to.equal('x');
  });

  for (const order of [
    [0x83, 0x01, 0x02],
    [0x02, 0x83, 0x01],
    [0x01, 0x83, 0x02],
  ]) {
    it(`reassembles out of order: ${order.map((f) => f.toString(16).padStart(2, '0')).join(' ')}`, () => {
      const r = new UdpReassembler();
      const parts: Record<number, string> = { 1: 'ab', 2: 'cd', 3: 'ef' };
      const res = order.map((f) => r.push(f, A, b(parts[f & 0x7f]!), 0));
      expect(res.slice(0, 2).map((x) => x.type)).to.deep.equal(['pending', 'pending']);
      expect(complete(res[2]!)).to.equal('abcdef');
    });
  }

  it("strict order follows the RFC: a lower FRAG abandons the sequence", () => {
    const r = new UdpReassembler({ order: 'strict' });
    expect(r.push(0x02, A, b('cd'), 0).type).to.equal('pending');
    expect(r.push(0x01, A, b('ab'), 0).type).to.equal('pending'); // new sequence, "cd" gone
    expect(r.abandoned).to.equal(1);
    expect(complete(r.push(0x82, A, b('CD'), 0))).to.equal('abCD');
  });

  it('a repeated position starts a new sequence (the old one is abandoned)', () => {
    const r = new UdpReassembler();
    r.push(0x01, A, b('old'), 0);
    r.push(0x01, A, b('new'), 1);
    expect(r.abandoned).to.equal(1);
    expect(complete(r.push(0x82, A, b('!'), 2))).to.equal('new!');
  });

  it('a different destination starts a new sequence', () => {
    const r = new UdpReassembler();
    r.push(0x01, A, b('a'), 0);
    expect(r.push(0x82, B, b('b'), 0).type).to.equal('pending');
    expect(r.abandoned).to.equal(1);
  });

  it('drops an expired partial sequence at the timer (>= 5 s) and starts afresh', () => {
    const r = new UdpReassembler({ timeout: 5000 });
    r.push(0x01, A, b('ab'), 1000);
    expect(r.deadline).to.equal(6000);
    expect(r.expire(5999)).to.equal(false);
    expect(r.pending.fragments).to.equal(1);
    expect(r.expire(6000)).to.equal(true);
    expect(r.pending).to.deep.equal({ fragments: 0, bytes: 0 });
    // The end fragment arriving late cannot complete the dropped sequence.
    expect(r.push(0x82, A, b('cd'), 6001).type).to.equal('pending');
    expect(r.pending.fragments).to.equal(1);
  });

  it('a fragment after the deadline expires the old sequence by itself (no expire() call)', () => {
    const r = new UdpReassembler();
    r.push(0x01, A, b('ab'), 0);
    expect(r.push(0x82, A, b('cd'), 5000).type).to.equal('pending');
    expect(r.abandoned).to.equal(1);
  });

  it('refuses a reassembly timer below 5 s', () => {
    expect(() => new UdpReassembler({ timeout: 4999 })).to.throw(/at least 5000/);
  });

  it('bounds bytes per sequence', () => {
    const r = new UdpReassembler({ maxBytes: 5 });
    expect(r.push(0x01, A, b('abc'), 0).type).to.equal('pending');
    const res = r.push(0x02, A, b('def'), 0);
    expect(res).to.deep.include({ type: 'dropped' });
    expect(r.pending).to.deep.equal({ fragments: 0, bytes: 0 });
  });

  it('bounds fragments per sequence', () => {
    const r = new UdpReassembler({ maxFragments: 2 });
    r.push(0x01, A, b('a'), 0);
    expect(r.push(0x03, A, b('c'), 0).type).to.equal('dropped');
    expect(r.pending.fragments).to.equal(0);
  });

  it('drops FRAG 80 (no position) and fragments past the end marker', () => {
    const r = new UdpReassembler();
    expect(r.push(0x80, A, b('x'), 0).type).to.equal('dropped');
    r.push(0x82, A, b('b'), 0);
    expect(r.push(0x03, A, b('c'), 0).type).to.equal('dropped');
    expect(r.pending.fragments).to.equal(0);
  });

  it('copies fragment payloads (the receive buffer may be reused)', () => {
    const r = new UdpReassembler();
    const shared = b('ab');
    r.push(0x01, A, shared, 0);
    shared.write('zz');
    expect(complete(r.push(0x82, A, b('cd'), 0))).to.equal('abcd');
  });
});
