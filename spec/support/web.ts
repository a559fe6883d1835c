/**
 * Local http and https origins on 127.0.0.1:0 for the client specs. Each
 * answers "<method> <path> <body>" and counts the TCP connections it
 * accepted (keep-alive reuse shows as fewer connections than requests).
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';

export interface Origin {
  url: string;
  port: number;
  connections: number;
  close(): Promise<void>;
}

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`.trimEnd());
  });
}

async function serve(server: http.Server, scheme: 'http' | 'https', host: string): Promise<Origin> {
  const sockets = new Set<net.Socket>();
  const origin: Origin = { url: '', port: 0, connections: 0, close: async () => {} };
  server.on('connection', (s: net.Socket) => {
    origin.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin.port = (server.address() as net.AddressInfo).port;
  origin.url = `${scheme}://${host}:${origin.port}`;
  origin.close = () => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return origin;
}

export function httpOrigin(host = '127.0.0.1'): Promise<Origin> {
  return serve(http.createServer(answer), 'http', host);
}

export function httpsOrigin(tls: { key: Buffer; cert: Buffer }, host = '127.0.0.1'): Promise<Origin> {
  return serve(https.createServer({ key: tls.key, cert: tls.cert }, answer), 'https', host);
}
