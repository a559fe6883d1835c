/**
 * TCP self-connect: a CONNECT whose outbound socket ends up connected to
 * itself (local address = remote address; Linux does that when the
 * destination port is ephemeral and nothing listens, ~1 in 60 000 tries) is
 * no destination: refused with 05, the socket closed.
 */
import { expect } from 'chai';
import net from 'node:net';
import { hex, toHex } from '../support/helpers.js';
import { startServer, Conn, portHex } from '../support/udp-bind.js';
import { closedPort } from '../support/server.js';

describe('CONNECT: a self-connected outbound socket is refused (05)', function () {
  const original = net.connect;
  afterEach(() => {
    (net as { connect: unknown }).connect = original;
  });

  it('outbound socket bound to the destination port itself (a real self-connect): 05, not success', async () => {
    const port = await closedPort();
    const s = await startServer();
    try {
      const c = await Conn.open(s.port);
      const made: net.Socket[] = [];
      // Make the rare case certain: bind the outbound socket to the destination's own address and port.
      (net as { connect: unknown }).connect = (opts: net.NetConnectOpts) => {
        const s = original({ ...(opts as net.TcpNetConnectOpts), localAddress: '127.0.0.1', localPort: (opts as net.TcpNetConnectOpts).port });
        made.push(s);
        return s;
      };
      c.write(hex(`05 01 00  05 01 00 01 7f 00 00 01 ${portHex(port)}`));
      expect(toHex(await c.read(12))).to.equal('05 00 05 05 00 01 00 00 00 00 00 00');
      await c.whenClosed();
      expect(made.length, 'the stub was used').to.equal(1);
      expect(made[0]!.destroyed, 'the self-connected socket is closed').to.equal(true);
    } finally {
      (net as { connect: unknown }).connect = original;
      await s.close();
    }
  });
});
