/**
 * The rules compiled once, when a server is (re)configured, into one policy
 * object: connections and command handlers ask it about a client, a request
 * or an address and never look at which form the rules were given in (a
 * Ruleset of CIDRs, or a Rule list, first match wins: rules.ts).
 *
 * Every question answers with the block (a RuleBlock: a SocksError carrying
 * the reply code and the rule that decided) or undefined for "pass"; no
 * exception is thrown to filter.
 */
import { SocksError } from '../protocol/errors.js';
import { Reply } from '../protocol/constants.js';
import { formatAddress } from '../protocol/codec/address.js';
import { allowedBy, evaluatePartial, evaluateRules, type Rule, type RuleInput, type RuleVerdict, type Ruleset } from './rules.js';
import type { Via } from './upstream.js';

/** A block by the rules: `rule` names the rule that decided (its id or index; `none` when no rule matched). */
export class RuleBlock extends SocksError {
  constructor(message: string, reply: number, readonly rule: string) {
    super('ERR_SOCKS_DENIED', message, reply);
  }
}

export interface Policy {
  /** False when there are no rules: callers may skip building a RuleInput. */
  readonly active: boolean;
  /** At accept, on the client address alone: a block here closes the connection before any byte is answered. */
  client(client: string): RuleBlock | undefined;
  /** On a request as given, before anything is resolved (only a list has a say). */
  request(input: RuleInput): RuleBlock | undefined;
  /** On a request whose DST names no destination (UDP ASSOCIATE; BIND for any peer): a block only when no destination could pass. */
  anyDestination(input: RuleInput): RuleBlock | undefined;
  /** On a name before it is looked up: a block decided by the name alone needs no DNS query. */
  beforeLookup(input: RuleInput): RuleBlock | undefined;
  /** On one address to dial or accept (`input.address` set). */
  address(input: RuleInput): RuleBlock | undefined;
  /** The rule that passes `input` (for the access log's `rule=`), or undefined. */
  decidedBy(input: RuleInput): string | undefined;
  /** Some rule names a way out (`via`): CONNECT must ask route() where to go. */
  readonly routes: boolean;
  /**
   * The block, or the pass with its rule's `via`; undefined when a name was
   * given (`input.address` unset) and its address is needed to decide.
   */
  route(input: RuleInput): { block: RuleBlock } | { block?: undefined; via: Via | undefined } | undefined;
}

const PASS = { via: undefined };

/** No rules: everything passes. */
export const OPEN_POLICY: Policy = {
  active: false,
  client: () => undefined,
  request: () => undefined,
  anyDestination: () => undefined,
  beforeLookup: () => undefined,
  address: () => undefined,
  decidedBy: () => undefined,
  routes: false,
  route: () => PASS,
};

/** Builds the policy of a server's `rules` option. */
export function compileRules(rules: Ruleset | readonly Rule[] | undefined): Policy {
  if (!rules) return OPEN_POLICY;
  return isRuleList(rules) ? new ListPolicy(rules) : new RulesetPolicy(rules);
}

function isRuleList(rules: Ruleset | readonly Rule[]): rules is readonly Rule[] {
  return Array.isArray(rules);
}

class RulesetPolicy implements Policy {
  readonly active = true;
  readonly routes = false;
  constructor(private readonly rules: Ruleset) {}
  route(input: RuleInput) {
    if (input.address === undefined && input.hostType === 'domain') return undefined;
    const block = this.address({ ...input, address: input.address ?? input.host });
    return block ? { block } : PASS;
  }
  client(): undefined {
    return undefined;
  }
  request(): undefined {
    return undefined;
  }
  anyDestination(): undefined {
    return undefined;
  }
  beforeLookup(): undefined {
    return undefined;
  }
  decidedBy(): undefined {
    return undefined;
  }
  address(input: RuleInput): RuleBlock | undefined {
    if (allowedBy(this.rules, input.address!)) return undefined;
    return new RuleBlock(`destination ${input.address} not allowed by ruleset`, Reply.NotAllowedByRuleset, (this.rules.deny ?? []).some((c) => c.contains(input.address!)) ? 'deny' : 'allow');
  }
}

const CLIENT_ONLY = { request: false, destination: false };
const NO_DESTINATION = { request: true, destination: false };
const ALL_BUT_ADDRESS = { request: true, destination: true };

class ListPolicy implements Policy {
  readonly active = true;
  readonly routes: boolean;
  constructor(private readonly rules: readonly Rule[]) {
    this.routes = rules.some((r) => r.via !== undefined);
  }
  route(input: RuleInput) {
    const v = input.address === undefined && input.hostType === 'domain' ? evaluatePartial(this.rules, input, ALL_BUT_ADDRESS) : evaluateRules(this.rules, input);
    if (!v) return undefined;
    const block = this.blocked(v, input);
    return block ? { block } : { via: v.via };
  }
  client(client: string): RuleBlock | undefined {
    const v = evaluatePartial(this.rules, { client, command: 'connect', host: '', hostType: 'domain', port: 0 }, CLIENT_ONLY);
    return v?.action === 'block' ? new RuleBlock(`client ${client} blocked by ${this.by(v)}`, v.reply, this.label(v)) : undefined;
  }
  request(input: RuleInput): RuleBlock | undefined {
    return this.blocked(evaluateRules(this.rules, input), input);
  }
  anyDestination(input: RuleInput): RuleBlock | undefined {
    return this.blocked(evaluatePartial(this.rules, input, NO_DESTINATION), input);
  }
  beforeLookup(input: RuleInput): RuleBlock | undefined {
    return this.blocked(evaluatePartial(this.rules, { ...input, address: undefined }, ALL_BUT_ADDRESS), input);
  }
  address(input: RuleInput): RuleBlock | undefined {
    return this.blocked(evaluateRules(this.rules, input), input);
  }
  decidedBy(input: RuleInput): string | undefined {
    return this.label(evaluateRules(this.rules, input));
  }

  private label(v: RuleVerdict): string {
    return v.index < 0 ? 'none' : (this.rules[v.index]!.id ?? String(v.index));
  }
  private by(v: RuleVerdict): string {
    return v.index < 0 ? 'no matching rule' : `rule ${this.label(v)}`;
  }
  private blocked(v: RuleVerdict | undefined, input: RuleInput): RuleBlock | undefined {
    if (v?.action !== 'block') return undefined;
    const dest = formatAddress({ type: input.hostType, host: input.host, port: input.port });
    return new RuleBlock(`${input.command} ${dest} blocked by ${this.by(v)}`, v.reply, this.label(v));
  }
}
