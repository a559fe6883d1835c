/**
 * The Kerberos flags of the programs: sockskit-proxy --gssapi-keytab FILE
 * [--gssapi-service NAME] and sockskit-connect --gssapi-kerberos
 * [--gssapi-service NAME]. The keytab is read here (without the binding) so
 * that start-up and --check report an unreadable keytab or a missing
 * principal in one line; a missing binding is one line too.
 */
import type { GssProtection } from '../../methods/gssapi/index.js';
import { DEFAULT_KERBEROS_SERVICE, gssapiKerberos, KerberosUnavailableError, readKeytab } from '../../methods/gssapi/kerberos/index.js';
import type { AuthMethod } from '../protocol/method.js';
import { UsageError } from './errors.js';
import { describeFsError, permissionWarning } from './values.js';

const SERVICE = /^[A-Za-z0-9._-]{1,64}$/;

function checkService(service: string | undefined): string {
  const s = service ?? DEFAULT_KERBEROS_SERVICE;
  if (!SERVICE.test(s)) throw new UsageError(`--gssapi-service wants a service name (letters, digits, . _ -), got ${JSON.stringify(s)}`);
  return s;
}

/** gssapiKerberos(), with a missing binding as a one-line usage error naming what to install. */
function method(options: Parameters<typeof gssapiKerberos>[0]): AuthMethod<unknown> {
  try {
    return gssapiKerberos(options);
  } catch (err) {
    if (err instanceof KerberosUnavailableError) throw new UsageError(err.message);
    throw err;
  }
}

/** The keytab's SERVICE/HOST principals, or a UsageError saying what is wrong with it. */
function keytabPrincipals(file: string, service: string): string[] {
  let entries;
  try {
    entries = readKeytab(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`--gssapi-keytab ${file}: ${e.syscall ? `cannot read it (${describeFsError(err)})` : e.message}`);
  }
  const mine = [...new Set(entries.filter((e) => e.service === service && e.host !== undefined).map((e) => e.principal))];
  if (mine.length === 0) {
    const held = [...new Set(entries.map((e) => e.principal))];
    throw new UsageError(`--gssapi-keytab ${file}: no ${service}/HOST principal in it (it holds ${held.length ? held.join(', ') : 'nothing'}); add one with kadmin: ktadd -k ${file} ${service}/<proxy host>`);
  }
  return mine;
}

/** sockskit-proxy --gssapi-keytab: the acceptor method and what the listening line says. */
export function kerberosServer(keytab: string, service: string | undefined, protection: GssProtection | undefined, warn: (w: string) => void): { method: AuthMethod<unknown>; describe: string } {
  const name = checkService(service);
  const principals = keytabPrincipals(keytab, name);
  const w = permissionWarning(keytab, 'keytab');
  if (w) warn(w);
  return { method: method({ keytab, service: name, protection }), describe: `GSS-API Kerberos (${principals.join(', ')})` };
}

/** sockskit-connect --gssapi-kerberos: the initiator with KRB5CCNAME or the default cache. */
export function kerberosClient(service: string | undefined, protection: GssProtection | undefined): AuthMethod<unknown> {
  return method({ service: checkService(service), protection });
}
