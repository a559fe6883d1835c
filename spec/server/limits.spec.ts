/**
 * Descriptor arithmetic (finding 15): the default connection limit from
 * RLIMIT_NOFILE, and the start-up check. The programs under a small limit
 * are in spec/programs/descriptor-limits.spec.ts.
 */
import { expect } from 'chai';
import { connectionLimit, descriptorLimit, checkDescriptorLimit, DESCRIPTOR_HEADROOM, MAX_CONNECTIONS_CAP } from '../../lib/server/limits.js';

describe('descriptor limits (finding 15)', () => {
  it('connectionLimit: two descriptors per tunnel after those in use and a headroom, capped', () => {
    expect(connectionLimit({ soft: 20000, hard: 20000 }, 36)).to.equal(Math.floor((20000 - 36 - DESCRIPTOR_HEADROOM) / 2));
    expect(connectionLimit({ soft: 1024, hard: 4096 }, 20)).to.equal(470);
    expect(connectionLimit({ soft: 1 << 20, hard: 1 << 20 }, 20)).to.equal(MAX_CONNECTIONS_CAP);
    expect(connectionLimit({ soft: 64, hard: 64 }, 40)).to.equal(1);
  });

  it('checkDescriptorLimit reports the limits Node left and spawns nothing: a warning only for a soft limit below the hard one', () => {
    expect(checkDescriptorLimit({ soft: 20000, hard: 20000 })).to.deep.equal({ soft: 20000, hard: 20000, before: 20000 });
    expect(checkDescriptorLimit({ soft: 1024, hard: 4096 })!.error).to.match(/below the hard one/);
    // This process: Node raised the soft limit to the hard one as it started.
    const lim = descriptorLimit();
    if (lim) expect(lim.soft).to.equal(lim.hard);
  });
});
