/**
 * GSS-API (RFC 1961) over Kerberos V5, through MIT GSS-API and the native
 * binding in native/kerberos: `sockskit/methods/gssapi-kerberos`.
 *
 *   server: gssapiKerberos({ keytab: '/etc/sockskit/proxy.keytab' })   // accepts rcmd/<any host>
 *   client: gssapiKerberos({})    // the default credentials cache, target rcmd@<proxy host as typed>
 *
 * The binding loads on the first connection (or kerberosMechanism() call);
 * where it is not built, that throws KerberosUnavailableError, which says
 * what to install. See docs/gssapi.md.
 */
import { LocalProtocolError } from '../../../lib/protocol/errors.js';
import type { AuthMethod, ClientAuthContext, ServerAuthContext } from '../../../lib/protocol/method.js';
import { gssapi, type GssapiOptions } from '../method.js';
import type { GssMechanism } from '../mechanism.js';
import { KerberosAcceptor, KerberosInitiator } from './context.js';
import { loadNative } from './native.js';

export { KerberosError, KerberosUnavailableError } from './errors.js';
export { kerberosAvailable } from './native.js';
export { readKeytab, parseKeytab } from './keytab.js';
export type { KeytabEntry } from './keytab.js';

/** RFC 1961's service name, which Dante uses too. */
export const DEFAULT_KERBEROS_SERVICE = 'rcmd';

export interface KerberosMechanismOptions {
  /** Service name (default 'rcmd'): the acceptor takes SERVICE/<any host> from the keytab; the client targets SERVICE@HOST. */
  service?: string;
  /** Server: the keytab file (default: the library's, KRB5_KTNAME or /etc/krb5.keytab). */
  keytab?: string;
  /** Server: replay cache name (default: the library's); 'none:' turns replay detection of authenticators off. */
  replayCache?: string;
  /** Client: the credentials cache, e.g. 'FILE:/tmp/krb5cc_1000' (default: KRB5CCNAME or the library's). */
  ccache?: string;
  /** Client: get tickets from this keytab instead of a cache (MIT client_keytab). */
  clientKeytab?: string;
  /** Client: the host of the target name (default: the proxy host as given in the proxy URL). */
  host?: string;
}

function checkName(what: string, v: string | undefined): void {
  if (v !== undefined && (typeof v !== 'string' || v.length === 0 || /[\0@\s]/.test(v))) {
    throw new LocalProtocolError(`gssapiKerberos: ${what} must be a non-empty name without '@', white space or NUL`);
  }
}

/** The Kerberos V5 mechanism for the GSS-API method: one fresh context per connection. */
export function kerberosMechanism(options: KerberosMechanismOptions = {}): GssMechanism {
  const gss = loadNative();
  const service = options.service ?? DEFAULT_KERBEROS_SERVICE;
  checkName('service', service);
  checkName('host', options.host);
  return {
    name: 'krb5',
    acceptor: (ctx: ServerAuthContext) =>
      new KerberosAcceptor(gss, { service, keytab: options.keytab, replayCache: options.replayCache }, ctx.signal),
    initiator: (ctx: ClientAuthContext) => {
      const host = options.host ?? ctx.proxy?.host;
      if (!host) throw new LocalProtocolError('gssapiKerberos: no proxy host to name the target (give options.host)');
      return new KerberosInitiator(gss, { target: `${service}@${host}`, ccache: options.ccache, clientKeytab: options.clientKeytab }, ctx.signal);
    },
  };
}

export interface GssapiKerberosOptions extends Omit<GssapiOptions, 'mechanism'>, KerberosMechanismOptions {}

/** Method 0x01 over Kerberos V5: both halves (server with a keytab, client with a credentials cache). */
export function gssapiKerberos(options: GssapiKerberosOptions = {}): AuthMethod<unknown> {
  const { service, keytab, replayCache, ccache, clientKeytab, host, ...rest } = options;
  return gssapi({ ...rest, mechanism: kerberosMechanism({ service, keytab, replayCache, ccache, clientKeytab, host }) });
}
