/**
 * The ledger of one connection: what its 'connectionEnd' record (the access
 * log and the metrics) is built from, filled in as the connection goes. It is
 * also the relay's byte counter, so a tunnel costs no second object.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { formatAddress, type SocksAddress } from '../protocol/codec/address.js';
import type { SocksRequest } from '../protocol/server-handshake.js';
import type { RelayCounter } from '../transport/relay.js';
import { AuthError, SocksError, replyFromErrno } from '../protocol/errors.js';
import { RuleBlock } from './policy.js';
import type { AuthMethod } from '../protocol/method.js';
import { errorClass, identityOf, type ConnectionRecord, type EndReason, type ErrorClass } from './access-log.js';
import { isoTime } from './iso-time.js';

/** What the record reads from the connection when it is built. */
export interface RecordSource {
  readonly request: SocksRequest | undefined;
  readonly source: SocksAddress;
  readonly local: SocksAddress;
  readonly socket: Duplex;
  /** False when the client's address could not be read (it reset before accept): `source` is then a placeholder. */
  readonly clientKnown: boolean;
}

/** What most connections never set: kept apart, allocated at the first value (an idle tunnel holds the ledger). */
interface Rare {
  via?: string;
  hookFailed?: boolean;
  authMethod?: string;
  quiet?: boolean;
  authUser?: string;
  rule?: string;
  mark?: { read: number; written: number };
}

export class Ledger implements RelayCounter {
  readonly t0 = Date.now();
  handshakeMs: number | undefined;
  /** The address CONNECT dialled. */
  dialled: string | undefined;
  /** The reply code sent (0: success). */
  reply: number | undefined;
  how: EndReason | undefined;
  error: ErrorClass | undefined;
  /** The server relays a tunnel and counts its bytes here (RelayCounter). */
  relayed = false;
  up = 0;
  down = 0;
  end: RelayCounter['end'];
  private rare: Rare | undefined;

  private put<K extends keyof Rare>(k: K, v: Rare[K]): void {
    if (v || this.rare) (this.rare ??= {})[k] = v;
  }
  /** The upstream proxy that carried CONNECT (its name, no credentials). */
  get via(): string | undefined {
    return this.rare?.via;
  }
  set via(v: string | undefined) {
    this.put('via', v);
  }
  /** The request hook threw (the error class is then `hook`). */
  get hookFailed(): boolean {
    return this.rare?.hookFailed ?? false;
  }
  set hookFailed(v: boolean) {
    this.put('hookFailed', v);
  }
  /** The method named by an authentication failure before any request. */
  get authMethod(): string | undefined {
    return this.rare?.authMethod;
  }
  set authMethod(v: string | undefined) {
    this.put('authMethod', v);
  }
  /**
   * Behind a PROXY listener, until a real client shows: nothing received, or
   * only a PROXY v2 LOCAL header (what balancers' health checks send).
   */
  get quiet(): boolean {
    return this.rare?.quiet ?? false;
  }
  set quiet(v: boolean) {
    this.put('quiet', v);
  }
  /** The user name a failed authentication tried. */
  get authUser(): string | undefined {
    return this.rare?.authUser;
  }
  set authUser(v: string | undefined) {
    this.put('authUser', v);
  }
  /** The rule that decided a block (RuleBlock.rule), or let the tunnel through. */
  get rule(): string | undefined {
    return this.rare?.rule;
  }
  set rule(v: string | undefined) {
    this.put('rule', v);
  }
  /** After a hand-off: the socket's counters at that moment. */
  private get mark(): Rare['mark'] {
    return this.rare?.mark;
  }
  private set mark(v: Rare['mark']) {
    this.put('mark', v);
  }

  /** The error the connection ends with: how it ended and its class, first cause wins. */
  failed(err: SocksError, how: EndReason, methods: readonly AuthMethod<unknown>[]): void {
    this.how ??= how;
    if (err instanceof AuthError) {
      if (err.method !== undefined) this.authMethod = methods.find((m) => m.code === err.method)?.name ?? `0x${err.method.toString(16)}`;
      this.authUser = err.user;
    }
    if (err instanceof RuleBlock) this.rule ??= err.rule;
    this.error ??= errorClass(err, this.hookFailed);
  }

  /** After a hand-off, the application's own work failed (a backend that does not answer): its class, as a failure reply's would be. */
  handoffFailed(err: unknown): void {
    const as = err instanceof SocksError ? err : new SocksError('ERR_SOCKS_DENIED', String((err as Error)?.message ?? err), replyFromErrno(err), { cause: err });
    this.error ??= errorClass(as);
  }

  handshakeOver(): void {
    this.handshakeMs ??= Date.now() - this.t0;
  }

  /** A hand-off: from here the socket's own counters (plus the head already read) give the bytes. */
  handedOff(socket: Duplex, headLength: number): void {
    const raw = socket as Partial<net.Socket>;
    if (typeof raw.bytesRead === 'number') this.mark = { read: raw.bytesRead - headLength, written: raw.bytesWritten ?? 0 };
  }

  /** Bytes each way: the relay's count, or the socket's since a hand-off. */
  bytes(socket: Duplex): { up: number; down: number } | undefined {
    if (this.relayed) return this;
    const m = this.mark;
    if (!m) return undefined;
    const raw = socket as net.Socket;
    return { up: raw.bytesRead - m.read, down: (raw.bytesWritten ?? 0) - m.written };
  }

  /** The record, built when the connection closes and only if someone listens for 'connectionEnd'. */
  record(c: RecordSource, closing: boolean, redactDestination: boolean | undefined): ConnectionRecord {
    const req = c.request;
    const b = this.bytes(c.socket);
    const method = req ? (req.version === 4 ? 'socks4' : req.method?.name) : this.authMethod;
    const now = Date.now();
    const r: ConnectionRecord = {
      time: isoTime(now),
      listener: formatAddress(c.local),
      client: c.clientKnown ? formatAddress(c.source) : undefined,
      method,
      identity: req ? identityOf(method, req.identity) : undefined,
      user: this.authUser,
      userid: req?.version === 4 ? req.userId : undefined,
      command: req?.command,
      destination: req && !redactDestination ? formatAddress(req.destination) : undefined,
      dialled: this.dialled,
      rule: this.rule,
      reply: this.reply,
      bytesUp: b?.up ?? 0,
      bytesDown: b?.down ?? 0,
      durationMs: now - this.t0,
      handshakeMs: this.handshakeMs,
      end: this.endReason(closing),
      error: this.error,
    };
    // Only when set: a direct tunnel's record has no `via` key at all.
    if (this.via !== undefined) r.via = this.via;
    return r;
  }

  /** A balancer's health check: it closed while quiet, before any error or request. */
  get healthCheck(): boolean {
    return this.quiet && this.how === undefined && this.error === undefined;
  }

  private endReason(closing: boolean): EndReason {
    if (this.how) return this.how;
    if (this.quiet) return 'healthcheck';
    if (closing) return 'shutdown';
    if (!this.relayed) return 'client-left';
    return this.end === 'idle' ? 'idle' : this.end === 'reset' ? 'reset' : 'closed';
  }
}
