/**
 * UDP ASSOCIATE for SocksServer (RFC 1928 §4, §6, §7): a CommandHandler.
 *
 *   client ──TCP: UDP ASSOCIATE DST=where the client will send from──▶
 *   ◀── reply: BND = the relay socket (a usable address, never a wildcard)
 *
 *   client ──[hdr dst|data]──▶ relay socket ──data──▶ dst      (outbound socket,
 *   client ◀──[hdr src|data]── relay socket ◀──data── src       one per family)
 *
 * One relay socket per association, bound on the interface the client
 * reached (or `external`). Accepted only: datagrams from the client's IP (the
 * TCP source; also DST.ADDR and DST.PORT of the request when not zero), and
 * replies from endpoints the client has sent to (`replies: 'any'` relaxes
 * that). Everything else is dropped silently (RFC 1928 §7). The first
 * accepted datagram fixes the client's port when DST.PORT was zero.
 *
 * Fragments (FRAG ≠ 0) are reassembled by lib/protocol/udp-reassembly.ts, or dropped
 * with `fragments: false`. Replies are never fragmented.
 *
 * Rules: every datagram is judged on its own destination (host and port,
 * command udp, the association's identity) by the rules in force when it
 * arrives, so a reload applies at once; only a name's lookup is reused for a
 * second, never a verdict. A reload that no longer accepts the association's
 * user ends it.
 *
 * The association lives as long as its TCP control connection: the TCP side
 * closing ends it, and the association ending (idle timeout, socket error,
 * its user removed by a reload) closes the TCP side. A method with datagram protection (GSS-API
 * wrapDatagram/unwrapDatagram) is applied to every datagram to and from the
 * client.
 */
import dgram from 'node:dgram';
import createDebug from 'debug';
import { replyFromErrno } from '../../protocol/errors.js';
import { Reply } from '../../protocol/constants.js';
import { SocksAddress, fromNodeAddress, formatAddress, isZeroAddress, isUnspecified, makeAddress, hostType } from '../../protocol/codec/address.js';
import { decodeUdpDatagram, encodeUdpDatagram } from '../../protocol/codec/udp-header.js';
import { UdpReassembler, ReassemblyOptions } from '../../protocol/udp-reassembly.js';
import type { CommandHandler, ConnectionControl } from '../types.js';
import type { Encapsulation } from '../../protocol/method.js';
import { DEFAULTS } from '../defaults.js';

const debug = createDebug('sockskit:udp');

export interface UdpOptions {
  /**
   * Address the relay socket binds to and advertises. Default: the local
   * address of the client's TCP connection. A wildcard binds everywhere but
   * advertises that local address.
   */
  external?: string | ((conn: ConnectionControl) => string);
  /** End the association after this many ms without a relayed datagram (default 300 000; 0: never). */
  idleTimeout?: number;
  /** Reassemble fragments (default true, with these options), or false to drop every FRAG ≠ 0. */
  fragments?: boolean | ReassemblyOptions;
  /** Replies accepted from: 'sent-to' (default) endpoints the client sent to, or 'any' source. */
  replies?: 'sent-to' | 'any';
  /** Remote endpoints remembered for reply filtering (default 1024; the oldest is forgotten). */
  maxPeers?: number;
  /** Also require the client's UDP address to equal a non-zero DST.ADDR (default true; false for clients behind NAT that announce a private address). */
  checkRequestAddress?: boolean;
  /**
   * Name lookups in flight per association (default 16). Each holds its
   * datagram until it answers; datagrams to a name beyond the cap are dropped
   * (UDP may lose them anyway). The last answer is reused for a second (the
   * address only: each datagram is still judged by the rules).
   */
  maxLookups?: number;
  /** Clock for the reassembly timer (default Date.now). */
  now?: () => number;
}

export function udpHandler(options: UdpOptions = {}): CommandHandler {
  return (conn) => new Association(conn, options).start();
}

type Family = 4 | 6;

/** Descriptors an association holds beyond the two every connection is budgeted: an outbound socket per family. */
export const UDP_EXTRA_DESCRIPTORS = 2;

/** How long the last name resolved is reused (dns.lookup gives no TTL; keep it short). */
const NAME_REUSE_MS = 1000;

class Association {
  private relaySocket: dgram.Socket | undefined;
  private readonly out = new Map<Family, dgram.Socket>();
  private readonly peers = new Map<string, true>();
  private client: { host: string; port: number } | undefined;
  private readonly clientHost: string;
  private readonly clientPort: number;
  private readonly requestHost: string | undefined;
  private readonly reassembler: UdpReassembler | undefined;
  private readonly now: () => number;
  private fragTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastActivity = 0;
  private ended = false;
  private enc: Encapsulation | undefined;
  /** Lookups in flight (each holds one datagram). */
  private lookups = 0;
  /** The last name resolved, reused briefly so a stream of datagrams to it needs no lookup each (the address, never a verdict). */
  private lastName: { host: string; address: string; family: number; until: number } | undefined;
  private unwatch: (() => void) | undefined;

  constructor(private readonly conn: ConnectionControl, private readonly o: UdpOptions) {
    this.clientHost = conn.source.host;
    const dst = conn.request.destination;
    // DST.* says where the client will send from; zeros (or a name) mean "unknown".
    this.clientPort = dst.port;
    this.requestHost = dst.type !== 'domain' && !isZeroAddress(dst) && o.checkRequestAddress !== false ? dst.host : undefined;
    const f = o.fragments ?? true;
    this.reassembler = f === false ? undefined : new UdpReassembler(f === true ? {} : f);
    this.now = o.now ?? Date.now;
  }

  start(): Promise<void> {
    const conn = this.conn;
    if (conn.socket.destroyed) return Promise.resolve();
    if (this.requestHost !== undefined && this.requestHost !== this.clientHost) {
      // Datagrams must come from the TCP client's IP *and* DST.ADDR: nothing could pass.
      debug('UDP ASSOCIATE from %s announces %s: no datagram would be accepted', this.clientHost, this.requestHost);
    }
    // The relay socket takes the descriptor budgeted for a destination; the
    // outbound sockets (one per family) take two more: none left, REP 01 now
    // rather than a client closed without a reply later.
    if (conn.holdDescriptors && !conn.holdDescriptors(UDP_EXTRA_DESCRIPTORS)) {
      conn.deny(Reply.GeneralFailure, Object.assign(new Error('no descriptors left for a UDP association (the descriptor budget is spent)'), { code: 'EMFILE' }));
      return Promise.resolve();
    }
    const ext = typeof this.o.external === 'function' ? this.o.external(conn) : this.o.external;
    const host = ext ?? conn.local.host;
    const type = hostType(host) === 'ipv6' ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    this.relaySocket = sock;
    return new Promise<void>((done) => {
      const onBindError = (err: Error) => {
        // The reply first (REP 01 for EMFILE, counted as noDescriptor), then
        // the sockets: shutdown() destroys the client socket.
        conn.deny(replyFromErrno(err), err);
        this.shutdown('bind failed', false);
        done();
      };
      sock.once('error', onBindError);
      sock.bind({ address: host, port: 0, exclusive: true }, () => {
        try {
          this.started(sock, conn, onBindError);
        } catch (err) {
          // Node called us: a failure here ends this association, never the process.
          debug('UDP ASSOCIATE for %s: internal error: %s', formatAddress(conn.source), (err as Error)?.message);
          this.shutdown('internal error');
        }
        done();
      });
    });
  }

  /** The relay socket is bound: answer, and relay until the control connection ends. */
  private started(sock: dgram.Socket, conn: ConnectionControl, onBindError: (err: Error) => void): void {
    sock.removeListener('error', onBindError);
    sock.on('error', (err) => {
      debug('relay socket error: %s', (err as NodeJS.ErrnoException).code ?? err.message);
      this.shutdown('relay socket error');
    });
    if (conn.socket.destroyed) {
      this.shutdown('client gone');
      return;
    }
    const a = sock.address();
    const bound = advertised(fromNodeAddress(a.address, a.port), conn.local);
    this.enc = conn.encapsulation;
    const r = conn.reply(bound);
    debug('UDP ASSOCIATE for %s: relay %s', formatAddress(conn.source), formatAddress(bound));
    // The control connection carries nothing more; read it only to see it end.
    r.socket.on('data', noop);
    r.socket.on('error', noop);
    r.socket.once('end', () => this.shutdown('control connection ended'));
    r.socket.once('close', () => this.shutdown('control connection closed'));
    r.socket.resume();
    conn.onClose(() => this.shutdown('control connection closed'));
    const recheck = () => {
      if (!conn.stillAuthorized()) this.shutdown('its identity is no longer accepted (reconfigured)');
    };
    this.unwatch = conn.watchReconfigure(recheck);
    // A reconfigure while the relay socket was binding had no watcher to tell.
    recheck();
    if (this.ended) return;
    sock.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    this.touch();
    conn.server.emit('udp', conn.request, conn.source, bound);
  }

  // ------------------------------------------------------------ client side

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const from = fromNodeAddress(rinfo.address, rinfo.port);
    if (from.host !== this.clientHost || (this.requestHost !== undefined && from.host !== this.requestHost)) {
      return debug('dropped datagram from foreign %s', formatAddress(from));
    }
    if (this.client) {
      if (from.port !== this.client.port) return debug('dropped datagram from %s: not the client port %d', formatAddress(from), this.client.port);
    } else if (this.clientPort !== 0 && from.port !== this.clientPort) {
      return debug('dropped datagram from %s: request named port %d', formatAddress(from), this.clientPort);
    }
    let plain = msg;
    if (this.enc?.unwrapDatagram) {
      try {
        plain = this.enc.unwrapDatagram(msg);
      } catch (err) {
        return debug('dropped datagram: unwrap failed: %s', (err as Error).message);
      }
    }
    let d;
    try {
      d = decodeUdpDatagram(plain);
    } catch (err) {
      return debug('dropped datagram: %s', (err as Error).message);
    }
    // The client is known from its first well-formed datagram on.
    if (!this.client) this.client = { host: rinfo.address, port: rinfo.port };
    if (d.frag !== 0) {
      if (!this.reassembler) return debug('dropped fragment 0x%s: reassembly is off', d.frag.toString(16));
      const r = this.reassembler.push(d.frag, d.address, d.data, this.now());
      this.scheduleFragTimer();
      if (r.type === 'dropped') return debug('dropped fragment: %s', r.reason);
      if (r.type === 'pending') return;
      this.forward(r.address, r.data);
      return;
    }
    this.forward(d.address, d.data);
  }

  private forward(dest: SocksAddress, data: Buffer): void {
    if (dest.type !== 'domain') return this.judged(dest, data, dest.host, dest.type === 'ipv6' ? 6 : 4);
    const last = this.lastName;
    if (last && last.host === dest.host && Date.now() < last.until) return this.judged(dest, data, last.address, last.family);
    if (this.lookups >= (this.o.maxLookups ?? DEFAULTS.udpMaxLookups)) return debug('dropped datagram to %s: %d lookups in flight', formatAddress(dest), this.lookups);
    this.lookups++;
    // resolve() applies the rules (a name blocked by itself is never looked up) to this destination.
    this.conn
      .resolve(dest)
      .then(
        ({ address, family }) => {
          this.lookups--;
          this.lastName = { host: dest.host, address, family, until: Date.now() + NAME_REUSE_MS };
          this.send(dest, data, address, family);
        },
        (err) => {
          this.lookups--;
          debug('dropped datagram to %s: %s', formatAddress(dest), (err as Error).message);
        },
      )
      // send() does not throw, but this continuation must never reject unhandled.
      .catch((err) => debug('dropped datagram to %s: %s', formatAddress(dest), (err as Error)?.message));
  }

  /** An address known without a lookup (an IP, or a name's reused answer): judged by the rules in force now, for this host and port. */
  private judged(dest: SocksAddress, data: Buffer, address: string, family: number): void {
    if (isUnspecified(address)) return debug('dropped datagram to %s: unspecified address', formatAddress(dest));
    const block = this.conn.addressBlock(dest, address);
    if (block) return debug('dropped datagram to %s: %s', formatAddress(dest), block.message);
    this.send(dest, data, address, family);
  }

  /** Sends to a resolved (and allowed) destination from the outbound socket of its family. */
  private send(dest: SocksAddress, data: Buffer, address: string, family: number): void {
    if (this.ended) return;
    // Port 0 cannot be sent to (dgram throws ERR_SOCKET_BAD_PORT): drop it.
    if (dest.port === 0) return debug('dropped datagram to %s: port 0', formatAddress(dest));
    const fam: Family = family === 6 ? 6 : 4;
    const sock = this.outbound(fam);
    const key = endpointKey(fromNodeAddress(address, dest.port));
    if (!this.peers.has(key)) {
      this.peers.set(key, true);
      const max = this.o.maxPeers ?? DEFAULTS.udpMaxPeers;
      if (this.peers.size > max) this.peers.delete(this.peers.keys().next().value!);
    }
    this.touch();
    trySend(sock, data, dest.port, address, formatAddress(dest));
  }

  private outbound(family: Family): dgram.Socket {
    let s = this.out.get(family);
    if (s) return s;
    s = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
    s.on('error', (err) => debug('outbound socket error: %s', (err as NodeJS.ErrnoException).code ?? err.message));
    s.on('message', (msg, rinfo) => this.fromRemote(msg, rinfo));
    s.bind(0, family === 6 ? '::' : '0.0.0.0');
    this.out.set(family, s);
    return s;
  }

  // ------------------------------------------------------------ remote side

  private fromRemote(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const from = fromNodeAddress(rinfo.address, rinfo.port);
    if (this.o.replies !== 'any' && !this.peers.has(endpointKey(from))) {
      return debug('dropped reply from %s: the client never sent there', formatAddress(from));
    }
    const client = this.client;
    if (!client || this.ended) return;
    let wire = encodeUdpDatagram(from, msg);
    if (this.enc?.wrapDatagram) {
      try {
        wire = this.enc.wrapDatagram(wire);
      } catch (err) {
        return debug('dropped reply: wrap failed: %s', (err as Error).message);
      }
    }
    this.touch();
    trySend(this.relaySocket!, wire, client.port, client.host, 'client');
  }

  // ------------------------------------------------------------ timers, end

  private scheduleFragTimer(): void {
    if (this.fragTimer) clearTimeout(this.fragTimer);
    this.fragTimer = undefined;
    const deadline = this.reassembler?.deadline;
    if (deadline === undefined || this.ended) return;
    this.fragTimer = setTimeout(() => {
      this.fragTimer = undefined;
      if (this.reassembler!.expire(this.now())) debug('reassembly timer expired: partial sequence dropped');
      this.scheduleFragTimer();
    }, Math.max(0, deadline - this.now()));
  }

  private touch(): void {
    const idle = this.o.idleTimeout ?? DEFAULTS.udpIdleTimeout;
    if (idle <= 0) return;
    this.lastActivity = Date.now();
    if (this.idleTimer) return;
    const check = () => {
      const left = this.lastActivity + idle - Date.now();
      if (left > 0) this.idleTimer = setTimeout(check, left);
      else {
        this.idleTimer = undefined;
        this.shutdown('idle timeout');
      }
    };
    this.idleTimer = setTimeout(check, idle);
  }

  /** Ends the association; `closeClient` false when a failure reply is on its way (deny() closes the client). */
  private shutdown(why: string, closeClient = true): void {
    if (this.ended) return;
    this.ended = true;
    this.unwatch?.();
    debug('association of %s ends: %s', formatAddress(this.conn.source), why);
    if (this.fragTimer) clearTimeout(this.fragTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.reassembler?.reset();
    for (const s of [this.relaySocket, ...this.out.values()]) {
      if (s) {
        try {
          s.close();
        } catch {
          /* already closed */
        }
      }
    }
    this.out.clear();
    this.peers.clear();
    if (closeClient) this.conn.socket.destroy();
  }
}

/** BND for the reply: the relay socket's address, or the TCP local address when bound to a wildcard. */
function advertised(bound: SocksAddress, local: SocksAddress): SocksAddress {
  if (!isZeroAddress(bound)) return bound;
  if (!isZeroAddress(local) && hostType(local.host) !== 'domain') return makeAddress(local.host, bound.port);
  return bound;
}

/**
 * dgram.send throws synchronously on a bad port or address and reports
 * routing errors to the callback: either way the datagram is dropped (UDP may
 * lose it anyway) and nothing reaches the process.
 */
function trySend(sock: dgram.Socket, data: Buffer, port: number, host: string, what: string): void {
  const failed = (err: unknown): void => {
    debug('send to %s failed: %s', what, (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message);
  };
  try {
    sock.send(data, port, host, (err) => {
      if (err) failed(err);
    });
  } catch (err) {
    failed(err);
  }
}

function endpointKey(a: SocksAddress): string {
  return `${a.host}|${a.port}`;
}

function noop(): void {}
