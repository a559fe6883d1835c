#!/usr/bin/env node
/**
 * sockskit-electrum: the client side of Electrum token auth, for scripts and
 * for wallets that cannot send a SOCKS password.
 *
 *   sockskit-electrum --server H:P --token T call server.version
 *   sockskit-electrum --server H:P --token T bridge --listen 127.0.0.1:50002
 *
 * `bridge` opens a local port without auth; each connection to it is
 * authenticated to --server and then piped (the wallet connects to the
 * bridge as if it were a plain Electrum server).
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { electrumConnect, electrumCall, ElectrumVia, ElectrumRpcError, readTokenFile, relay } from '../lib/index.js';
import { parseHostPort, parseNumber, packageVersion, fail, UsageError, isLoopback } from './cli.js';

const PROG = 'sockskit-electrum';

const HELP = `Usage: ${PROG} --server HOST:PORT (--token TOKEN | --token-file FILE) [options] COMMAND

Connects to an Electrum port protected by a token (bwt --electrum-socks-auth,
or sockskit-electrum-gateway).

Commands
  call METHOD [PARAMS...]   one JSON-RPC call; prints the JSON result. Each PARAM is
                            parsed as JSON when it parses, else taken as a string.
                            server.version is sent first when METHOD is another one.
  bridge [--listen HOST:PORT]
                            a local port without auth (default 127.0.0.1:50002) that
                            forwards each connection into the token-protected server
Options
  --server HOST:PORT        the token-protected Electrum port (required)
  --token TOKEN             the token (visible in the process list: prefer --token-file)
  --token-file FILE         read the token from FILE (e.g. the gateway's cookie)
  --via password|hostname|raw
                            how to present the token (default password): SOCKS5
                            username/password, SOCKS5 with the token as hostname, or
                            bwt's documented raw byte string (14 reply bytes skipped)
  --timeout MS              deadline for connecting and authenticating, and for a
                            call (default 10000)
  --allow-remote            let bridge listen beyond loopback (anyone reaching it
                            gets in without the token)
  -h, --help                show this help
  -V, --version             show the version
`;

const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  via: { type: 'string' },
  timeout: { type: 'string' },
  listen: { type: 'string' },
  'allow-remote': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** A CLI parameter: JSON when it parses ("1", "true", "[1,2]", "\"x\""), else the text itself. */
export function parseParam(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`${PROG} ${packageVersion()}\n`);
    return 0;
  }
  const [command, ...rest] = parsed.positionals;
  if (!command) throw new UsageError('a command is required: call or bridge');
  if (!v.server) throw new UsageError('--server HOST:PORT is required');
  const server = parseHostPort(v.server);
  if ((v.token === undefined) === (v['token-file'] === undefined)) throw new UsageError('give exactly one of --token or --token-file');
  const token = v.token ?? readTokenFile(v['token-file']!);
  const via = (v.via ?? 'password') as ElectrumVia;
  if (!['password', 'hostname', 'raw'].includes(via)) throw new UsageError(`--via wants password, hostname or raw, got ${JSON.stringify(v.via)}`);
  const timeout = parseNumber('timeout', v.timeout, 10000);
  const base = { server, token, via, timeout };

  if (command === 'call') {
    const [method, ...params] = rest;
    if (!method) throw new UsageError('call needs a METHOD');
    if (v.listen) throw new UsageError('--listen is for bridge');
    try {
      const result = await electrumCall({ ...base, method, params: params.map(parseParam) });
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    } catch (err) {
      const msg = err instanceof ElectrumRpcError
        ? `server error${err.rpcCode !== undefined ? ` ${err.rpcCode}` : ''}: ${err.message}`
        : (err as Error).message;
      process.stderr.write(`${PROG}: ${msg.replace(/\s+/g, ' ')}\n`);
      return err instanceof ElectrumRpcError ? 3 : 1;
    }
  }

  if (command === 'bridge') {
    if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    const listen = parseHostPort(v.listen ?? '127.0.0.1:50002');
    if (!isLoopback(listen.host) && !v['allow-remote']) {
      throw new UsageError(`refusing to open an unauthenticated bridge on ${listen.host}; add --allow-remote if you mean it`);
    }
    const bridge = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (local) => {
      local.setNoDelay(true);
      local.on('error', () => local.destroy());
      // Local bytes wait in the paused socket until the remote side is authenticated.
      electrumConnect(base).then(
        ({ socket, head }) => {
          if (local.destroyed) socket.destroy();
          else relay(socket, local, head);
        },
        (err) => {
          process.stderr.write(`${PROG}: bridge: ${(err as Error).message}\n`);
          local.destroy();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      bridge.once('error', reject);
      bridge.listen(listen.port, listen.host, () => resolve());
    });
    const a = bridge.address() as net.AddressInfo;
    process.stderr.write(`${PROG}: bridge listening on ${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port} → ${v.server} (via ${via})\n`);
    const stop = () => {
      bridge.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return await new Promise<number>(() => {});
  }

  throw new UsageError(`unknown command ${JSON.stringify(command)} (call or bridge)`);
}

// Without a handler of our own, SIGUSR1 opens Node's inspector on 127.0.0.1:9229
// (any local user could attach and read the token): ignore it.
process.on('SIGUSR1', () => {});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => fail(PROG, err, err instanceof UsageError ? 2 : 1),
);
