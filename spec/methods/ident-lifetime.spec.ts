/**
 * An ident lookup (RFC 1413) ends with the client connection: a reset or
 * server.close() closes the identd connection at once, no handle leaks.
 */
import net from 'node:net';
import { expect } from 'chai';
import { identMethod } from '../../methods/ident/index.js';
import { hex, waitFor } from '../support/helpers.js';
import { startServer, target, client, drained, noCrash, cleanup, handles } from '../support/harness.js';

describe('ident lookups end with the client connection', () => {
  afterEach(cleanup);

  for (const how of ['the client resets', 'server.close() runs'] as const) {
    it(`${how} during a lookup: the identd connection closes at once, no handle leaks`, async () => {
      const asked: net.Socket[] = [];
      let identClosed = false;
      const identd = await target((s) => {
        asked.push(s); // silent: reads the query, never answers
        s.resume();
        s.on('end', () => {
          identClosed = true;
          s.destroy();
        });
        s.on('close', () => (identClosed = true));
      });
      const before = handles();
      const { server, port } = await startServer({ methods: [identMethod({ port: identd.port, timeout: 15000 })] });
      const seen = await noCrash(async () => {
        const c = await client(port);
        c.write(hex('05 01 00'));
        await waitFor(() => asked.length === 1, 3000, 'the ident lookup to connect');
        const t0 = Date.now();
        if (how === 'the client resets') c.socket.resetAndDestroy();
        else server.close();
        await waitFor(() => identClosed, 2000, 'the identd connection to close');
        expect(Date.now() - t0).to.be.below(2000);
        await drained(server);
        if (how === 'the client resets') server.close();
        c.destroy();
        await waitFor(() => handles() <= before, 3000, `handles back to ${before} (have ${handles()})`);
      });
      expect(seen.map(String)).to.deep.equal([]);
    });
  }
});
