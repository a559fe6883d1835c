/**
 * Every byte arrives intact through the native splice relay (sha256 both
 * ways, every writer and reader pace, either side ending first): tunnels
 * handed over at once, and handed over mid-stream after 100 000 bytes of
 * JavaScript relaying. Skips visibly where the addon is not built (fails
 * under SOCKSKIT_INTEROP_REQUIRED=1).
 */
import { expect } from 'chai';
import { cleanup, READ_PATHS, integrityAcrossPaths } from '../support/relay.js';
import { requireSplice, spliceMissing } from '../support/relay-paths.js';
import { splicesStarted } from '../../lib/transport/spliced.js';

describe('relay: content integrity through the splice relay', function () {
  this.timeout(60000);
  afterEach(cleanup);
  for (const spliceAfter of [0, 100_000]) {
    describe(`handed over after ${spliceAfter} bytes`, () => {
      let before0 = 0;
      before(function () {
        requireSplice(this);
        before0 = splicesStarted();
      });
      after(() => {
        if (!spliceMissing()) expect(splicesStarted() - before0, 'tunnels handed over').to.equal(8);
      });
      integrityAcrossPaths(READ_PATHS.slice(0, 1), { splice: 'on', spliceAfter });
    });
  }
});
