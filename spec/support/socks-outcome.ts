/** A raw SOCKS5 no-auth request seen from the client: a tunnel, a failure reply, or a close. */
import net from 'node:net';
import { hex } from './helpers.js';

export type Outcome = 'ok' | `rep:${string}` | 'closed';

/** The request part of a CONNECT to 127.0.0.1:port. */
export const connectTo = (port: number): Buffer => Buffer.concat([hex('05 01 00 01 7f 00 00 01'), Buffer.from([port >> 8, port & 255])]);
/** The request part of a UDP ASSOCIATE from 0.0.0.0:0. */
export const UDP_ASSOCIATE = hex('05 03 00 01 00 00 00 00 00 00');

/**
 * Greets the proxy at 127.0.0.1:`port` (no auth) and sends `req`; on success
 * (and, with `echo`, one "ping" round trip through the tunnel) the socket is
 * kept open in `keep`, otherwise destroyed. Settles within 8 s.
 */
export function socksOutcome(port: number, req: Buffer, keep: net.Socket[], echo: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const end = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      if (o === 'ok') keep.push(s);
      else s.destroy();
      resolve(o);
    };
    const t = setTimeout(() => end('closed'), 8000);
    s.on('error', () => end('closed'));
    s.on('close', () => end('closed'));
    s.on('connect', () => s.write(Buffer.concat([hex('05 01 00'), req])));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf[3] !== 0x00) return end(`rep:${buf[3]!.toString(16).padStart(2, '0')}`);
      if (buf.length < 12) return;
      if (!echo) return end('ok');
      if (buf.length === 12) s.write('ping');
      else if (buf.subarray(12).toString() === 'ping') end('ok');
    });
  });
}
