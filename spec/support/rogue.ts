/**
 * A rogue peer: a TCP server on 127.0.0.1:0 that runs a script per
 * connection, for specs where the other side misbehaves (a proxy that resets,
 * answers garbage, or never answers). Counts accepted and closed connections.
 */
import net from 'node:net';

export interface Rogue {
  port: number;
  accepted: number;
  closed: number;
  close(): Promise<void>;
}

/**
 * A server that runs `script` per connection. `script` gets a reader that
 * resolves once n bytes have arrived (bounded by the test timeout).
 */
export async function rogue(script: (sock: net.Socket, read: (n: number) => Promise<Buffer>) => Promise<void> | void): Promise<Rogue> {
  const socks = new Set<net.Socket>();
  const r: Rogue = { port: 0, accepted: 0, closed: 0, close: async () => {} };
  const server = net.createServer((sock) => {
    r.accepted++;
    socks.add(sock);
    sock.on('close', () => { r.closed++; socks.delete(sock); });
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    let want: { n: number; resolve: (b: Buffer) => void } | undefined;
    const check = () => {
      if (want && buf.length >= want.n) {
        const out = buf.subarray(0, want.n);
        buf = buf.subarray(want.n);
        const w = want;
        want = undefined;
        w.resolve(out);
      }
    };
    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); check(); });
    const read = (n: number) => new Promise<Buffer>((resolve) => { want = { n, resolve }; check(); });
    Promise.resolve(script(sock, read)).catch(() => sock.destroy());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  r.port = (server.address() as net.AddressInfo).port;
  r.close = () => new Promise<void>((res) => {
    for (const s of socks) s.destroy();
    server.close(() => res());
  });
  return r;
}
