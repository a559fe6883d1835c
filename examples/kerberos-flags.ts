/**
 * The Kerberos flags of the programs: sockskit-proxy --gssapi-keytab FILE
 * [--gssapi-service NAME], sockskit-connect --gssapi-kerberos
 * [--gssapi-service NAME]. The keytab is read here (without the binding) so
 * that start-up and --check report an unreadable keytab or a missing
 * principal in one line.
 */
import { gssapiKerberos, readKeytab, KerberosUnavailableError, DEFAULT_KERBEROS_SERVICE } from '../lib/index.js';
import type { AuthMethod, GssProtection } from '../lib/index.js';
import { UsageError, describeFsError, permissionWarning } from './cli.js';

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
export function keytabPrincipals(file: string, service: string): string[] {
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

/** sockskit-proxy: the acceptor method and a description, or undefined without --gssapi-keytab. */
export function kerberosServer(v: { keytab?: string; service?: string; protection: GssProtection }, notices: string[]): { method: AuthMethod<unknown>; describe: string } | undefined {
  if (v.keytab === undefined) {
    if (v.service !== undefined) throw new UsageError('--gssapi-service needs --gssapi-keytab');
    return undefined;
  }
  const service = checkService(v.service);
  const principals = keytabPrincipals(v.keytab, service);
  const w = permissionWarning(v.keytab, 'keytab');
  if (w) notices.push(w);
  return {
    method: method({ keytab: v.keytab, service, protection: v.protection }),
    describe: `GSS-API Kerberos (${principals.join(', ')}), ${v.protection}`,
  };
}

/** sockskit-connect: the initiator method, or undefined without --gssapi-kerberos. The cache is KRB5CCNAME or the default. */
export function kerberosClient(v: { kerberos?: boolean; service?: string; protection?: GssProtection }): AuthMethod<unknown> | undefined {
  if (!v.kerberos) {
    if (v.service !== undefined) throw new UsageError('--gssapi-service needs --gssapi-kerberos');
    return undefined;
  }
  return method({ service: checkService(v.service), protection: v.protection });
}
