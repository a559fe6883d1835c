/**
 * The commands behind the default accept(): each a CommandHandler (CONNECT,
 * BIND, UDP ASSOCIATE), replaceable per server (`connect`, `bind`, `udp` in
 * SocksServerOptions) and switched off with `false` or by `commands`.
 */
import { Reply, type CommandName } from '../../protocol/constants.js';
import { SocksError } from '../../protocol/errors.js';
import { isZeroAddress } from '../../protocol/codec/address.js';
import { ruleInput, type RuleSubject } from '../resolve.js';
import type { CommandHandler, ConnectionControl, Upstream } from '../types.js';
import { connectHandler, connectNow } from './connect.js';
import { bindHandler } from './bind.js';
import { udpHandler } from './udp.js';

const DEFAULT_HANDLERS: Readonly<Record<CommandName, CommandHandler>> = { connect: connectHandler(), bind: bindHandler(), udp: udpHandler() };

/** The connection a command runs on, as the dispatcher sees it. */
export interface Dispatchable extends ConnectionControl, RuleSubject {
  /** The handler threw or rejected. */
  handlerFailed(err: unknown): void;
}

/** Runs the request's command: 07 when it is off, the rules' block for BIND and UDP, else its handler. */
export function dispatch(conn: Dispatchable): Promise<void> {
  const o = conn.options;
  const cmd = conn.request.command;
  const handler = o.commands && !o.commands.includes(cmd) ? undefined : (o[cmd] ?? DEFAULT_HANDLERS[cmd]);
  if (!handler) return denied(conn, Reply.CommandNotSupported);
  const block: SocksError | undefined = cmd !== 'connect' && conn.policy.active ? requestBlock(conn) : undefined;
  if (block) return denied(conn, block.reply!, block);
  const up = cmd !== 'connect' ? upstreamOf(conn) : undefined;
  if (up) return denied(conn, Reply.CommandNotSupported, new SocksError('ERR_SOCKS_DENIED', `${cmd} is not served through an upstream proxy (${up.name})`, Reply.CommandNotSupported));
  try {
    return Promise.resolve(handler(conn)).catch((err) => conn.handlerFailed(err));
  } catch (err) {
    conn.handlerFailed(err);
    return Promise.resolve();
  }
}

/**
 * dispatch() for a caller that does not wait (no request hook): the default
 * CONNECT, the common case, runs without a promise per connection.
 */
export function dispatchNow(conn: Dispatchable): void {
  const o = conn.options;
  if (conn.request.command === 'connect' && o.connect === undefined && (!o.commands || o.commands.includes('connect'))) return connectNow(conn);
  void dispatch(conn);
}

/** BIND and UDP routed to an upstream (a rule's `via`, else the server's): they cannot follow it, and must not leave directly. */
function upstreamOf(conn: Dispatchable): Upstream | undefined {
  const fallback = conn.options.upstream;
  if (!fallback && !conn.policy.routes) return undefined;
  const r = conn.policy.route(ruleInput(conn, conn.request.destination, undefined));
  const via = (r && !r.block ? r.via : undefined) ?? fallback;
  return via === 'direct' ? undefined : via;
}

/**
 * BIND and UDP: a rule list decides on the request as given (CONNECT decides
 * on the addresses it dials). UDP ASSOCIATE's DST is where the client will
 * send from, not a destination, and a BIND for any peer (DST 0.0.0.0) names
 * none: `to:`/`port:` rules cannot judge them, so the request is refused only
 * when no destination could pass; each datagram (each BIND peer) is judged
 * on its own address later.
 */
function requestBlock(conn: Dispatchable): SocksError | undefined {
  const dst = conn.request.destination;
  const input = ruleInput(conn, dst, undefined);
  if (conn.request.command === 'udp' || isZeroAddress(dst)) return conn.policy.anyDestination(input);
  return conn.policy.request(input);
}

function denied(conn: ConnectionControl, reply: number, err?: SocksError): Promise<void> {
  conn.deny(reply, err);
  return Promise.resolve();
}
