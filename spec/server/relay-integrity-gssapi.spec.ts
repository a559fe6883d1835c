/**
 * Every byte arrives intact through the relay (sha256 both ways) whatever the
 * pace of writers and readers, with half-close, through each read path
 * (reused buffers written without a copy, copies, the 'data' fallback for
 * accepted sockets) and through GSS-API encapsulation. Its own file so that
 * the parallel unit run spreads it.
 */
import { cleanup, integrityThroughGssapi } from '../support/relay.js';

describe('relay: content integrity through GSS-API', function () {
  this.timeout(60000);
  afterEach(cleanup);
  integrityThroughGssapi();
});
