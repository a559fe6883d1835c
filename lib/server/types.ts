/**
 * The server's option and command-handler types, apart from the adapter so
 * that the command handlers (commands/connect.ts, bind.ts, udp.ts) and the
 * server depend on them and not on each other.
 */
import type dns from 'node:dns';
import type { Duplex } from 'node:stream';
import type { CommandName } from '../protocol/constants.js';
import type { SocksAddress } from '../protocol/codec/address.js';
import type { SocksRequest, MethodSelector, Socks4Identify } from '../protocol/server-handshake.js';
import type { SocksError } from '../protocol/errors.js';
import type { AuthMethod, Encapsulation, ServerAuthContext } from '../protocol/method.js';
import type { RequestContext } from './request-context.js';
import type { Candidate } from '../transport/happy-eyeballs.js';
import type { Policy } from './policy.js';
import type { ConnectionRegistry } from './registry.js';
import type { ConnectionLimits } from './connection-limits.js';
import type { Ledger, RecordSource } from './ledger.js';
import type { Ruleset, Cidr, Rule } from './rules.js';
import type { SocksServerEvents } from './events.js';
import type { TypedEmitter } from '../transport/typed-events.js';
import type { Upstream } from './upstream.js';
import type { SpliceMode } from '../transport/splice.js';

export type { Upstream, UpstreamDialOptions, Via } from './upstream.js';

export type { RequestContext };

/** dns.lookup-compatible resolver. */
export type LookupFunction = typeof dns.lookup;

export interface SocksServerOptions {
  /** Methods in preference order, or a per-connection choice (e.g. by source address). Default: [none()]. */
  methods?: readonly AuthMethod<unknown>[] | ((ctx: ServerAuthContext) => readonly AuthMethod<unknown>[]);
  /** Method selection policy; default: server preference order. */
  selectMethod?: MethodSelector;
  /** Accept SOCKS4/4a. Default: only when the `none` method (0x00) is configured, since SOCKS4 carries no password. */
  socks4?: boolean;
  /** SOCKS4 identity policy (e.g. ident verify); default: no identity, the USERID kept as an unverified `userId`. */
  socks4Identify?: Socks4Identify;
  /** The request hook: decide with ctx.accept(), ctx.deny(reply), ctx.handoff() or ctx.relay(stream). Returning without deciding accepts. */
  onRequest?: (ctx: RequestContext) => void | Promise<void>;
  /** Name resolution for destinations (default dns.lookup). */
  lookup?: LookupFunction;
  /**
   * Rules: a Ruleset (destination allow/deny CIDRs, applied to the resolved
   * address), or a list of Rule, first match wins (client, identity,
   * destination, port, command → pass or block); see rules.ts.
   */
  rules?: Ruleset | readonly Rule[];
  /** Commands served by the default accept(). Default: connect (plus bind/udp when their handlers are present). */
  commands?: readonly CommandName[];
  /** Milliseconds from accept to the end of the handshake (default 10 000). */
  handshakeTimeout?: number;
  /** Milliseconds to connect to a destination, lookup and every address tried included (default 10 000). */
  connectTimeout?: number;
  /** Happy Eyeballs (RFC 8305): ms before the next address of a destination is tried alongside (default 250). */
  happyEyeballsDelay?: number;
  /** Milliseconds without traffic before a tunnel is closed (default 0: never). */
  idleTimeout?: number;
  /** Once either side of a tunnel has sent FIN or closed: milliseconds without traffic before both are destroyed (default 30 000; 0: forever). */
  lingerTimeout?: number;
  /**
   * The native splice(2) relay (Linux; native/splice, `npm run build:splice`):
   * 'auto' (default) uses it when the addon loads, 'on' requires it (the
   * server throws SpliceUnavailableError without it), 'off' relays in
   * JavaScript only. Only tunnels between two TCP sockets, without a rate
   * limit, move to it, after spliceAfter bytes.
   */
  splice?: SpliceMode;
  /** Bytes a tunnel carries (both ways) in JavaScript before it moves to the splice relay (default 262 144; 0: at once). */
  spliceAfter?: number;
  /**
   * Client connections open at once, in handshake or tunnelling (default:
   * what the descriptor limit allows, two per tunnel, at most 10 000; see
   * limits.ts). At the limit, the connection longest in its handshake (one that
   * has not sent its request yet) is closed to make room; tunnels never are.
   */
  maxConnections?: number;
  /** Client connections open at once from one address (the TCP peer, not a PROXY header's claim); default 0: no limit. */
  maxConnectionsPerSource?: number;
  /**
   * The limits to count against, shared by servers that should share them
   * (sockskit-proxy gives one to all its listeners); default: the server's own.
   * maxConnections and maxConnectionsPerSource stay per server options; the
   * counts and the descriptor budget are the shared object's.
   */
  limits?: ConnectionLimits;
  /**
   * Requests open at once per verified user (a userpass name, a binauth key,
   * a GSS-API principal; SOCKS4's USERID is not verified and is not
   * limited); past it the request is refused with REP 02 (SOCKS4 5B).
   * A pass rule's `maxConnections` replaces it for the requests it decides.
   * Default: no limit.
   */
  maxConnectionsPerUser?: number;
  /**
   * Bytes per second per verified user and direction: a token bucket shared
   * by the user's CONNECT and BIND tunnels, up and down counted separately.
   * UDP datagrams are not limited. A pass rule's `rate` replaces it for the
   * tunnels it decides. Default: no limit.
   */
  ratePerUser?: number;
  /** The handler for CONNECT (lib/server/commands/connect.ts). Default: connectHandler(); false: refused (07). */
  connect?: CommandHandler | false;
  /** Handlers for BIND and UDP ASSOCIATE (lib/server/commands/bind.ts, udp.ts). Default: bindHandler()/udpHandler(); false: refused (07). */
  bind?: CommandHandler | false;
  udp?: CommandHandler | false;
  /**
   * Expect a HAProxy PROXY protocol header (v1 text, v2 binary, or either)
   * before SOCKS, as sent by a load balancer; `source`/`local` then come from
   * it. A connection without a valid header is closed. Default false.
   */
  proxyProtocol?: 'v1' | 'v2' | 'any' | false;
  /**
   * TCP keepalive on the client socket and CONNECT's outbound socket: the
   * initial delay in ms (default 60 000), or false. Finds peers that vanished
   * without a FIN (NAT timeouts, crashed hosts) on idle tunnels.
   */
  keepAlive?: number | false;
  /** Source address of CONNECT's outbound sockets (net.connect localAddress). */
  outboundAddress?: string;
  /** Keep the requested destination out of 'connectionEnd' records (it may be a secret, e.g. an Electrum token as hostname). */
  redactDestination?: boolean;
  /** With proxyProtocol: senders trusted to send the header (the balancers); others are closed. Default: any. */
  proxyProtocolFrom?: readonly Cidr[];
  /**
   * CONNECT's way out when no rule names one (`via` in a Rule): an upstream
   * proxy (or chain), or direct (the default). BIND and UDP ASSOCIATE routed
   * to an upstream are refused with 07 (docs/operations.md).
   */
  upstream?: Upstream;
}

/** Where a CONNECT goes: the addresses to race directly, or an upstream and what to ask it for. */
export type Route = { via: 'direct'; candidates: Candidate[] } | { via: Upstream; destination: SocksAddress };

/** What the default accept() runs for a command; resolves when the command has been answered. */
export type CommandHandler = (conn: ConnectionControl) => Promise<void> | void;

/** Given to command handlers: the connection and the engine's decisions. */
export interface ConnectionControl {
  readonly request: SocksRequest;
  readonly socket: Duplex;
  readonly source: SocksAddress;
  readonly local: SocksAddress;
  /** The server, for its events (e.g. `udp`). */
  readonly server: TypedEmitter<SocksServerEvents>;
  readonly options: Readonly<SocksServerOptions>;
  /** Writes the (first) success reply; for BIND call twice. Returns the tunnel head when established. */
  reply(bound: SocksAddress): { established: boolean; head: Buffer; socket: Duplex };
  deny(reply: number, error?: unknown): void;
  /** Resolves a destination through the server's lookup and rules. */
  resolve(dest: SocksAddress): Promise<{ address: string; family: number }>;
  /** Every address of the destination that the rules allow, interleaved by family (RFC 8305 §4); rejects with the block when none is. */
  resolveAll(dest: SocksAddress, signal?: AbortSignal): Promise<Candidate[]>;
  /** Whether CONNECT may leave through an upstream (a server upstream, or a rule with `via:`): then route() decides. */
  readonly routed: boolean;
  /** Where CONNECT to `dest` goes (the rules' `via`, else `options.upstream`, else direct); rejects with the block. */
  route(dest: SocksAddress, signal?: AbortSignal): Promise<Route>;
  /** The rules' block for `address` as `dest` of this request (a BIND peer), or undefined when it may pass. */
  addressBlock(dest: SocksAddress, address: string): SocksError | undefined;
  /** Notes the address actually dialled (or the upstream that carries the tunnel), for the connection's record. */
  dialled(address: SocksAddress | undefined, via?: Upstream): void;
  /** Called on close of the client connection. */
  onClose(f: () => void): void;
  /** Forgets a close callback that is no longer needed (keeps idle tunnels small). */
  offClose(f: () => void): void;
  /** Relay the established client stream with `other` (half-close, backpressure, idle timeout). */
  relay(client: Duplex, other: Duplex, head: Buffer): void;
  /** The negotiated method's protection (e.g. GSS-API), for UDP datagrams. */
  readonly encapsulation?: Encapsulation;
  /**
   * The command holds `n` descriptors beyond the two every connection is
   * budgeted (a UDP association's outbound sockets). False when the
   * descriptor budget has no room (only without an explicit maxConnections):
   * answer REP 01 then.
   */
  holdDescriptors?(n: number): boolean;
  /** Calls `f` after each reconfigure of the server, until the returned function is called. */
  watchReconfigure(f: () => void): () => void;
  /** False when, after a reconfigure, the identity this connection authenticated is no longer accepted (a user removed); true, without asking methods(ctx) again, when none happened since its handshake. */
  stillAuthorized(): boolean;
}

/** The socket addresses known at accept (read once, so an early reset still has them). */
export interface ConnInfo {
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
}

/** A connection as it closes: its ledger and what its record reads. */
export interface EndedConnection extends RecordSource {
  readonly ledger: Ledger;
  readonly options: Readonly<SocksServerOptions>;
}

/** What a connection needs from its server: counting, tracking, rules, method choice. */
export interface ConnectionHost extends TypedEmitter<SocksServerEvents> {
  readonly options: Readonly<SocksServerOptions>;
  /** The rules of `options`, compiled. */
  readonly policy: Policy;
  readonly registry: ConnectionRegistry;
  /** True once close() has started destroying connections. */
  readonly closing: boolean;
  /** Counts reconfigures: a connection that began under another generation re-checks its user. */
  readonly generation: number;
  /** @internal RelayOptions.spliceAfter for tunnels: undefined when they stay in JavaScript. */
  readonly spliceAfter: number | undefined;
  methodsFor(ctx: ServerAuthContext): readonly AuthMethod<unknown>[];
  socks4For(methods: readonly AuthMethod<unknown>[]): boolean;
  clientError(err: SocksError, source: SocksAddress | undefined): void;
  /** A connection closed: its ledger's bytes and error class are counted, its record emitted as 'connectionEnd'. */
  ended(conn: EndedConnection): void;
  /** A tunnel the server relays, with its outbound stream. */
  tunnelOpened(conn: { readonly request: SocksRequest; readonly source: SocksAddress }, upstream: Duplex): void;
  noDescriptor(where: 'accept' | 'connect' | 'bind' | 'udp', err: unknown): void;
  /** The limits the connection was admitted under. */
  readonly limits: ConnectionLimits;
}
