/**
 * The addresses a request may reach: its destination resolved through the
 * server's lookup, unspecified addresses refused, and the compiled rules
 * applied before the lookup (a name blocked by itself is never looked up) and
 * to every address after it.
 */
import { SocksError } from '../protocol/errors.js';
import { Reply } from '../protocol/constants.js';
import { isUnspecified, type SocksAddress } from '../protocol/codec/address.js';
import { lookupAll, interleave, type AnyLookup, type Candidate } from '../transport/happy-eyeballs.js';
import type { RuleInput } from './rules.js';
import type { Policy } from './policy.js';
import type { SocksRequest } from '../protocol/server-handshake.js';

/** The connection asking. */
export interface RuleSubject {
  readonly policy: Policy;
  readonly request: SocksRequest;
  readonly source: SocksAddress;
}

/** What the rules see of `conn`'s request with `dest` (and the address to dial, once known). */
export function ruleInput(conn: RuleSubject, dest: SocksAddress, address: string | undefined): RuleInput {
  const r = conn.request;
  return { client: conn.source.host, method: r.method?.name, identity: r.identity, command: r.command, host: dest.host, hostType: dest.type, port: dest.port, address };
}

/** Every address of `dest` that the rules allow, interleaved by family (RFC 8305 §4); rejects with the first block when none is. */
export async function allowedAddresses(conn: RuleSubject, lookup: AnyLookup | undefined, dest: SocksAddress, signal?: AbortSignal): Promise<Candidate[]> {
  const p = conn.policy;
  const early = p.active && dest.type === 'domain' ? p.beforeLookup(ruleInput(conn, dest, undefined)) : undefined;
  if (early) throw early;
  const all = dest.type === 'domain'
    ? await lookupAll(lookup, dest.host, 0, signal)
    : [{ address: dest.host, family: dest.type === 'ipv6' ? 6 as const : 4 as const }];
  // Checked on the resolved address: "0" and "0.0.0.0" as names count too.
  const specified = all.filter((c) => !isUnspecified(c.address));
  if (specified.length === 0) {
    throw new SocksError('ERR_SOCKS_DENIED', `destination ${all.map((c) => c.address).join(', ')} is unspecified`, Reply.NotAllowedByRuleset);
  }
  if (!p.active) return interleave(specified);
  let first: SocksError | undefined;
  const allowed = specified.filter((c) => {
    const block = p.address(ruleInput(conn, dest, c.address));
    first ??= block;
    return !block;
  });
  if (allowed.length === 0) throw first;
  return interleave(allowed);
}
