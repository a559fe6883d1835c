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
import { electrumConnect, electrumCall, ElectrumRpcError, readTokenFile, relay, type ElectrumConnectOptions } from '../lib/index.js';
import { UsageError, isLoopback, packageVersion, parseArgsOptions, parseChoice, parseHostPort, parseNumber, renderOptions, type OptionTable } from '../lib/service/index.js';
import { runMain } from './cli.js';

const PROG = 'sockskit-electrum';

const OPTIONS: OptionTable = [{
  title: 'Options',
  options: {
    server: { type: 'string', arg: 'HOST:PORT', help: 'the token-protected Electrum port (required)' },
    token: { type: 'string', arg: 'TOKEN', help: 'the token (visible in the process list: prefer --token-file)' },
    'token-file': { type: 'string', arg: 'FILE', help: "read the token from FILE (e.g. the gateway's cookie)" },
    via: { type: 'string', arg: 'password|hostname|raw', help: "how to present the token (default password): SOCKS5\nusername/password, SOCKS5 with the token as hostname, or\nbwt's documented raw byte string (14 reply bytes skipped)" },
    timeout: { type: 'string', arg: 'MS', help: 'deadline for connecting and authenticating, and for a\ncall (default 10000)' },
    listen: { type: 'string', arg: 'HOST:PORT', help: 'bridge: where to listen (default 127.0.0.1:50002)' },
    'allow-remote': { type: 'boolean', help: 'let bridge listen beyond loopback (anyone reaching it\ngets in without the token)' },
    help: { type: 'boolean', short: 'h', help: 'show this help' },
    version: { type: 'boolean', short: 'V', help: 'show the version' },
  },
}];

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
${renderOptions(OPTIONS)}
`;

/** A CLI parameter: JSON when it parses ("1", "true", "[1,2]", "\"x\""), else the text itself. */
function parseParam(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function call(base: ElectrumConnectOptions, method: string, params: string[]): Promise<number> {
  try {
    process.stdout.write(JSON.stringify(await electrumCall({ ...base, method, params: params.map(parseParam) })) + '\n');
    return 0;
  } catch (err) {
    const rpc = err instanceof ElectrumRpcError;
    const msg = rpc ? `server error${err.rpcCode !== undefined ? ` ${err.rpcCode}` : ''}: ${err.message}` : (err as Error).message;
    process.stderr.write(`${PROG}: ${msg.replace(/\s+/g, ' ')}\n`);
    return rpc ? 3 : 1;
  }
}

/** A local port without auth; local bytes wait in the paused socket until the remote side is authenticated. */
async function bridge(base: ElectrumConnectOptions, listen: { host: string; port: number }, label: string): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (local) => {
    local.setNoDelay(true);
    local.on('error', () => local.destroy());
    electrumConnect(base).then(
      ({ socket, head }) => (local.destroyed ? socket.destroy() : relay(socket, local, head)),
      (err) => {
        process.stderr.write(`${PROG}: bridge: ${(err as Error).message}\n`);
        local.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listen.port, listen.host, resolve));
  const a = server.address() as net.AddressInfo;
  process.stderr.write(`${PROG}: bridge listening on ${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port} → ${label} (via ${base.via})\n`);
  return new Promise<number>((resolve) => {
    const stop = () => server.close() && resolve(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: parseArgsOptions(OPTIONS), strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help || v.version) {
    process.stdout.write(v.help ? HELP : `${PROG} ${packageVersion()}\n`);
    return 0;
  }
  const [command, ...rest] = parsed.positionals;
  if (!command) throw new UsageError('a command is required: call or bridge');
  if (typeof v.server !== 'string') throw new UsageError('--server HOST:PORT is required');
  if ((v.token === undefined) === (v['token-file'] === undefined)) throw new UsageError('give exactly one of --token or --token-file');
  const token = (v.token as string | undefined) ?? readTokenFile(v['token-file'] as string);
  const via = parseChoice('via', v.via as string | undefined, ['password', 'hostname', 'raw'] as const, 'password');
  const base = { server: parseHostPort(v.server), token, via, timeout: parseNumber('timeout', v.timeout as string | undefined, 10000) };
  if (command === 'call') {
    if (!rest[0]) throw new UsageError('call needs a METHOD');
    if (v.listen) throw new UsageError('--listen is for bridge');
    return call(base, rest[0], rest.slice(1));
  }
  if (command !== 'bridge') throw new UsageError(`unknown command ${JSON.stringify(command)} (call or bridge)`);
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  const listen = parseHostPort((v.listen as string | undefined) ?? '127.0.0.1:50002');
  if (!isLoopback(listen.host) && !v['allow-remote']) throw new UsageError(`refusing to open an unauthenticated bridge on ${listen.host}; add --allow-remote if you mean it`);
  return bridge(base, listen, v.server);
}

runMain(PROG, () => main(process.argv.slice(2)));
