/**
 * UDP ASSOCIATE, client side (RFC 1928 §7): a datagram socket whose every
 * datagram to the relay gets the SOCKS UDP header and whose every datagram
 * from the relay has it stripped.
 *
 *   app ─send(data, port, host)─▶ [RSV FRAG=0 ATYP DST PORT | data] ─▶ relay
 *   app ◀─'message'(data, rinfo)── strip header, rinfo = DST from header ◀─ relay
 *
 * The association lives as long as its TCP control connection: when either
 * the control connection or this socket closes, both close. Datagrams from
 * anywhere but the relay, and fragments (FRAG ≠ 0, not implemented), are
 * dropped silently, as the RFC asks.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { connect, dial, parseProxy, ConnectOptions, ConnectResult, ProxySpec } from './connect.js';
import { SocksAddress, makeAddress, fromNodeAddress, stripBrackets } from '../protocol/codec/address.js';
import { encodeUdpDatagram, decodeUdpDatagram } from '../protocol/codec/udp-header.js';
import { lookupAll } from '../transport/happy-eyeballs.js';
import { TypedEventEmitter } from '../transport/typed-events.js';
import { LocalProtocolError, SocksError } from '../protocol/errors.js';
import type { Encapsulation } from '../protocol/method.js';

const debug = createDebug('sockskit:client:udp');

export interface UdpAssociateOptions extends Omit<ConnectOptions, 'command' | 'destination' | 'onBound'> {
  /**
   * The address and port we will send from, as told to the proxy. Default:
   * the datagram socket's own address and port, bound before the request, so
   * that the relay accepts datagrams from it alone (with 0.0.0.0:0, "unknown",
   * the first datagram from the client's host would pin the association).
   * Through a chain the default stays 0.0.0.0:0: the relay is the last hop,
   * which sees the previous proxy, not us.
   */
  source?: { host: string; port: number };
  /** Local address to bind the datagram socket to; default: the control connection's local address. */
  localAddress?: string;
}

export interface UdpRemoteInfo {
  /** The remote host that sent the datagram, as the relay reports it (may be a name). */
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6' | 'domain';
  size: number;
}

/** SocksUdpSocket's events: name → listener arguments (one line to add one). */
export interface SocksUdpSocketEvents {
  /** A datagram from `rinfo` through the relay. */
  message: [data: Buffer, rinfo: UdpRemoteInfo];
  error: [err: Error];
  /** The association ended (close(), the control connection or the UDP socket). */
  close: [];
}

/** Close with close(); closing also ends the control connection. */
export class SocksUdpSocket extends TypedEventEmitter<SocksUdpSocketEvents> {
  /** Where datagrams go: BND from the reply, 0.0.0.0/:: replaced by the proxy's address. */
  readonly relay: SocksAddress;
  /** The TCP control connection. */
  readonly control: Duplex;
  readonly socket: dgram.Socket;
  private readonly encapsulation: Encapsulation | undefined;
  private closed = false;

  /** @internal use udpAssociate() */
  constructor(control: Duplex, socket: dgram.Socket, relay: SocksAddress, encapsulation?: Encapsulation) {
    super();
    this.control = control;
    this.socket = socket;
    this.relay = relay;
    this.encapsulation = encapsulation;
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => this.close());
    // Data on the control connection is meaningless; its end is the association's end.
    control.on('data', () => {});
    control.on('error', (err) => debug('control connection error: %s', err.message));
    control.on('end', () => this.close());
    control.on('close', () => this.close());
    control.resume();
  }

  /** Sends `data` to host:port through the relay. */
  send(data: Buffer | string, port: number, host: string, cb?: (err: Error | null) => void): void {
    if (this.closed) {
      const err = new LocalProtocolError('send() on a closed UDP association');
      if (cb) return void process.nextTick(cb, err);
      throw err;
    }
    let out = encodeUdpDatagram(makeAddress(stripBrackets(host), port), Buffer.isBuffer(data) ? data : Buffer.from(data));
    if (this.encapsulation?.wrapDatagram) out = this.encapsulation.wrapDatagram(out);
    this.socket.send(out, this.relay.port, this.relay.host, (err) => cb?.(err ?? null));
  }

  /** The local datagram address. */
  address(): net.AddressInfo {
    return this.socket.address();
  }

  /** Ends the association: closes the datagram socket and the control connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
    this.control.destroy();
    this.emit('close');
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // Only the relay may talk to us (RFC 1928 §7); compare addresses normalised.
    const from = fromNodeAddress(rinfo.address, rinfo.port);
    if (from.port !== this.relay.port || from.host !== this.relay.host) {
      debug('dropped a datagram from %s:%d (not the relay)', rinfo.address, rinfo.port);
      return;
    }
    let d;
    try {
      const wire = this.encapsulation?.unwrapDatagram ? this.encapsulation.unwrapDatagram(msg) : msg;
      d = decodeUdpDatagram(wire);
    } catch (err) {
      debug('dropped a malformed datagram: %s', (err as Error).message);
      return;
    }
    if (d.frag !== 0) {
      debug('dropped a fragment (FRAG %d)', d.frag);
      return;
    }
    const family = d.address.type === 'ipv4' ? 'IPv4' : d.address.type === 'ipv6' ? 'IPv6' : 'domain';
    this.emit('message', d.data, { address: d.address.host, port: d.address.port, family, size: d.data.length } satisfies UdpRemoteInfo);
  }
}

/**
 * With a single proxy and no `source`, dials first and binds the datagram
 * socket on the TCP connection's local address, so the request can announce
 * what was bound.
 */
async function bindEarly(options: UdpAssociateOptions): Promise<{ transport: Duplex; sock?: dgram.Socket } | undefined> {
  const single = !Array.isArray(options.proxy) || options.proxy.length === 1;
  if (options.source || !single) return undefined;
  const hop = parseProxy(Array.isArray(options.proxy) ? options.proxy[0]! : (options.proxy as ProxySpec));
  const transport = options.socket ?? (await dial(hop.host, hop.port, { lookup: options.lookup, signal: options.signal }, options.connectTimeout ?? 10000));
  const local = options.localAddress ?? (transport as net.Socket).localAddress;
  if (!local || !net.isIP(local)) return { transport };
  try {
    return { transport, sock: await bindDatagram(net.isIP(local) === 6 ? 'udp6' : 'udp4', local) };
  } catch (err) {
    transport.destroy();
    throw err;
  }
}

/** `local` when it is an address of the datagram socket's family. */
function localOfFamily(local: string | undefined, type: 'udp4' | 'udp6'): string | undefined {
  return local && net.isIP(local) === (type === 'udp6' ? 6 : 4) ? local : undefined;
}

/**
 * Opens a UDP association through `proxy` (the last hop of a chain relays;
 * datagrams go to it directly). Resolves once the relay is known and the
 * local datagram socket is bound; rejects (ERR_SOCKS_CLOSED) if the proxy
 * closes the control connection before then.
 */
export async function udpAssociate(options: UdpAssociateOptions): Promise<SocksUdpSocket> {
  const early = await bindEarly(options);
  const bound = early?.sock?.address();
  const source = options.source ?? (bound ? { host: bound.address, port: bound.port } : { host: '0.0.0.0', port: 0 });
  let res: ConnectResult;
  try {
    res = await connect({ ...options, socket: early?.transport ?? options.socket, command: 'udp', destination: source });
  } catch (err) {
    early?.sock?.close();
    throw err;
  }
  const { transport } = res;
  let relay = res.bound;
  // Nothing else listens to the control connection until SocksUdpSocket does:
  // a reset while the relay name is resolved or the datagram socket binds
  // must neither go unhandled nor leave an association without its control.
  let controlError: Error | undefined;
  const onControlError = (err: Error): void => {
    controlError ??= err;
  };
  res.socket.on('error', onControlError);
  let sock = early?.sock;
  try {
    if (relay.type === 'domain') {
      // A name for a relay is rare; only loopback names are resolved here without a lookup hook.
      relay = makeAddress(await resolveRelay(relay.host, options), relay.port);
    }
    const type = relay.type === 'ipv6' ? 'udp6' : 'udp4';
    if (sock && (sock.address().family === 'IPv6' ? 'udp6' : 'udp4') !== type) {
      // The relay is of another family than the control connection: the announced port cannot be kept.
      debug('relay %s is not of the announced family; binding anew', relay.host);
      sock.close();
      sock = undefined;
    }
    sock ??= await bindDatagram(type, localOfFamily(options.localAddress ?? (transport as net.Socket).localAddress, type));
    if (controlError || res.socket.destroyed || res.socket.readableEnded) {
      throw new SocksError('ERR_SOCKS_CLOSED', `the proxy closed the UDP ASSOCIATE control connection${controlError ? ` (${(controlError as NodeJS.ErrnoException).code ?? controlError.message})` : ''}`, undefined, { cause: controlError });
    }
    res.socket.off('error', onControlError);
    debug('UDP association via %s:%d from %o', relay.host, relay.port, sock.address());
    return new SocksUdpSocket(res.socket, sock, relay, res.encapsulation);
  } catch (err) {
    sock?.close();
    res.socket.destroy();
    transport.destroy();
    throw err;
  }
}

/** A datagram socket bound to `host` (or the wildcard) on an ephemeral port. */
function bindDatagram(type: 'udp4' | 'udp6', host: string | undefined): Promise<dgram.Socket> {
  const sock = dgram.createSocket(type);
  return new Promise<dgram.Socket>((resolve, reject) => {
    sock.once('error', (err) => {
      sock.close();
      reject(err);
    });
    sock.bind(0, host, () => {
      sock.removeAllListeners('error');
      // Until SocksUdpSocket listens, an error (none is expected) must not reach the process.
      sock.on('error', (err) => debug('datagram socket error: %s', err.message));
      resolve(sock);
    });
  });
}

function resolveRelay(host: string, options: UdpAssociateOptions): Promise<string> {
  const lookup = options.lookup;
  if (!lookup) {
    if (host === 'localhost') return Promise.resolve('127.0.0.1');
    return Promise.reject(new LocalProtocolError(`the proxy named its UDP relay ${host}; pass a lookup to resolve it`));
  }
  return lookupAll(lookup, host).then((all) => all[0]!.address);
}
