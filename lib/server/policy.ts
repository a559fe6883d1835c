/**
 * The rules compiled once, when a server is (re)configured, into one policy
 * object: connections and command handlers ask it about a request or an
 * address and never look at which form the rules were given in (a Ruleset
 * of CIDRs, or a Rule list, first match wins: rules.ts).
 *
 * Every question answers with the block (a SocksError carrying the reply
 * code) or undefined for "pass"; no exception is thrown to filter.
 */
import { SocksError } from '../protocol/errors.js';
import { Reply } from '../protocol/constants.js';
import { formatAddress } from '../protocol/codec/address.js';
import { allowedBy, evaluateBeforeLookup, evaluateRules, type Rule, type RuleInput, type RuleVerdict, type Ruleset } from './rules.js';

export interface Policy {
  /** False when there are no rules: callers may skip building a RuleInput. */
  readonly active: boolean;
  /** On a BIND or UDP request as given, before anything is resolved (only a list has a say). */
  request(input: RuleInput): SocksError | undefined;
  /** On a name before it is looked up: a block decided by the name alone needs no DNS query. */
  beforeLookup(input: RuleInput): SocksError | undefined;
  /** On one address to dial or accept (`input.address` set). */
  address(input: RuleInput): SocksError | undefined;
}

/** No rules: everything passes. */
const OPEN_POLICY: Policy = {
  active: false,
  request: () => undefined,
  beforeLookup: () => undefined,
  address: () => undefined,
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
  constructor(private readonly rules: Ruleset) {}
  request(): undefined {
    return undefined;
  }
  beforeLookup(): undefined {
    return undefined;
  }
  address(input: RuleInput): SocksError | undefined {
    if (allowedBy(this.rules, input.address!)) return undefined;
    return new SocksError('ERR_SOCKS_DENIED', `destination ${input.address} not allowed by ruleset`, Reply.NotAllowedByRuleset);
  }
}

class ListPolicy implements Policy {
  readonly active = true;
  constructor(private readonly rules: readonly Rule[]) {}
  request(input: RuleInput): SocksError | undefined {
    return blocked(evaluateRules(this.rules, input), input);
  }
  beforeLookup(input: RuleInput): SocksError | undefined {
    return blocked(evaluateBeforeLookup(this.rules, input), input);
  }
  address(input: RuleInput): SocksError | undefined {
    return blocked(evaluateRules(this.rules, input), input);
  }
}

/** The error for a block verdict (its `rule` is the index of the matching rule, -1 for none). */
function blocked(v: RuleVerdict | undefined, input: RuleInput): SocksError | undefined {
  if (v?.action !== 'block') return undefined;
  const dest = formatAddress({ type: input.hostType, host: input.host, port: input.port });
  const by = v.index < 0 ? 'no matching rule' : `rule ${v.index}`;
  return Object.assign(new SocksError('ERR_SOCKS_DENIED', `${input.command} ${dest} blocked by ${by}`, v.reply), { rule: v.index });
}
