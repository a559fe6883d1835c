/**
 * What one connection is to the command handlers and the rules
 * (ConnectionControl, RuleSubject): its request, addresses and flags, the
 * checks before a command runs (a reload since the handshake began, the
 * per-user limits), and the server's services a command uses (the rules on
 * an address, lookup and route, the descriptor budget, the record).
 * connection.ts drives the handshake on top of it.
 */
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { Reply } from '../protocol/constants.js';
import { AuthError, SocksError, replyFromErrno } from '../protocol/errors.js';
import { printable } from '../protocol/printable.js';
import { SocksAddress, fromNodeAddress, formatAddress, isZeroAddress } from '../protocol/codec/address.js';
import type { SocksRequest } from '../protocol/server-handshake.js';
import type { AuthMethod } from '../protocol/method.js';
import type { AnyLookup, Candidate } from '../transport/happy-eyeballs.js';
import type { Policy } from './policy.js';
import { identityOf, type EndReason } from './access-log.js';
import type { AuthContext } from './auth-context.js';
import { allowedAddresses, routeFor, ruleInput } from './resolve.js';
import { Ledger } from './ledger.js';
import { stillKnown } from './revalidate.js';
import type { ConnectionLimits } from './connection-limits.js';
import type { ConnectionHost, ConnInfo, Route, SocksServerOptions, Upstream } from './types.js';

const debug = createDebug('sockskit:server');

const DECIDED = 1;
const FINISHED = 2;
const CLOSED = 4;
const VIA_HEADER = 8;
/** The socket had the client's address at accept (it had not reset). */
const KNOWN = 16;

export abstract class ConnectionState {
  request!: SocksRequest;
  readonly options: Readonly<SocksServerOptions>;
  readonly ledger = new Ledger();
  /** When the handshake deadline fires (Date.now() value). */
  deadline = 0;
  protected src: SocksAddress | undefined;
  protected loc: SocksAddress | undefined;
  /** DECIDED, FINISHED, CLOSED, VIA_HEADER, KNOWN: one field, not five (an idle tunnel keeps its Connection for the record). */
  protected flags = 0;
  /** The request was received: the hook and the command decide from here. */
  protected get decided(): boolean {
    return (this.flags & DECIDED) !== 0;
  }
  protected set decided(v: boolean) {
    this.flag(DECIDED, v);
  }
  /** The handshake is over (established, handed off, closed or refused). */
  protected get finished(): boolean {
    return (this.flags & FINISHED) !== 0;
  }
  protected set finished(v: boolean) {
    this.flag(FINISHED, v);
  }
  /** The engine closed the connection (the socket may take a while to close). */
  protected get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  protected set closed(v: boolean) {
    this.flag(CLOSED, v);
  }
  /** The client address came from a PROXY header. */
  protected get viaHeader(): boolean {
    return (this.flags & VIA_HEADER) !== 0;
  }
  protected set viaHeader(v: boolean) {
    this.flag(VIA_HEADER, v);
  }
  protected flag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }
  protected closers: (() => void)[] | undefined;
  protected auth: AuthContext | undefined;
  /** The methods offered to this client (for the record of a failure). */
  protected methods: readonly AuthMethod<unknown>[] = [];
  /** The server's configuration generation when the handshake began. */
  protected generation = 0;
  /** The verified user's rate for this request's tunnel, once accept() admitted the user (null: it did not: the flag's). */
  protected userRate: number | undefined | null = null;

  /** The limits the connection was admitted under (a reload may replace the server's). */
  protected readonly limits: ConnectionLimits;

  /** The socket's addresses, until both are read into `source` and `local`. */
  protected info: ConnInfo | undefined;

  protected constructor(readonly server: ConnectionHost, readonly socket: Duplex, info: ConnInfo) {
    this.options = server.options;
    this.limits = server.limits;
    this.info = info;
    if (info.remoteAddress !== undefined) this.flags = KNOWN;
  }

  /**
   * The rules in force now: a reload applies to every decision still to come
   * (a request, each new UDP destination); open TCP tunnels go on.
   */
  get policy(): Policy {
    return this.server.policy;
  }
  /** False when the client reset before its address could be read. */
  get clientKnown(): boolean {
    return (this.flags & (VIA_HEADER | KNOWN)) !== 0;
  }

  // Read lazily: each is a system call (getpeername/getsockname) most connections never need.
  get source(): SocksAddress {
    return (this.src ??= fromNodeAddress(this.info!.remoteAddress, this.info!.remotePort));
  }
  get local(): SocksAddress {
    return (this.loc ??= fromNodeAddress(this.info!.localAddress, this.info!.localPort));
  }

  onClose(f: () => void): void {
    if (this.socket.destroyed || this.closed) f();
    else (this.closers ??= []).push(f);
  }

  offClose(f: () => void): void {
    const i = this.closers?.indexOf(f) ?? -1;
    if (i >= 0) this.closers!.splice(i, 1);
    // Most lists held one handler until the tunnel started: an idle tunnel keeps no empty array.
    if (this.closers?.length === 0) this.closers = undefined;
  }

  protected runClosers(): void {
    const list = this.closers;
    this.closers = undefined;
    if (list) for (const f of list) f();
  }


  // How a connection ends with an error: counted, reported, answered.

  /** Counts and reports an error this connection ends with. */
  protected failed(err: SocksError, how: EndReason): void {
    debug('closing %s: %s', formatAddress(this.source), printable(err.message));
    this.ledger.failed(err, how, this.methods);
    this.server.clientError(err, this.source);
  }

  /** @internal A failure in our own continuation: this connection ends, never the process. */
  crashed(err: unknown): void {
    debug('closing %s: internal error: %s', formatAddress(this.source), printable(String((err as Error)?.message)));
    if (!this.socket.destroyed) this.server.clientError(new SocksError('ERR_SOCKS_PROTOCOL', `internal error: ${(err as Error)?.message}`, undefined, { cause: err }), this.source);
    this.socket.destroy();
  }

  /** @internal */
  hookFailed(settled: boolean, err: unknown): void {
    this.ledger.hookFailed = true;
    if (!settled) this.deny(replyFromErrno(err), err);
    else debug('request hook failed after deciding: %s', (err as Error)?.message);
  }

  /** @internal */
  handlerFailed(err: unknown): void {
    if (this.finished) this.crashed(err);
    else this.deny(replyFromErrno(err), err);
  }

  protected abstract clearTimer(): void;
  abstract deny(reply: number, error?: unknown): void;

  /** The checks before the command runs: false when the connection was answered (or is over) already. */
  protected admitted(): boolean {
    this.clearTimer();
    if (this.finished) return false;
    // Reconfigured while this client authenticated (a slow password check): the user must still be accepted.
    if (!this.stillAuthorized()) {
      this.deny(Reply.NotAllowedByRuleset, new AuthError('the user is no longer accepted (the server was reconfigured)', this.request.method?.code));
      return false;
    }
    const user = this.verifiedUser();
    if (user !== undefined && !this.admitUser(user)) return false;
    return true;
  }

  /**
   * Counts the request against its user's cap, and keeps the rate for the
   * relay: the limits of the rule deciding it (policy.userLimits), else the
   * flags. False when refused: 02 (SOCKS4 5B), for this user only; the class is `limit`.
   */
  private admitUser(user: string): boolean {
    const o = this.options;
    const flags = { maxConnections: o.maxConnectionsPerUser, rate: o.ratePerUser };
    const lim = this.policy.limits ? this.policy.userLimits(ruleInput(this, this.request.destination, undefined), this.request.command === 'udp' || isZeroAddress(this.request.destination), flags) : flags;
    this.userRate = lim.rate;
    if (this.limits.admitUser(this.socket, user, lim.maxConnections)) return true;
    const max = lim.maxConnections;
    this.deny(Reply.NotAllowedByRuleset, new SocksError('ERR_SOCKS_DENIED', `user ${printable(user)} has ${max} connections open already`, Reply.NotAllowedByRuleset, { cause: { code: 'ERR_SOCKS_LIMIT' } }));
    return false;
  }

  /** The identity a method verified (never SOCKS4's USERID): what per-user limits count. */
  protected verifiedUser(): string | undefined {
    const req = this.request;
    if (req.version === 4 || !req.method) return undefined;
    return identityOf(req.method.name, req.identity);
  }

  watchReconfigure(f: () => void): () => void {
    return this.server.registry.watchReconfigure(f);
  }

  stillAuthorized(): boolean {
    // No reconfigure since the handshake: what accepted it stands (methods(ctx) is asked once per connection).
    if (this.server.generation === this.generation) return true;
    try {
      return stillKnown(this.server.methodsFor(this.auth!), this.request);
    } catch {
      // methods(ctx) failed: nothing vouches for the identity any more.
      return false;
    }
  }

  addressBlock(dest: SocksAddress, address: string): SocksError | undefined {
    return this.policy.active ? this.policy.address(ruleInput(this, dest, address)) : undefined;
  }

  holdDescriptors(n: number): boolean {
    return this.limits.charge(this.socket, n, this.options.maxConnections === undefined);
  }

  dialled(address: SocksAddress | undefined, via?: Upstream): void {
    if (address) this.ledger.dialled = formatAddress(address);
    if (via) this.ledger.via = via.name;
    // The rule that let it through, for the access log (only when someone reads the record).
    if (this.policy.active && this.server.listenerCount('connectionEnd') > 0) this.ledger.rule = this.policy.decidedBy(ruleInput(this, this.request.destination, address?.host));
  }

  get routed(): boolean {
    return this.options.upstream !== undefined || this.policy.routes;
  }

  route(dest: SocksAddress, signal?: AbortSignal): Promise<Route> {
    return routeFor(this, this.options.lookup as AnyLookup | undefined, dest, this.options.upstream, signal);
  }

  resolve(dest: SocksAddress): Promise<{ address: string; family: number }> {
    return this.resolveAll(dest).then((c) => c[0]!);
  }

  resolveAll(dest: SocksAddress, signal?: AbortSignal): Promise<Candidate[]> {
    return allowedAddresses(this, this.options.lookup as AnyLookup | undefined, dest, signal);
  }
}
