/**
 * The commands behind the default accept(): each a CommandHandler (CONNECT,
 * BIND, UDP ASSOCIATE), replaceable per server (`connect`, `bind`, `udp` in
 * SocksServerOptions) and switched off with `false` or by `commands`.
 */
import { Reply, type CommandName } from '../../protocol/constants.js';
import type { SocksError } from '../../protocol/errors.js';
import { ruleInput, type RuleSubject } from '../resolve.js';
import type { CommandHandler, ConnectionControl } from '../types.js';
import { connectHandler } from './connect.js';
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
  // BIND and UDP: a rule list decides on the request as given (CONNECT decides on the addresses it dials).
  const block: SocksError | undefined = cmd !== 'connect' && conn.policy.active ? conn.policy.request(ruleInput(conn, conn.request.destination, undefined)) : undefined;
  if (block) return denied(conn, block.reply!, block);
  try {
    return Promise.resolve(handler(conn)).catch((err) => conn.handlerFailed(err));
  } catch (err) {
    conn.handlerFailed(err);
    return Promise.resolve();
  }
}

function denied(conn: ConnectionControl, reply: number, err?: SocksError): Promise<void> {
  conn.deny(reply, err);
  return Promise.resolve();
}
