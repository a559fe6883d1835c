#!/usr/bin/env node
/**
 * sockskit-connect: a tunnel through a SOCKS proxy (or a chain) for the shell,
 * like `ncat --proxy`. stdin goes to HOST:PORT and the replies to stdout; with
 * -L, a local port whose every connection gets its own tunnel.
 *
 * Built only on the public client API (connect()). Other method flags plug in
 * at `methodsFromFlags` below: add the flag to FLAGS, then build the method.
 */
import net from 'node:net';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Duplex } from 'node:stream';
import { connect, none, binauth, gssapiPsk, loadPskKey, loadKeyFile, loadTokenCache, saveTokenCache, noProxyMatches, proxyForHost } from '../lib/index.js';
import type { GssProtection, AuthMethod } from '../lib/index.js';
import { parseHostPort, parseNumber, packageVersion, UsageError, permissionWarning } from './cli.js';
import { kerberosClient } from './kerberos-flags.js';

const PROG = 'sockskit-connect';
const DEFAULT_PROXY = 'socks5h://127.0.0.1:1080';

const USAGE = `Usage: ${PROG} [options] HOST PORT

Connects to HOST:PORT through a SOCKS proxy and copies stdin to the tunnel
and the tunnel to stdout (half-closes when stdin ends).

Options:
  --proxy URL          proxy to use; repeat for a chain, first one dialled first
                       (socks5://, socks5h://, socks4://, socks4a://, socks:// =
                       SOCKS4 as in curl; user:pass@); default: ALL_PROXY or
                       all_proxy from the environment, else ${DEFAULT_PROXY}
  --noproxy LIST       hosts to reach directly, as curl's --noproxy (overrides
                       NO_PROXY/no_proxy): names and .domains, IPs and CIDRs, or *
  -L, --listen [BIND:]PORT
                       forward a local port instead of stdio: every connection
                       to BIND:PORT (BIND default 127.0.0.1) gets its own tunnel
  --timeout MS         deadline for connecting and for each handshake (default 10000)
  --local-address ADDR connect to the first proxy from this local address
  --keepalive          TCP keep-alive on the connection to the first proxy
  --gssapi-psk FILE    GSS-API (RFC 1961) with the shared-key TEST mechanism and the
                       key in FILE; no-auth is then not offered (no silent downgrade)
  --gssapi-kerberos    GSS-API (RFC 1961) with Kerberos V5: your tickets (KRB5CCNAME or
                       the default cache, kinit first), target rcmd@<proxy host as
                       typed>; no-auth is then not offered (needs the Kerberos binding)
  --gssapi-service NAME
                       Kerberos service name of the proxy (default rcmd)
  --gssapi-protection LEVEL
                       integrity | confidentiality | selective to request
                       (default confidentiality; a stronger grant is accepted)
  --binauth-key FILE   offer binauth (Ed25519, method 0x80) with this private key
  --binauth-token-cache FILE
                       keep the binauth token in FILE (mode 0600) and reuse it
  --binauth-server-id ID
                       the id of the binauth server you mean to reach, signed
                       with the challenge: another server cannot reuse it
  -h, --help           show this help
  -V, --version        show the version

Environment (as curl reads it): ALL_PROXY/all_proxy when no --proxy is given;
NO_PROXY/no_proxy (unless --noproxy): a matching HOST is reached directly,
without any proxy.
`;

/** The flags, in node:util parseArgs form. Add new method flags here. */
export const FLAGS = {
  proxy: { type: 'string', multiple: true },
  listen: { type: 'string', short: 'L' },
  timeout: { type: 'string' },
  noproxy: { type: 'string' },
  'local-address': { type: 'string' },
  keepalive: { type: 'boolean' },
  'gssapi-psk': { type: 'string' },
  'gssapi-protection': { type: 'string' },
  'gssapi-kerberos': { type: 'boolean' },
  'gssapi-service': { type: 'string' },
  'binauth-key': { type: 'string' },
  'binauth-token-cache': { type: 'string' },
  'binauth-server-id': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export type FlagValues = ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>['values'];

/**
 * The extra authentication methods the flags ask for, offered on every SOCKS5
 * hop before `none` (credentials in a proxy URL add username/password to that
 * hop). The place for --gssapi-psk FILE, --binauth-key FILE,
 * --binauth-token-cache FILE and later method flags.
 */
export function methodsFromFlags(_values: FlagValues): AuthMethod<unknown>[] {
  const methods: AuthMethod<unknown>[] = [];
  const gssLevel = _values['gssapi-protection'];
  if (gssLevel !== undefined && _values['gssapi-psk'] === undefined && !_values['gssapi-kerberos']) throw new UsageError('--gssapi-protection needs --gssapi-psk or --gssapi-kerberos');
  if (_values['gssapi-psk'] !== undefined && _values['gssapi-kerberos']) throw new UsageError('--gssapi-psk and --gssapi-kerberos are both GSS-API (method 01): choose one');
  if (gssLevel !== undefined && !['integrity', 'confidentiality', 'selective'].includes(gssLevel)) throw new UsageError(`--gssapi-protection wants integrity, confidentiality or selective, got ${JSON.stringify(gssLevel)}`);
  if (_values['gssapi-psk'] !== undefined) {
    let key: Buffer;
    try {
      key = loadPskKey(_values['gssapi-psk']);
      const w = permissionWarning(_values['gssapi-psk'], 'GSS-API key file');
      if (w) process.stderr.write(`${PROG}: warning: ${w}\n`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UsageError(`--gssapi-psk: ${e.syscall ? `cannot read the key file (${e.code})` : e.message}`);
    }
    methods.push(gssapiPsk({ key, protection: gssLevel as GssProtection | undefined }));
  }
  const kerberos = kerberosClient({ kerberos: _values['gssapi-kerberos'], service: _values['gssapi-service'], protection: gssLevel as GssProtection | undefined });
  if (kerberos) methods.push(kerberos);
  const cache = _values['binauth-token-cache'];
  if (cache !== undefined && _values['binauth-key'] === undefined) throw new UsageError('--binauth-token-cache needs --binauth-key');
  if (_values['binauth-server-id'] !== undefined && _values['binauth-key'] === undefined) throw new UsageError('--binauth-server-id needs --binauth-key');
  if (_values['binauth-key'] !== undefined) {
    const privateKey = loadKeyFile(_values['binauth-key'], (w) => process.stderr.write(`${PROG}: warning: ${w}\n`));
    methods.push(binauth({
      privateKey,
      token: cache !== undefined ? loadTokenCache(cache) : undefined,
      serverId: _values['binauth-server-id'],
      onToken: cache === undefined ? undefined : (token) => {
        try {
          saveTokenCache(cache, token);
        } catch (err) {
          process.stderr.write(`${PROG}: warning: ${(err as Error).message}\n`);
        }
      },
    }));
  }
  if (_values['gssapi-psk'] === undefined && !kerberos) methods.push(none());
  return methods;
}

export interface ConnectCli {
  /** Empty: NO_PROXY matched HOST, connect directly. */
  proxies: string[];
  host: string;
  port: number;
  listen?: { host: string; port: number };
  timeout: number;
  methods: AuthMethod<unknown>[];
  localAddress?: string;
  keepAlive?: boolean;
}

export type Parsed = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: ConnectCli };

/** Parses argv (without node and the script). Throws UsageError on bad input. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals.length !== 2) throw new UsageError(`expected HOST PORT, got ${positionals.length} argument(s)`);
  const [host, portText] = positionals as [string, string];
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new UsageError(`invalid port ${JSON.stringify(portText)}`);
  for (const p of values.proxy ?? []) {
    if (!/^socks(4a?|5h?)?:\/\//i.test(p)) throw new UsageError(`--proxy wants socks5://, socks5h://, socks4://, socks4a:// or socks://, got ${JSON.stringify(redactUrl(p))}`);
  }
  const proxies = chooseProxies(host, values.proxy, values.noproxy, env);
  const localAddress = values['local-address'];
  if (localAddress !== undefined && !net.isIP(localAddress)) throw new UsageError(`--local-address wants an IP address, got ${JSON.stringify(localAddress)}`);
  return {
    kind: 'run',
    options: {
      proxies,
      host,
      port,
      listen: values.listen !== undefined ? parseHostPort(values.listen, '127.0.0.1') : undefined,
      timeout: parseNumber('timeout', values.timeout, 10000),
      methods: methodsFromFlags(values),
      localAddress,
      keepAlive: values.keepalive,
    },
  };
}

/**
 * As curl: NO_PROXY (or --noproxy) first, even over --proxy; then --proxy,
 * then ALL_PROXY/all_proxy, then the default. [] means direct.
 */
function chooseProxies(host: string, flags: string[] | undefined, noproxy: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (noProxyMatches(host, noproxy ?? (env.no_proxy || env.NO_PROXY || undefined))) return [];
  if (flags?.length) return [...flags];
  try {
    return [proxyForHost(host, { all_proxy: env.all_proxy, ALL_PROXY: env.ALL_PROXY }) ?? DEFAULT_PROXY];
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A proxy URL without its password, for messages. */
function redactUrl(u: string): string {
  return u.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** One line naming the failure, e.g. "proxy refused the request: connection refused (05)". */
export function describeError(err: unknown, proxies: readonly string[]): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e && e.syscall === 'connect' && e.code) return proxies.length ? `cannot reach proxy ${redactUrl(proxies[0]!)}: ${e.code}` : `cannot connect (no proxy for this host): ${e.code}`;
  if (e instanceof Error) return e.message;
  return String(err);
}

function openTunnel(o: ConnectCli, signal?: AbortSignal): Promise<{ socket: Duplex; head: Buffer }> {
  if (o.proxies.length === 0) return connectDirect(o, signal);
  return connect({
    proxy: o.proxies,
    destination: { host: o.host, port: o.port },
    methods: o.methods,
    connectTimeout: o.timeout,
    handshakeTimeout: o.timeout,
    signal,
    localAddress: o.localAddress,
    keepAlive: o.keepAlive,
  });
}

/** NO_PROXY matched: a plain TCP connection to HOST:PORT, with the same deadline. */
function connectDirect(o: ConnectCli, signal?: AbortSignal): Promise<{ socket: Duplex; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress, allowHalfOpen: true });
    const timer = setTimeout(() => fail(new Error(`connect to ${o.host}:${o.port} timed out after ${o.timeout} ms`)), o.timeout);
    const onAbort = () => fail(signal!.reason);
    const fail = (err: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      reject(err);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.once('error', fail);
    sock.once('connect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.off('error', fail);
      if (o.keepAlive) sock.setKeepAlive(true);
      resolve({ socket: sock, head: Buffer.alloc(0) });
    });
  });
}

async function runStdio(o: ConnectCli): Promise<number> {
  const { socket, head } = await openTunnel(o);
  return new Promise<number>((resolve) => {
    let failed = false;
    socket.on('error', (err) => {
      failed = true;
      process.stderr.write(`${PROG}: ${describeError(err, o.proxies)}\n`);
      resolve(1);
    });
    // A closed stdout (`| head`) is a normal way to stop reading.
    process.stdout.on('error', () => resolve(0));
    if (head.length) process.stdout.write(head);
    process.stdin.pipe(socket); // ends (half-closes) the tunnel when stdin ends
    socket.pipe(process.stdout, { end: false });
    socket.on('end', () => {
      if (failed) return;
      // Flush stdout before reporting success.
      process.stdout.write('', () => resolve(0));
    });
  });
}

function runListen(o: ConnectCli): Promise<number> {
  const listen = o.listen!;
  // Every accepted client, so that a signal can close the tunnels (server.close() alone waits for them).
  const clients = new Set<net.Socket>();
  return new Promise<number>((resolve) => {
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      const ac = new AbortController();
      clients.add(client);
      client.on('error', () => ac.abort());
      client.on('close', () => {
        clients.delete(client);
        ac.abort();
      });
      client.pause();
      openTunnel(o, ac.signal).then(({ socket, head }) => {
        pipeBoth(client, socket, head);
      }, (err) => {
        if (!ac.signal.aborted) process.stderr.write(`${PROG}: ${describeError(err, o.proxies)}\n`);
        client.destroy();
      });
    });
    server.on('error', (err) => {
      process.stderr.write(`${PROG}: cannot listen on ${listen.host}:${listen.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}\n`);
      resolve(1);
    });
    server.listen(listen.port, listen.host, () => {
      const a = server.address() as net.AddressInfo;
      process.stderr.write(`${PROG}: listening on ${a.address}:${a.port}\n`);
    });
    const stop = () => {
      server.close();
      for (const c of clients) c.destroy(); // pipeBoth closes each tunnel with its client
      resolve(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Relays both ways with half-close; either side's error or close ends both. */
function pipeBoth(client: net.Socket, tunnel: Duplex, head: Buffer): void {
  if (head.length) client.write(head);
  client.pipe(tunnel);
  tunnel.pipe(client);
  const kill = () => { client.destroy(); tunnel.destroy(); };
  client.on('error', kill);
  tunnel.on('error', kill);
  client.on('close', () => tunnel.destroy());
  tunnel.on('close', () => client.destroy());
  client.resume();
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseCli(argv);
  } catch (err) {
    process.stderr.write(`${PROG}: ${(err as Error).message}\nTry '${PROG} --help'.\n`);
    return 2;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${PROG} ${packageVersion()}\n`);
    return 0;
  }
  const o = parsed.options;
  try {
    return o.listen ? await runListen(o) : await runStdio(o);
  } catch (err) {
    process.stderr.write(`${PROG}: ${describeError(err, o.proxies)}\n`);
    return 1;
  }
}

function isMain(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // Without a handler of our own, SIGUSR1 opens Node's inspector on 127.0.0.1:9229.
  process.on('SIGUSR1', () => {});
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
