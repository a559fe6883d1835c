/**
 * Destination rules: allow/deny by CIDR, checked on the address actually
 * dialled (after name resolution), so a name cannot smuggle a denied address.
 * Deny rules win; with any allow rule present, only allowed addresses pass.
 */
import { Address4, Address6 } from 'ip-address';
import { LocalProtocolError } from '../protocol/errors.js';

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

const UNSPECIFIED_V4 = new Address4('0.0.0.0/8');
const UNSPECIFIED_MAPPED = new Address6('::ffff:0.0.0.0/104');

/**
 * True for an unspecified address: 0.0.0.0/8 ("this network", RFC 1122
 * §3.2.1.3), `::`, and their IPv4-mapped form ::ffff:0.0.0.0/104. Linux
 * delivers a connect or datagram to them on the local host, so they are
 * never a destination: refused before any rule is consulted.
 */
export function isUnspecified(ip: string): boolean {
  if (!ip.includes(':')) return safe(() => Address4.isValid(ip) && new Address4(ip).isInSubnet(UNSPECIFIED_V4));
  return safe(() => {
    const a = new Address6(ip);
    return a.isInSubnet(UNSPECIFIED_MAPPED) || a.bigInt() === 0n;
  });
}
