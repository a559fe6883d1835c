/**
 * Authentication flags shared by the programs: --gssapi-psk,
 * --gssapi-keytab / --gssapi-kerberos and --gssapi-service with
 * --gssapi-protection (proxy and connect), --user/--users (the proxy).
 */
import { readInput } from './inputs.js';
import { gssapiPsk, parsePskKey, type GssProtection } from '../../methods/gssapi/index.js';
import { isPasswordHash, parsePasswordHash } from '../../methods/userpass.js';
import type { AuthMethod } from '../protocol/method.js';
import { UsageError } from './errors.js';
import { kerberosClient, kerberosServer } from './kerberos-flags.js';
import { describeFsError, parseChoice, permissionWarning } from './values.js';

interface GssapiFlags {
  method: AuthMethod<unknown>;
  protection: GssProtection;
  /** For the listening line, e.g. 'GSS-API Kerberos (rcmd/proxy@EXAMPLE.ORG), confidentiality'. */
  describe: string;
}

/**
 * GSS-API from the flags, or undefined without any: `--gssapi-psk FILE` (the
 * shared-key test mechanism), `--gssapi-keytab FILE` (Kerberos acceptor,
 * the proxy) or `--gssapi-kerberos` (Kerberos initiator, connect), with
 * `--gssapi-service NAME` (Kerberos) and `--gssapi-protection LEVEL`
 * (`fallback` when not given). `warn` gets a key file or keytab readable by
 * others. `kerberosFlag` is the program's Kerberos flag, for messages.
 */
export function gssapiFromFlags(v: Record<string, unknown>, fallback: GssProtection | undefined, warn: (w: string) => void, kerberosFlag = '--gssapi-keytab'): GssapiFlags | undefined {
  const file = v['gssapi-psk'] as string | undefined;
  const keytab = v['gssapi-keytab'] as string | undefined;
  const kerberos = v['gssapi-kerberos'] === true;
  const service = v['gssapi-service'] as string | undefined;
  const given = v['gssapi-protection'] as string | undefined;
  const chosen = [file !== undefined && '--gssapi-psk', keytab !== undefined && '--gssapi-keytab', kerberos && '--gssapi-kerberos'].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`${chosen.join(' and ')} are both GSS-API (method 01): choose one`);
  if (given !== undefined && chosen.length === 0) throw new UsageError(`--gssapi-protection needs --gssapi-psk or ${kerberosFlag}`);
  if (service !== undefined && keytab === undefined && !kerberos) throw new UsageError(`--gssapi-service needs ${kerberosFlag}`);
  const level = parseChoice('gssapi-protection', given, ['integrity', 'confidentiality', 'selective'], 'confidentiality');
  const protection = given === undefined ? fallback : level;
  const shown = protection ?? 'confidentiality';
  if (keytab !== undefined) {
    const k = kerberosServer(keytab, service, protection, warn);
    return { method: k.method, protection: shown, describe: `${k.describe}, ${shown}` };
  }
  if (kerberos) return { method: kerberosClient(service, protection), protection: shown, describe: `GSS-API Kerberos, ${shown}` };
  if (file === undefined) return undefined;
  let key: Buffer;
  try {
    key = parsePskKey(readInput(file));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`--gssapi-psk: ${e.syscall ? `cannot read the key file (${e.code})` : e.message}`);
  }
  const w = permissionWarning(file, 'GSS-API key file');
  if (w) warn(w);
  return { method: gssapiPsk({ key, protection }), protection: shown, describe: `GSS-API psk-test, ${shown}` };
}

/** NAME:PASSWORD (or NAME:$scrypt$...) lines; `where` names the source in errors. */
export function parseUsers(lines: string[], where: string): Map<string, string> {
  const users = new Map<string, string>();
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const colon = line.indexOf(':');
    const at = `${where}${where.endsWith(':') ? '' : ` line ${i + 1}:`}`;
    if (colon < 0) throw new UsageError(`${at} expected NAME:PASSWORD`);
    // RFC 1929 allows neither (ULEN and PLEN are 1 to 255).
    if (colon === 0) throw new UsageError(`${at} empty user name`);
    if (colon === line.length - 1) throw new UsageError(`${at} empty password`);
    const pw = line.slice(colon + 1);
    if (isPasswordHash(pw)) {
      try {
        parsePasswordHash(pw);
      } catch (err) {
        throw new UsageError(`${at} ${(err as Error).message}`);
      }
    }
    users.set(line.slice(0, colon), pw);
  });
  return users;
}

/** The users of repeated --user and of the --users file (which wins on a name in both). */
export function usersFromFlags(v: Record<string, unknown>, warn: (w: string) => void): Map<string, string> {
  const users = new Map<string, string>();
  for (const u of (v.user as string[] | undefined) ?? []) for (const [k, p] of parseUsers([u], `--user ${JSON.stringify(u.split(':')[0])}:`)) users.set(k, p);
  const file = v.users as string | undefined;
  if (file === undefined) return users;
  let text: string;
  try {
    text = readInput(file).toString('utf8');
  } catch (err) {
    throw new UsageError(`cannot read --users file ${file}: ${describeFsError(err)}`);
  }
  const w = permissionWarning(file, 'password file');
  if (w) warn(w);
  for (const [k, p] of parseUsers(text.split('\n'), file)) users.set(k, p);
  return users;
}
