/**
 * The README's embedding example, runnable: a SOCKS5 front door with
 * username/password where CONNECT to `app.internal` is served in this
 * process (a line-echo service that greets the authenticated user), port 25
 * is refused with an exact reply, and everything else is relayed.
 *
 *   node dist/examples/embed.js [PORT]     (127.0.0.1, default 1080)
 *   curl -U alice:s3cret --socks5-hostname 127.0.0.1:1080 telnet://app.internal:1
 */
import type { Duplex } from 'node:stream';
import { SocksServer, userpass, Reply } from '../lib/index.js';

/** The application protocol: greet, then echo each line back in upper case. */
function serveMyProtocol(socket: Duplex, head: Buffer, identity: unknown): void {
  socket.write(`hello ${String(identity)}\n`);
  let pending = '';
  const onBytes = (b: Buffer): void => {
    pending += b.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      socket.write(pending.slice(0, nl).toUpperCase() + '\n');
      pending = pending.slice(nl + 1);
    }
    if (pending.length > 65536) socket.destroy(); // a line that never ends: bounded
  };
  onBytes(head); // bytes the client sent before the reply: they come first
  socket.on('data', onBytes);
  socket.on('end', () => socket.end());
  socket.on('error', () => socket.destroy());
  socket.resume(); // a handed-off socket is paused until the application reads
}

export function createEmbeddedServer(): SocksServer {
  return new SocksServer({
    methods: [userpass({ users: { alice: 's3cret' } })],
    async onRequest(ctx) {
      const { destination, identity } = ctx.request;
      if (destination.port === 25) return ctx.deny(Reply.NotAllowedByRuleset);
      if (destination.host === 'app.internal') {
        const { socket, head } = ctx.handoff({ reply: Reply.Succeeded });
        serveMyProtocol(socket, head, identity);
        return;
      }
      await ctx.accept(); // default: dial and relay
    },
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const port = Number(process.argv[2] ?? 1080);
  const server = createEmbeddedServer();
  server.listen(port, '127.0.0.1', () => process.stderr.write(`embed: listening on 127.0.0.1:${port}\n`));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  process.once('SIGINT', () => server.close(() => process.exit(0)));
}
