/**
 * connect() and udpAssociate() when the proxy resets or ends the control
 * connection while the client resolves a name: they reject, nothing is
 * thrown into the process, nothing stays open.
 */
import net from 'node:net';
import { expect } from 'chai';
import { connect } from '../../lib/client/connect.js';
import { udpAssociate } from '../../lib/client/udp.js';
import { hex, waitFor } from '../support/helpers.js';
import { rogue, Rogue } from '../support/rogue.js';
import { LOCAL, noCrash, cleanup, handles, rogues } from '../support/harness.js';

/** A rogue proxy on 127.0.0.1 that cleanup() closes. */
async function rogueProxy(script: Parameters<typeof rogue>[0]): Promise<Rogue> {
  const r = await rogue(script);
  rogues.push(r);
  return r;
}

describe('client connect() when the proxy resets', () => {
  afterEach(cleanup);

  it('a reset during the local lookup (socks5://) rejects connect(), no uncaught error', async () => {
    let resets = 0;
    const proxy = await rogueProxy((s) => {
      setTimeout(() => {
        resets++;
        s.resetAndDestroy();
      }, 50);
    });
    const seen = await noCrash(async () => {
      const lookup = (host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => {
        if (host === LOCAL) return cb(null, LOCAL, 4);
        // The destination name: answer only after the proxy has reset us.
        void waitFor(() => resets > 0, 3000).then(() => setTimeout(() => cb(null, LOCAL, 4), 100));
      };
      const err = await connect({
        proxy: `socks5://${LOCAL}:${proxy.port}`,
        destination: { host: 'example.test', port: 80 },
        lookup,
        handshakeTimeout: 3000,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, 'connect() must reject').to.be.instanceOf(Error);
    });
    expect(seen.map(String)).to.deep.equal([]);
  });
});

describe('udpAssociate() when the proxy resets', () => {
  afterEach(cleanup);

  /** Answers the greeting and UDP ASSOCIATE with `reply`; reset() or end() then ends the connection. */
  async function associateProxy(reply: Buffer): Promise<{ port: number; reset: () => void; end: () => void }> {
    let sock: net.Socket | undefined;
    const proxy = await rogueProxy(async (s, read) => {
      sock = s;
      await read(3);
      s.write(hex('05 00'));
      await read(10);
      s.write(reply);
    });
    return { port: proxy.port, reset: () => sock?.resetAndDestroy(), end: () => sock?.end() };
  }

  // BND is a name (relay.test), so udpAssociate() resolves it, then binds its
  // datagram socket; the proxy resets (or ends) the control connection meanwhile.
  for (const how of ['resets', 'ends'] as const) {
    it(`the proxy ${how} the control connection while udpAssociate() resolves the relay and binds: rejects, no uncaught error, nothing left open`, async () => {
      const proxy = await associateProxy(Buffer.concat([hex('05 00 00 03 0a'), Buffer.from('relay.test'), hex('00 35')]));
      const before = handles();
      let r: unknown;
      const seen = await noCrash(async () => {
        const lookup = (host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: string, f: number) => void) => {
          if (host === LOCAL) return cb(null, LOCAL, 4);
          if (how === 'resets') proxy.reset();
          else proxy.end();
          setTimeout(() => cb(null, LOCAL, 4), 200);
        };
        r = await udpAssociate({ proxy: `socks5://${LOCAL}:${proxy.port}`, lookup, handshakeTimeout: 3000 }).then(
          (u) => {
            u.close();
            return u;
          },
          (e: unknown) => e,
        );
      });
      expect(seen.map(String), 'uncaught errors').to.deep.equal([]);
      expect(r, 'udpAssociate() must reject').to.be.instanceOf(Error);
      await waitFor(() => handles() <= before, 3000, `handles back to ${before} (have ${handles()})`);
    });
  }
});
