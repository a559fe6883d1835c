/**
 * Rules. Two forms:
 *  - Ruleset: destination allow/deny by CIDR, checked on the address actually
 *    dialled (after name resolution), so a name cannot smuggle a denied
 *    address. Deny rules win; with any allow rule present, only allowed
 *    addresses pass.
 *  - Rule[]: an ordered list, first match wins, as Dante's client/socks
 *    rules. A rule matches when every field it has matches (a field lists
 *    alternatives): client CIDR, user, binauth key, destination (CIDR on the
 *    dialled address, exact name, or name suffix such as `.internal` on the
 *    requested name), port or port range, command. No rule matching blocks
 *    (02), as in Dante: end a list with `{ action: 'pass' }` to pass the rest.
 */
import { Address4, Address6 } from 'ip-address';
import { Reply, type CommandName } from '../protocol/constants.js';
import { LocalProtocolError } from '../protocol/errors.js';
import type { Upstream, Via } from './upstream.js';

export interface Cidr {
  readonly text: string;
  contains(ip: string): boolean;
}

export function parseCidr(text: string): Cidr {
  const t = text.trim();
  try {
    if (t.includes(':')) {
      const net = new Address6(t.includes('/') ? t : `${t}/128`);
      return { text: t, contains: (ip) => ip.includes(':') && safe(() => new Address6(ip).isInSubnet(net)) };
    }
    if (!Address4.isValid(t.includes('/') ? t : `${t}/32`)) throw new Error('invalid');
    const net = new Address4(t.includes('/') ? t : `${t}/32`);
    return {
      text: t,
      contains: (ip) => {
        // An IPv4-mapped IPv6 destination (::ffff:7f00:1, any text form) reaches
        // the IPv4 address: match it as that address, or a deny rule is bypassed.
        const v4 = ip.includes(':') ? mappedV4(ip) : ip;
        return v4 !== undefined && safe(() => new Address4(v4).isInSubnet(net));
      },
    };
  } catch {
    throw new LocalProtocolError(`invalid CIDR ${JSON.stringify(text)}`);
  }
}

const MAPPED = new Address6('::ffff:0:0/96');

function mappedV4(ip: string): string | undefined {
  try {
    const a = new Address6(ip);
    return a.isInSubnet(MAPPED) ? a.to4().correctForm() : undefined;
  } catch {
    return undefined;
  }
}

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

export interface Ruleset {
  allow?: readonly Cidr[];
  deny?: readonly Cidr[];
}

/** True when `ip` may be dialled under the rules. */
export function allowedBy(rules: Ruleset, ip: string): boolean {
  if (rules.deny?.some((c) => c.contains(ip))) return false;
  if (rules.allow && rules.allow.length > 0) return rules.allow.some((c) => c.contains(ip));
  return true;
}

/** A destination pattern: a CIDR (matches the dialled address), a name, or a `.suffix`. */
export type DestinationPattern = { cidr: Cidr } | { name: string } | { suffix: string };

export interface Rule {
  action: 'pass' | 'block';
  /** How the access log names the rule (`rule=`); default its index in the list. */
  id?: string;
  /** Reply for block (default 02, not allowed by ruleset). */
  reply?: number;
  client?: readonly Cidr[];
  /** Usernames (the identity of userpass and similar methods). */
  user?: readonly string[];
  /** binauth public keys (hex). */
  key?: readonly string[];
  to?: readonly DestinationPattern[];
  /** Inclusive port ranges. */
  port?: readonly (readonly [number, number])[];
  command?: readonly CommandName[];
  /** Pass rules: the way out for what they pass (an upstream, or `direct`); default: the server's `upstream`. */
  via?: Via;
}

/** What a rule is matched against. */
export interface RuleInput {
  /** The client's address (after the PROXY protocol). */
  client: string;
  /**
   * The method's name and the identity it verified (a username; binauth: the
   * hex key). Never a claim nobody checked: the SOCKS4 USERID is not an
   * identity unless a check (ident) verified it.
   */
  method?: string;
  identity?: unknown;
  command: CommandName;
  /** The destination as requested, and its type. */
  host: string;
  hostType: 'ipv4' | 'ipv6' | 'domain';
  port: number;
  /** The address to be dialled, once known (a requested IP is its own address). */
  address?: string;
}

export interface RuleVerdict {
  action: 'pass' | 'block';
  reply: number;
  /** Index of the matching rule; -1 when none matched. */
  index: number;
  /** The matching pass rule's `via`, when it has one. */
  via?: Via;
}

/**
 * What is known when a rule list is asked early: the client always; the
 * request (command, method, identity) once it has arrived; the destination
 * (name, port) once the request names one — UDP ASSOCIATE's DST is the
 * client's own address and names none; the dialled address once resolved
 * (`input.address`, or a requested IP).
 */
export interface Known {
  request: boolean;
  destination: boolean;
}

/** A rule's match when some facts are unknown: no, yes, or maybe (an unknown fact decides). */
const enum Tri { No, Yes, Maybe }

/**
 * The verdict the list gives whatever the unknown facts turn out to be, or
 * undefined when they could change it. Rules that cannot match are passed
 * by; a rule that may match only adds its action to the possible outcomes;
 * the first rule that surely matches decides when every possible outcome
 * before it has its action (so earlier block rules that may match never
 * force a lookup for a later block). Only a pass or a block is certain here;
 * the full evaluation, once everything is known, names the rule that matched.
 */
export function evaluatePartial(rules: readonly Rule[], input: RuleInput, known: Known): RuleVerdict | undefined {
  let maybeBlock = false;
  let maybePass = false;
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    const m = matchKnown(r, input, known);
    if (m === Tri.No) continue;
    if (m === Tri.Maybe) {
      if (r.action === 'pass') maybePass = true;
      else maybeBlock = true;
      continue;
    }
    return (r.action === 'pass' ? maybeBlock : maybePass) ? undefined : verdict(r, i);
  }
  return maybePass ? undefined : NO_MATCH;
}

const NO_MATCH: RuleVerdict = { action: 'block', reply: Reply.NotAllowedByRuleset, index: -1 };

/**
 * The verdict before the name is resolved: undefined when a rule whose CIDR
 * needs the address could change it. A block decided here needs no DNS query
 * (a blocked name is never looked up).
 */
export function evaluateBeforeLookup(rules: readonly Rule[], input: RuleInput): RuleVerdict | undefined {
  return evaluatePartial(rules, { ...input, address: undefined }, { request: true, destination: true });
}

function verdict(r: Rule, index: number): RuleVerdict {
  const v: RuleVerdict = { action: r.action, reply: r.action === 'pass' ? Reply.Succeeded : (r.reply ?? Reply.NotAllowedByRuleset), index };
  if (r.via !== undefined) v.via = r.via;
  return v;
}

/** One destination pattern: a CIDR is unknown until the address is. */
function destinationTri(d: DestinationPattern, input: RuleInput): Tri {
  if ('cidr' in d) {
    const a = input.address ?? (input.hostType === 'domain' ? undefined : input.host);
    return a === undefined ? Tri.Maybe : d.cidr.contains(a) ? Tri.Yes : Tri.No;
  }
  if (input.hostType !== 'domain') return Tri.No;
  const h = input.host.toLowerCase().replace(/\.$/, '');
  if ('name' in d) return h === d.name ? Tri.Yes : Tri.No;
  return h.endsWith(d.suffix) || h === d.suffix.slice(1) ? Tri.Yes : Tri.No;
}

/** True when the rule's user or key field names the identity (a verified one: see RuleInput.identity). */
function identityMatches(r: Rule, input: RuleInput): boolean {
  if (r.user) {
    const id = input.identity;
    const name = typeof id === 'string' ? (input.method !== 'binauth' ? id : undefined) : (id as { username?: unknown } | null)?.username;
    if (!(typeof name === 'string' && r.user.includes(name))) return false;
  }
  if (r.key && !(input.method === 'binauth' && typeof input.identity === 'string' && r.key.includes(input.identity.toLowerCase()))) return false;
  return true;
}

function matchKnown(r: Rule, input: RuleInput, known: Known): Tri {
  if (r.client && !r.client.some((c) => c.contains(input.client))) return Tri.No;
  let maybe = false;
  if (r.command || r.user || r.key) {
    if (!known.request) maybe = true;
    else if ((r.command && !r.command.includes(input.command)) || !identityMatches(r, input)) return Tri.No;
  }
  if (r.port || r.to) {
    if (!known.destination) return Tri.Maybe;
    if (r.port && !r.port.some(([lo, hi]) => input.port >= lo && input.port <= hi)) return Tri.No;
    if (r.to) {
      let to = Tri.No;
      for (const d of r.to) {
        const t = destinationTri(d, input);
        if (t === Tri.Yes) {
          to = Tri.Yes;
          break;
        }
        if (t === Tri.Maybe) to = Tri.Maybe;
      }
      if (to === Tri.No) return Tri.No;
      if (to === Tri.Maybe) maybe = true;
    }
  }
  return maybe ? Tri.Maybe : Tri.Yes;
}

/** Everything known: a CIDR pattern with no address yet does not match. */
function ruleMatches(r: Rule, input: RuleInput): boolean {
  if (r.client && !r.client.some((c) => c.contains(input.client))) return false;
  if (r.command && !r.command.includes(input.command)) return false;
  if (r.port && !r.port.some(([lo, hi]) => input.port >= lo && input.port <= hi)) return false;
  if (!identityMatches(r, input)) return false;
  if (r.to && !r.to.some((d) => destinationTri(d, input) === Tri.Yes)) return false;
  return true;
}

/** First match wins; no match blocks with 02. */
export function evaluateRules(rules: readonly Rule[], input: RuleInput): RuleVerdict {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    if (ruleMatches(r, input)) return verdict(r, i);
  }
  return NO_MATCH;
}

const COMMANDS: readonly CommandName[] = ['connect', 'bind', 'udp'];
const RULE_KEYS = new Set(['action', 'id', 'reply', 'client', 'user', 'key', 'to', 'port', 'command', 'via']);

export interface ParseRulesOptions {
  /** Builds the upstream a rule's `via:` names (a proxy URL or a list: a chain); without it `via:` other than `direct` is refused. */
  upstream?: (urls: string[]) => Upstream;
}

function parseVia(v: unknown, o: ParseRulesOptions): Via {
  const urls = list(v).map(String);
  if (urls.length === 1 && urls[0] === 'direct') return 'direct';
  if (urls.length === 0) throw new Error('expected direct, a proxy URL or a list of them (a chain)');
  if (urls.includes('direct')) throw new Error('direct cannot be part of a chain');
  if (!o.upstream) throw new Error('upstream proxies are not available here');
  return o.upstream(urls);
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : [v];
}

/** A destination pattern from text: CIDR or IP, `.suffix`, or a name. */
export function parseDestinationPattern(text: string): DestinationPattern {
  const t = text.trim().toLowerCase();
  if (t.startsWith('.')) {
    if (t.length < 2) throw new LocalProtocolError(`invalid name suffix ${JSON.stringify(text)}`);
    return { suffix: t };
  }
  if (/^[0-9.]+(\/\d+)?$/.test(t) || t.includes(':')) return { cidr: parseCidr(t) };
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/.test(t)) throw new LocalProtocolError(`invalid destination ${JSON.stringify(text)} (a CIDR, a name or a .suffix)`);
  return { name: t.replace(/\.$/, '') };
}

function parsePorts(v: unknown): [number, number][] {
  return list(v).map((p) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(String(p).trim());
    const lo = m ? Number(m[1]) : NaN;
    const hi = m && m[2] !== undefined ? Number(m[2]) : lo;
    if (!m || lo > 65535 || hi > 65535 || lo > hi) throw new LocalProtocolError(`invalid port or range ${JSON.stringify(p)}`);
    return [lo, hi];
  });
}

/**
 * A rule list from plain data (a parsed config file): each entry an object
 * `{ action: pass|block, id?, reply?, client?, user?, key?, to?, port?, command?, via? }`,
 * list fields as arrays or comma-separated strings, ports as `443` or
 * `8000-8100`. Errors name the entry and key: `rules[2].port: ...`.
 */
export function parseRules(data: unknown, where = 'rules', options: ParseRulesOptions = {}): Rule[] {
  if (!Array.isArray(data)) throw new LocalProtocolError(`${where}: expected a list of rules`);
  return data.map((entry, i) => {
    const at = `${where}[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new LocalProtocolError(`${at}: expected a mapping with an action`);
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!RULE_KEYS.has(k)) throw new LocalProtocolError(`${at}.${k}: unknown key (known: ${[...RULE_KEYS].join(', ')})`);
    const field = <T>(k: string, f: (v: unknown) => T): T | undefined => {
      if (e[k] === undefined || e[k] === null) return undefined;
      try {
        return f(e[k]);
      } catch (err) {
        throw new LocalProtocolError(`${at}.${k}: ${(err as Error).message}`);
      }
    };
    if (e.action !== 'pass' && e.action !== 'block') throw new LocalProtocolError(`${at}.action: expected pass or block, got ${JSON.stringify(e.action)}`);
    const rule: Rule = {
      action: e.action,
      id: field('id', (v) => {
        if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`expected a name, got ${JSON.stringify(v)}`);
        const s = String(v);
        if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(s)) throw new Error(`expected 1 to 64 letters, digits or _ . : -, got ${JSON.stringify(s)}`);
        return s;
      }),
      reply: field('reply', (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 8) throw new Error(`expected a SOCKS5 failure reply code 1..8, got ${JSON.stringify(v)}`);
        return n;
      }),
      client: field('client', (v) => list(v).map((c) => parseCidr(String(c)))),
      user: field('user', (v) => list(v).map(String)),
      key: field('key', (v) =>
        list(v).map((k) => {
          const s = String(k).toLowerCase();
          if (!/^[0-9a-f]{64}$/.test(s)) throw new Error(`expected a 64-hex-digit public key, got ${JSON.stringify(k)}`);
          return s;
        }),
      ),
      to: field('to', (v) => list(v).map((d) => parseDestinationPattern(String(d)))),
      port: field('port', (v) => parsePorts(v)),
      command: field('command', (v) =>
        list(v).map((c) => {
          if (!COMMANDS.includes(c as CommandName)) throw new Error(`expected connect, bind or udp, got ${JSON.stringify(c)}`);
          return c as CommandName;
        }),
      ),
      via: field('via', (v) => parseVia(v, options)),
    };
    if (rule.reply !== undefined && rule.action === 'pass') throw new LocalProtocolError(`${at}.reply: only a block rule has a reply`);
    if (rule.via !== undefined && rule.action === 'block') throw new LocalProtocolError(`${at}.via: only a pass rule has a way out`);
    if (rule.via === undefined) delete rule.via;
    return rule;
  });
}
