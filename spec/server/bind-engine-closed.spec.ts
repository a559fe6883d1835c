/**
 * BIND after the engine has closed (too much early data, a bad GSS-API
 * frame): the listener closes with the engine, not at the socket's later
 * 'close', and a peer arriving in between is turned away without reaching
 * the process.
 */
import { expect } from 'chai';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { hex, toHex } from '../support/helpers.js';
import { waitFor } from '../support/server.js';
import { SocksServer } from '../../lib/server/server.js';
import { armTripwire, settle, Tripwire } from '../support/tripwire.js';

/**
 * A client stream whose FIN never completes: its 'close' comes only when the
 * server's 2 s end timer destroys it, which holds open the window between
 * the engine closing and the socket closing.
 */
class SlowClose extends Duplex {
  readonly written: Buffer[] = [];
  _read(): void {}
  _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written.push(chunk);
    cb();
  }
  _final(): void {
    /* never finishes */
  }
  get out(): Buffer {
    return Buffer.concat(this.written);
  }
}

describe('BIND: the listener closes with the engine', function () {
  let trip: Tripwire;
  const cleanup: (() => unknown)[] = [];
  beforeEach(() => {
    trip = armTripwire();
  });
  afterEach(async () => {
    trip.disarm();
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('> 64 KiB of early data after the first reply: a peer connecting before the socket closes is refused, nothing reaches the process', async () => {
    const server = new SocksServer();
    cleanup.push(() => server.close());
    const client = new SlowClose();
    cleanup.push(() => client.destroy());
    server.handle(client, { remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 1080 });
    client.push(hex('05 01 00   05 02 00 01 00 00 00 00 00 00'));
    await waitFor(() => client.out.length >= 12, 3000, 'the first BIND reply');
    const lport = client.out.readUInt16BE(10);
    client.push(Buffer.alloc(65537, 0x61));
    await waitFor(() => client.writableEnded, 3000, 'the engine to close the connection');
    expect(client.destroyed, 'the client stream is still open (the window)').to.equal(false);
    // A peer arriving now: before the fix the listener accepted it and
    // conn.reply() threw "accept() in state closed" into the process.
    const outcome = await new Promise<string>((resolve) => {
      const p = net.connect({ host: '127.0.0.1', port: lport });
      p.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      p.on('close', () => resolve('closed'));
      setTimeout(() => {
        p.destroy();
        resolve('still open');
      }, 1000);
    });
    await settle(100);
    expect(trip.errors, 'process-level errors').to.deep.equal([]);
    expect(outcome).to.be.oneOf(['ECONNREFUSED', 'closed', 'ECONNRESET']);
    // After the first reply only the engine's failure reply (REP 01), no success for the peer.
    expect(toHex(client.out.subarray(12, 14)), 'second reply').to.equal('05 01');
    expect(client.out.length).to.equal(22);
  });
});
