/**
 * The README's embedding example (examples/embed.ts) does what the README
 * says: hand-off with the pipelined bytes as `head`, an exact deny, and the
 * default relay, behind username/password.
 */
import { expect } from 'chai';
import net from 'node:net';
import { createEmbeddedServer } from '../../examples/embed.js';
import { SocksServer } from '../../lib/index.js';
import { hex, toHex } from '../support/helpers.js';

function exchange(port: number, bytes: Buffer, until: (b: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error(`timed out with ${toHex(got)}`));
    }, 5000);
    c.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (until(got)) {
        clearTimeout(t);
        c.destroy();
        resolve(got);
      }
    });
    c.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
    c.on('error', reject);
    c.write(bytes);
  });
}

const AUTH = hex('05 01 02 01 05 616c696365 06 733363726574');
const OK_METHOD_AUTH = '05 02 01 00';

describe('examples/embed.ts (the README embedding example)', () => {
  let server: SocksServer;
  let port: number;
  before(async () => {
    server = createEmbeddedServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('hands app.internal to the application with the pipelined bytes as head', async () => {
    const name = Buffer.from('app.internal');
    const req = Buffer.concat([hex('05 01 00 03'), Buffer.from([name.length]), name, hex('00 01')]);
    const got = await exchange(port, Buffer.concat([AUTH, req, Buffer.from('ping\n')]), (b) => b.toString().includes('PING\n'));
    expect(toHex(got.subarray(0, 14))).to.equal(`${OK_METHOD_AUTH} 05 00 00 01 00 00 00 00 00 00`);
    expect(got.subarray(14).toString()).to.equal('hello alice\nPING\n');
  });

  it('denies port 25 with exactly 05 02 and a full-length reply', async () => {
    const got = await exchange(port, Buffer.concat([AUTH, hex('05 01 00 01 7f 00 00 01 00 19')]), () => false);
    expect(toHex(got)).to.equal(`${OK_METHOD_AUTH} 05 02 00 01 00 00 00 00 00 00`);
  });

  it('relays anything else (default accept)', async () => {
    const target = net.createServer((s) => s.end('target\n'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    try {
      const tp = (target.address() as net.AddressInfo).port;
      const req = Buffer.concat([hex('05 01 00 01 7f 00 00 01'), Buffer.from([tp >> 8, tp & 255])]);
      const got = await exchange(port, Buffer.concat([AUTH, req]), (b) => b.toString().endsWith('target\n'));
      expect(toHex(got.subarray(0, 5))).to.equal('05 02 01 00 05');
      expect(got[5]).to.equal(0x00);
      expect(got.subarray(14).toString()).to.equal('target\n');
    } finally {
      target.close();
    }
  });
});
