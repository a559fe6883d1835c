/**
 * The addresses a request may reach: its destination resolved through the
 * server's lookup, unspecified addresses refused, and the compiled rules
 * applied before the lookup (a name blocked by itself is never looked up) and
 * to every address after it.
 */
import { SocksError } from '../protocol/errors.js';
import { Reply } from '../protocol/constants.js';
import { isUnspecified, makeAddress, type SocksAddress } from '../protocol/codec/address.js';
import { lookupAll, interleave, type AnyLookup, type Candidate } from '../transport/happy-eyeballs.js';
import type { RuleInput } from './rules.js';
import type { Policy } from './policy.js';
import type { SocksRequest } from '../protocol/server-handshake.js';
import type { Route, Upstream, Via } from './types.js';

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
  const specified = await specifiedAddresses(lookup, dest, signal);
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

/** The addresses of `dest` (looked up when a name), unspecified ones refused. */
async function specifiedAddresses(lookup: AnyLookup | undefined, dest: SocksAddress, signal?: AbortSignal): Promise<Candidate[]> {
  const all = dest.type === 'domain'
    ? await lookupAll(lookup, dest.host, 0, signal)
    : [{ address: dest.host, family: dest.type === 'ipv6' ? 6 as const : 4 as const }];
  // Checked on the resolved address: "0" and "0.0.0.0" as names count too.
  const specified = all.filter((c) => !isUnspecified(c.address));
  if (specified.length === 0) {
    throw new SocksError('ERR_SOCKS_DENIED', `destination ${all.map((c) => c.address).join(', ')} is unspecified`, Reply.NotAllowedByRuleset);
  }
  return specified;
}

/**
 * Where CONNECT to `dest` goes: the passing rule's `via`, else `fallback`
 * (the server's upstream), else direct. A name the rules decide on without
 * its address goes upstream as a name (the upstream resolves it); when they
 * need the address, it is resolved here and the address that passed is what
 * goes upstream, so the rules judge what is really asked for.
 */
export async function routeFor(conn: RuleSubject, lookup: AnyLookup | undefined, dest: SocksAddress, fallback: Upstream | undefined, signal?: AbortSignal): Promise<Route> {
  const p = conn.policy;
  const direct = async (): Promise<Route> => ({ via: 'direct', candidates: await allowedAddresses(conn, lookup, dest, signal) });
  if (!fallback && !p.routes) return direct();
  const early = p.route(ruleInput(conn, dest, undefined));
  if (early?.block) throw early.block;
  if (early) {
    const via = early.via ?? fallback ?? 'direct';
    return via === 'direct' ? direct() : { via, destination: dest };
  }
  let first: SocksError | undefined;
  const allowed: { c: Candidate; via: Via }[] = [];
  for (const c of interleave(await specifiedAddresses(lookup, dest, signal))) {
    const r = p.route(ruleInput(conn, dest, c.address))!;
    if (r.block) first ??= r.block;
    else allowed.push({ c, via: r.via ?? fallback ?? 'direct' });
  }
  if (allowed.length === 0) throw first;
  const via = allowed[0]!.via;
  if (via === 'direct') return { via, candidates: allowed.filter((a) => a.via === 'direct').map((a) => a.c) };
  return { via, destination: makeAddress(allowed[0]!.c.address, dest.port) };
}

/**
 * An IP-literal destination as its one candidate, checked as
 * allowedAddresses() checks it (the same errors, thrown), without a promise;
 * undefined for a name. `conn.addressBlock` applies the rules.
 */
export function literalCandidate(conn: { addressBlock(dest: SocksAddress, address: string): SocksError | undefined }, dest: SocksAddress): Candidate | undefined {
  if (dest.type === 'domain') return undefined;
  if (isUnspecified(dest.host)) throw new SocksError('ERR_SOCKS_DENIED', `destination ${dest.host} is unspecified`, Reply.NotAllowedByRuleset);
  const block = conn.addressBlock(dest, dest.host);
  if (block) throw block;
  return { address: dest.host, family: dest.type === 'ipv6' ? 6 : 4 };
}
