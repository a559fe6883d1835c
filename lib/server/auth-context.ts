/**
 * What methods see of a connection (ServerAuthContext): getters on a
 * prototype (one small object per connection, no closures), each read
 * lazily: the addresses are system calls and the signal an AbortController
 * that most connections never need.
 */
import type { Duplex } from 'node:stream';
import { SocksError } from '../protocol/errors.js';
import type { SocksAddress } from '../protocol/codec/address.js';
import type { ServerAuthContext } from '../protocol/method.js';

/** The connection behind the context. */
interface AuthSubject {
  readonly source: SocksAddress;
  readonly local: SocksAddress;
  readonly deadline: number;
  readonly socket: Duplex;
}

export class AuthContext implements ServerAuthContext {
  readonly #conn: AuthSubject;
  #abort: AbortController | undefined;
  constructor(conn: AuthSubject) {
    this.#conn = conn;
  }
  get source(): SocksAddress {
    return this.#conn.source;
  }
  get local(): SocksAddress {
    return this.#conn.local;
  }
  get deadline(): number {
    return this.#conn.deadline;
  }
  /** Aborted when the client socket closes. */
  get signal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#conn.socket.destroyed) this.closed();
    }
    return this.#abort.signal;
  }
  /** The client socket closed: a method still waiting (ident, a PAM check) may stop. */
  closed(): void {
    if (this.#abort && !this.#abort.signal.aborted) this.#abort.abort(new SocksError('ERR_SOCKS_CLOSED', 'the client connection closed'));
  }
}
