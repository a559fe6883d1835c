/**
 * sockskit-proxy as a library: its options read into a ServiceConfig
 * (buildProxyConfig) and the ServiceProgram runService runs
 * (proxyProgram). An embedder adds its own server options on top, e.g. an
 * onRequest hook: examples/custom-proxy.ts.
 */
import path from 'node:path';
import { binauth, parseAuthorizedKeys, parsePrivateKey } from '../../methods/binauth/index.js';
import { identSocks4 } from '../../methods/ident/index.js';
import { none } from '../../methods/none.js';
import { userpass } from '../../methods/userpass.js';
import { hostType, stripBrackets } from '../protocol/codec/address.js';
import { LocalProtocolError } from '../protocol/errors.js';
import type { AuthMethod } from '../protocol/method.js';
import { proxyUpstream, type ProxyUpstream } from '../client/index.js';
import { bindHandler, connectionLimit, descriptorLimit, parseCidr, parseRate, parseRules, udpHandler, type Rule, type Ruleset, type SocksServerOptions } from '../server/index.js';
import { gssapiFromFlags, usersFromFlags } from './auth-flags.js';
import { helperFromFlags, retireHelper, scryptQueueFromFlags, throttleFromFlags } from './login-flags.js';
import { UsageError } from './errors.js';
import { PROXY_INTRO, PROXY_OPTIONS, PROXY_OUTRO } from './proxy-options.js';
import { parseServiceOptions, serviceHelp } from './service-options.js';
import { loadSettings, type Settings, type Values } from './settings.js';
import type { ServiceConfig, ServiceProgram } from './types.js';
import { describeFsError, isLoopback, parseChoice, parseHostPort, parseNumber, permissionWarning } from './values.js';
import { readInput } from './inputs.js';

const PROG = 'sockskit-proxy';

function cidrs(v: Values, key: string) {
  return ((v[key] as string[] | undefined) ?? []).map((c) => {
    try {
      return parseCidr(c);
    } catch (err) {
      throw new UsageError(`--${key}: ${(err as Error).message}`);
    }
  });
}

/** The upstream of `urls` (a chain); a bad URL is a usage error naming `where`. */
function upstreamOf(where: string, urls: readonly string[]): ProxyUpstream {
  try {
    return proxyUpstream(urls);
  } catch (err) {
    throw new UsageError(`${where}: ${(err as Error).message}`);
  }
}

function fileRules(settings: Settings): Rule[] | undefined {
  if (settings.rules === undefined || settings.rules === null) return undefined;
  try {
    return parseRules(settings.rules, 'rules', { upstream: (urls) => proxyUpstream(urls) });
  } catch (err) {
    if (err instanceof LocalProtocolError) throw new UsageError(`${settings.configFile}: ${err.message}`);
    throw err;
  }
}

/** Destination and client rules from the flags and the config file's list (docs/operations.md). */
export function rulesFromSettings(settings: Settings): Ruleset | readonly Rule[] | undefined {
  const v = settings.values;
  const [allow, deny, clientAllow, clientDeny] = [cidrs(v, 'allow'), cidrs(v, 'deny'), cidrs(v, 'client-allow'), cidrs(v, 'client-deny')];
  const list = fileRules(settings);
  // Destination-only flags keep their historical meaning (a Ruleset).
  if (!list && clientAllow.length === 0 && clientDeny.length === 0) return allow.length || deny.length ? { allow, deny } : undefined;
  // The flags narrow what the list may pass: anything outside them is blocked
  // first, the client flags before all (they are judged at accept). Each is
  // named for the access log's `rule=`; the file's rules by their index.
  const out: Rule[] = [];
  if (clientDeny.length) out.push({ id: 'client-deny', action: 'block', client: clientDeny });
  if (clientAllow.length) out.push({ id: 'client-allow', action: 'block', client: [{ text: 'not ' + clientAllow.map((c) => c.text).join(','), contains: (ip) => !clientAllow.some((c) => c.contains(ip)) }] });
  if (deny.length) out.push({ id: 'deny', action: 'block', to: deny.map((cidr) => ({ cidr })) });
  if (allow.length) out.push({ id: 'allow', action: 'block', to: [{ cidr: { text: 'not allowed', contains: (ip) => !allow.some((c) => c.contains(ip)) } }] });
  out.push(...(list ? list.map((r, i) => ({ ...r, id: r.id ?? String(i) })) : [{ id: 'default', action: 'pass' as const }]));
  return out;
}

/** A file a flag names, as text (pinned under --workers: inputs.ts). */
function inputText(flag: string, file: string): string {
  try {
    return readInput(file).toString('utf8');
  } catch (err) {
    throw new UsageError(`cannot read --${flag} file ${file}: ${describeFsError(err)}`);
  }
}

interface ProxyMethods {
  methods: AuthMethod<unknown>[];
  /** What the listening line says; empty: no authentication. */
  describe: string[];
  /** Puts the login things in force (the helper pool, the throttle, the scrypt queue): ServiceConfig.activate. */
  activate: () => void;
}

/** The helper's program name alone, for the listening line: its arguments may hold a secret (basic_ldap_auth -w PASSWORD). */
function helperProgram(command: string): string {
  return path.basename(command.trim().split(/\s+/)[0] ?? '');
}

/** username/password from --user/--users or --auth-helper, with the login throttle; undefined when neither is given. */
function userpassFromSettings(v: Values, notices: string[], say: (line: string) => void): { method: AuthMethod<unknown>; describe: string; activate: () => void } | undefined {
  const users = usersFromFlags(v, (w) => notices.push(w));
  const helper = helperFromFlags(v, say);
  const throttle = throttleFromFlags(v);
  const queue = scryptQueueFromFlags(v);
  if (helper && users.size > 0) throw new UsageError('--auth-helper and --user/--users exclude each other (one source of passwords)');
  if (!helper && users.size === 0) return undefined;
  // A configuration without the helper ends the pool in force when it goes in force itself.
  const activate = () => {
    if (helper) helper.use();
    else retireHelper();
    throttle?.use();
    queue?.use();
  };
  const describe = helper ? `username/password, auth helper ${JSON.stringify(helperProgram(v['auth-helper'] as string))}` : `username/password, ${users.size} user${users.size > 1 ? 's' : ''}`;
  const method = userpass(helper ? { verify: helper.value, throttle: throttle?.value } : { users, throttle: throttle?.value, queue: queue?.value });
  return { method, describe, activate };
}

/** The SOCKS5 methods the flags configure, strongest first; none only when nothing else is. */
function methodsFromSettings(v: Values, notices: string[], say: (line: string) => void): ProxyMethods {
  const out: ProxyMethods = { methods: [], describe: [], activate: retireHelper };
  const gss = gssapiFromFlags(v, 'confidentiality', (w) => notices.push(w));
  if (gss) {
    out.methods.push(gss.method);
    out.describe.push(gss.describe);
  }
  const [key, authorized, serverId] = [v['binauth-key'], v['authorized-keys'], v['binauth-server-id']] as (string | undefined)[];
  if (serverId !== undefined && (!key || !authorized)) throw new UsageError('--binauth-server-id needs --binauth-key and --authorized-keys');
  if (key !== undefined || authorized !== undefined) {
    if (!key || !authorized) throw new UsageError('--binauth-key and --authorized-keys go together');
    const serverPrivateKey = parsePrivateKey(inputText('binauth-key', key), key);
    const w = permissionWarning(key, 'private key file');
    if (w) notices.push(w);
    out.methods.push(binauth({ binauth: { serverPrivateKey, serverId }, authorizedKeys: parseAuthorizedKeys(inputText('authorized-keys', authorized), authorized) }));
    out.describe.push('binauth');
  }
  const up = userpassFromSettings(v, notices, say);
  if (up) {
    out.methods.push(up.method);
    out.describe.push(up.describe);
    out.activate = up.activate;
  }
  if (out.methods.length === 0) out.methods.push(none());
  return out;
}

function ipFlag(v: Values, key: string): string | undefined {
  const text = v[key] as string | undefined;
  const ip = text === undefined ? undefined : stripBrackets(text);
  if (ip !== undefined && hostType(ip) === 'domain') throw new UsageError(`--${key} needs an IP address, got ${JSON.stringify(text)}`);
  return ip;
}

function proxyProtocolFromSettings(v: Values, say: (line: string) => void): Pick<SocksServerOptions, 'proxyProtocol' | 'proxyProtocolFrom'> {
  const given = v['proxy-protocol'] as string | undefined;
  const from = v['proxy-protocol-from'] as string[] | undefined;
  const mode = given === undefined ? undefined : parseChoice('proxy-protocol', given, ['v1', 'v2', 'any'], 'any');
  if (from && mode === undefined) throw new UsageError('--proxy-protocol-from needs --proxy-protocol');
  // Any peer could then claim any source address, and the UDP relay and ident follow the claim.
  if (mode !== undefined && !from) say(`WARNING: --proxy-protocol without --proxy-protocol-from: any client can claim any source address; name the balancers with --proxy-protocol-from CIDR`);
  return { proxyProtocol: mode, proxyProtocolFrom: from ? cidrs(v, 'proxy-protocol-from') : undefined };
}

/**
 * --max-connections when given (a notice when the descriptors allow fewer);
 * undefined otherwise: the server then budgets the descriptors themselves
 * (two per connection, four per UDP association; ConnectionLimits).
 */
function maxConnectionsFrom(v: Values, notices: string[]): number | undefined {
  const given = v['max-connections'] as string | undefined;
  if (given === undefined) return undefined;
  const fds = descriptorLimit();
  const max = parseNumber('max-connections', given, 0);
  if (fds && max > connectionLimit(fds)) notices.push(`--max-connections ${max} needs about ${2 * max + 64} descriptors, the limit is ${fds.soft}: connections past it will be refused`);
  return max;
}

function rateFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseRate(text);
  } catch (err) {
    throw new UsageError(`--rate-per-user: ${(err as Error).message}`);
  }
}

/** The server options of the flags (everything but methods, rules and the PROXY protocol). */
function serverOptionsFrom(v: Values, keepAlive: number | false, notices: string[]): SocksServerOptions {
  const external = ipFlag(v, 'external');
  const num = (key: string, fallback: number) => parseNumber(key, v[key] as string | undefined, fallback);
  return {
    socks4: v['no-socks4'] ? false : undefined,
    socks4Identify: identSocks4({ mode: parseChoice('ident', v.ident as string | undefined, ['off', 'verify'] as const, 'off'), port: num('ident-port', 113) }),
    handshakeTimeout: num('handshake-timeout', 10000),
    connectTimeout: num('connect-timeout', 10000),
    idleTimeout: num('idle-timeout', 0),
    maxConnections: maxConnectionsFrom(v, notices),
    maxConnectionsPerSource: num('max-connections-per-source', 0),
    maxConnectionsPerUser: num('max-connections-per-user', 0) || undefined,
    ratePerUser: rateFlag(v['rate-per-user'] as string | undefined),
    bind: v['no-bind'] ? false : bindHandler({ external }),
    udp: v['no-udp'] ? false : udpHandler({ external }),
    keepAlive,
    outboundAddress: ipFlag(v, 'outbound-address'),
    upstream: v.upstream ? upstreamOf('--upstream', v.upstream as string[]) : undefined,
    splice: parseChoice('splice', v.splice as string | undefined, ['auto', 'on', 'off'] as const, 'auto'),
  };
}

/**
 * Everything from flags, environment and config file, checked; throws
 * UsageError naming the place at fault. `say` gets warnings that are not
 * notices (printed on every build).
 */
export function buildProxyConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, say: (line: string) => void = (l) => process.stderr.write(`${PROG}: ${l}\n`)): ServiceConfig {
  const settings = loadSettings(argv, PROXY_OPTIONS, env);
  const v = settings.values;
  if (v.help || v.version) return { help: v.help, version: v.version } as ServiceConfig;
  const svc = parseServiceOptions(v);
  const notices = settings.unknownEnv.map((k) => `${k} is not an option of this program; ignored`);
  const listen = ((v.listen as string[] | undefined) ?? ['127.0.0.1:1080']).map((l) => parseHostPort(l));
  const base = serverOptionsFrom(v, svc.keepAlive, notices);
  const auth = methodsFromSettings(v, notices, say);
  const options: SocksServerOptions = { ...base, methods: auth.methods, rules: rulesFromSettings(settings), ...proxyProtocolFromSettings(v, say) };
  const open = auth.describe.length === 0;
  return {
    ...svc,
    check: v.check === true,
    listen,
    options,
    describe: (auth.describe.join(', ') || 'no authentication') + (base.upstream ? `; upstream ${base.upstream.name}` : ''),
    logHealthChecks: v['log-health-checks'] === true,
    notices,
    activate: auth.activate,
    warnings: (where, host) => (open && !isLoopback(host) ? [`${where} is not loopback and needs no authentication: this is an open proxy`] : []),
  };
}

export interface ProxyProgramOptions {
  /** Default: process.argv after the script. */
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** The name in every line and in --version (default sockskit-proxy). */
  prog?: string;
  /** Server options laid over what the flags configure (on every build, reloads included). */
  server?: Partial<SocksServerOptions>;
}

/** sockskit-proxy as a ServiceProgram for runService(). */
export function proxyProgram(o: ProxyProgramOptions = {}): ServiceProgram {
  const prog = o.prog ?? PROG;
  const argv = o.argv ?? process.argv.slice(2);
  const say = (l: string) => process.stderr.write(`${prog}: ${l}\n`);
  return {
    prog,
    help: serviceHelp(PROXY_INTRO.replace(PROG, prog), PROXY_OPTIONS, PROXY_OUTRO),
    build: () => {
      const cfg = buildProxyConfig(argv, o.env, say);
      return cfg.help || cfg.version ? cfg : { ...cfg, options: { ...cfg.options, ...o.server } };
    },
  };
}
