/**
 * Authentication flags shared by the programs: --gssapi-psk with
 * --gssapi-protection (proxy and connect), --user/--users (the proxy).
 */
import { readInput } from './inputs.js';
import { gssapiPsk, parsePskKey, type GssProtection } from '../../methods/gssapi/index.js';
import { isPasswordHash, parsePasswordHash } from '../../methods/userpass.js';
import type { AuthMethod } from '../protocol/method.js';
import { UsageError } from './errors.js';
import { describeFsError, parseChoice, permissionWarning } from './values.js';

export interface GssapiFlags {
  method: AuthMethod<unknown>;
  protection: GssProtection;
}

/**
 * GSS-API with the shared-key test mechanism from `--gssapi-psk FILE` and
 * `--gssapi-protection LEVEL` (`fallback` when not given), or undefined
 * without --gssapi-psk. `warn` gets a key file readable by others.
 */
export function gssapiFromFlags(v: Record<string, unknown>, fallback: GssProtection | undefined, warn: (w: string) => void): GssapiFlags | undefined {
  const file = v['gssapi-psk'] as string | undefined;
  const given = v['gssapi-protection'] as string | undefined;
  if (given !== undefined && file === undefined) throw new UsageError('--gssapi-protection needs --gssapi-psk');
  const level = parseChoice('gssapi-protection', given, ['integrity', 'confidentiality', 'selective'], 'confidentiality');
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
  const protection = given === undefined ? fallback : level;
  return { method: gssapiPsk({ key, protection }), protection: protection ?? 'confidentiality' };
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
