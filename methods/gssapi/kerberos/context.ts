/**
 * One Kerberos security context per SOCKS connection, both halves, over the
 * native binding. Everything it holds (context, credential, names) is
 * released explicitly by release(), which the mechanism calls when the
 * connection closes; finalizers are only the fallback.
 */
import createDebug from 'debug';
import { RemoteProtocolError, SocksError } from '../../../lib/protocol/errors.js';
import type { GssAcceptorContext, GssInitiatorContext, GssStep, GssWrapOptions } from '../mechanism.js';
import { KerberosError } from './errors.js';
import {
  GSS_C_CONF_FLAG, GSS_C_INTEG_FLAG, GSS_C_MUTUAL_FLAG, GSS_C_REPLAY_FLAG, GSS_C_SEQUENCE_FLAG,
  GSS_S_DUPLICATE_TOKEN, GSS_S_GAP_TOKEN, GSS_S_OLD_TOKEN, GSS_S_UNSEQ_TOKEN,
  type AcquireOptions, type NativeCredential, type NativeGss, type NativeName, type NativeSecurityContext, type NativeStep,
} from './native.js';

const debug = createDebug('sockskit:method:gssapi-kerberos');

/** RFC 1961 §3: the client asks for mutual authentication, replay and sequence detection; we add conf and integ. */
export const INITIATOR_FLAGS = GSS_C_MUTUAL_FLAG | GSS_C_REPLAY_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG;
/** On a stream every token must be the next one; a datagram may be late or out of order, never repeated. */
const STREAM_BAD = GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN | GSS_S_UNSEQ_TOKEN | GSS_S_GAP_TOKEN;
const DATAGRAM_BAD = GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN;

function encapError(message: string, cause?: unknown): RemoteProtocolError {
  return new RemoteProtocolError(`GSS-API encapsulation (Kerberos): ${message}`, { code: 'ERR_SOCKS_ENCAPSULATION', cause });
}

function sequenceProblem(bits: number): string {
  if (bits & GSS_S_DUPLICATE_TOKEN) return 'a replayed token';
  if (bits & GSS_S_OLD_TOKEN) return 'a token too old to check for replay';
  if (bits & GSS_S_UNSEQ_TOKEN) return 'a token out of order';
  return 'a token after a gap (one was dropped)';
}

/** The per-message half shared by both sides. */
abstract class KerberosContext {
  protected readonly ctx: NativeSecurityContext;
  protected cred: NativeCredential | undefined;
  protected released = false;
  peerName: string | undefined;

  constructor(protected readonly gss: NativeGss, signal: AbortSignal | undefined) {
    this.ctx = new gss.SecurityContext();
    if (signal?.aborted) this.release();
    else signal?.addEventListener('abort', () => this.release(), { once: true });
  }

  /** Acquires the credential once (async: it may read a keytab or a cache); refuses after release. */
  protected async credential(options: AcquireOptions, what: string): Promise<NativeCredential> {
    if (!this.cred) {
      let cred: NativeCredential;
      try {
        cred = await this.gss.acquireCredential(options);
      } catch (err) {
        throw KerberosError.from(err, what);
      }
      if (this.released) {
        cred.release();
        throw new SocksError('ERR_SOCKS_CLOSED', 'the connection closed during Kerberos authentication');
      }
      this.cred = cred;
    }
    return this.cred;
  }

  protected step(r: NativeStep): GssStep {
    if (r.complete) this.peerName = r.peer ?? undefined;
    return { token: r.token.length ? r.token : undefined, complete: r.complete };
  }

  wrap(data: Buffer, confidential: boolean): Buffer {
    let out;
    try {
      out = this.ctx.wrap(data, confidential);
    } catch (err) {
      throw new SocksError('ERR_SOCKS_ENCAPSULATION', `GSS-API encapsulation (Kerberos): ${(err as Error).message}`, 0x01, { cause: err });
    }
    if (confidential && !out.confidential) throw new SocksError('ERR_SOCKS_ENCAPSULATION', 'GSS-API encapsulation (Kerberos): the context cannot encrypt');
    return out.token;
  }

  unwrap(token: Buffer, options?: GssWrapOptions): { data: Buffer; confidential: boolean } {
    let out;
    try {
      out = this.ctx.unwrap(token);
    } catch (err) {
      throw encapError((err as Error).message, err);
    }
    const bad = out.supplementary & (options?.datagram ? DATAGRAM_BAD : STREAM_BAD);
    if (bad) throw encapError(sequenceProblem(bad));
    return { data: out.data, confidential: out.confidential };
  }

  wrapSizeLimit(maxToken: number, confidential: boolean): number {
    return this.ctx.wrapSizeLimit(confidential, maxToken);
  }

  /** Deletes the context and releases the credential (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.ctx.release();
    this.cred?.release();
    this.cred = undefined;
    this.releaseNames();
  }

  protected releaseNames(): void {}
}

interface AcceptorSettings {
  service: string;
  keytab?: string;
  replayCache?: string;
}

/** The server half: gss_accept_sec_context with the keytab, any host for the service name. */
export class KerberosAcceptor extends KerberosContext implements GssAcceptorContext {
  private name: NativeName | undefined;

  constructor(gss: NativeGss, private readonly settings: AcceptorSettings, signal: AbortSignal | undefined) {
    super(gss, signal);
  }

  async acceptSecContext(token: Buffer): Promise<GssStep> {
    // `service` without a host: MIT matches any host of that service in the keytab.
    this.name ??= new this.gss.Name(this.settings.service, 'hostbased');
    const { keytab, replayCache } = this.settings;
    const cred = await this.credential({ usage: 'accept', name: this.name, keytab, rcache: replayCache }, 'Kerberos acceptor credential');
    let r: NativeStep;
    try {
      r = await this.ctx.acceptSecContext(cred, token);
    } catch (err) {
      throw KerberosError.from(err, 'Kerberos: the client could not be authenticated');
    }
    if (r.complete) debug('accepted %s', r.peer);
    return this.step(r);
  }

  protected override releaseNames(): void {
    this.name?.release();
  }
}

interface InitiatorSettings {
  /** The target as GSS host-based service name: SERVICE@HOST. */
  target: string;
  ccache?: string;
  clientKeytab?: string;
}

/** The client half: gss_init_sec_context for SERVICE@HOST with the credentials cache. */
export class KerberosInitiator extends KerberosContext implements GssInitiatorContext {
  private target: NativeName | undefined;

  constructor(gss: NativeGss, private readonly settings: InitiatorSettings, signal: AbortSignal | undefined) {
    super(gss, signal);
  }

  async initSecContext(token?: Buffer): Promise<GssStep> {
    const { ccache, clientKeytab } = this.settings;
    const cred = await this.credential({ usage: 'initiate', ccache, clientKeytab }, 'Kerberos initiator credential');
    this.target ??= new this.gss.Name(this.settings.target, 'hostbased');
    let r: NativeStep;
    try {
      r = await this.ctx.initSecContext(cred, this.target, INITIATOR_FLAGS, token ?? null);
    } catch (err) {
      throw KerberosError.from(err, `Kerberos: authentication to ${this.settings.target} failed`);
    }
    if (r.complete && !(r.flags & GSS_C_MUTUAL_FLAG)) throw new KerberosError('Kerberos: the server was not authenticated (no mutual authentication)', 0, 0);
    return this.step(r);
  }

  protected override releaseNames(): void {
    this.target?.release();
  }
}
