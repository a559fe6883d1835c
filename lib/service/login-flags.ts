/**
 * sockskit-proxy's login protection and external authentication flags:
 * --auth-helper "CMD ARGS" (Squid basic-auth helpers) with its pool
 * settings, --login-throttle and its limits, --scrypt-concurrency.
 *
 * A configuration is built again on every SIGHUP, and also where it never
 * serves (--check, the --workers primary) or fails to build. So building
 * starts nothing and replaces nothing: each flag gives a `Kept` thing, put
 * in force by `use()` once the configuration serves (ServiceConfig.activate).
 * The helper pool, the throttle (its counters) and the scrypt queue in force
 * outlive a reload when their settings did not change, so a reload neither
 * restarts the helpers nor forgives a guesser. A changed helper setting
 * starts a new pool when it is put in force; the old one ends once the
 * checks it was asked are over (docs/operations.md).
 */
import { squidHelper, type SquidHelper, type SquidHelperOptions } from '../../methods/squid-helper/index.js';
import { LoginThrottle, VerifyQueue, type LoginThrottleOptions, type UserPassVerifier } from '../../methods/userpass.js';
import { UsageError } from './errors.js';
import type { Values } from './settings.js';
import { parseChoice, parseNumber } from './values.js';

/** Splits "CMD ARG 'two words' \"x y\"" into words (quotes group, backslash escapes; no other shell syntax). */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`--auth-helper: unclosed ${quote} in ${JSON.stringify(text)}`);
  if (inWord) words.push(cur);
  return words;
}

/** A thing of a built configuration, and how to put it in force (once that configuration serves). */
export interface Kept<T> {
  value: T;
  use(): void;
}

/** The things in force, by the key of their settings. */
const inForce: { helper?: { key: string; pool: SquidHelper; timeout: number }; throttle?: { key: string; t: LoginThrottle }; queue?: { key: string; q: VerifyQueue } } = {};

function integer(v: Values, name: string, fallback: number, min = 0): number {
  const n = parseNumber(name, v[name] as string | undefined, fallback);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} wants a whole number of at least ${min}, got ${JSON.stringify(v[name])}`);
  return n;
}

/** The Squid helper pool of --auth-helper (undefined without it). */
export function helperFromFlags(v: Values, log: (line: string) => void): Kept<UserPassVerifier> | undefined {
  const text = v['auth-helper'] as string | undefined;
  const names = ['auth-helper-children', 'auth-helper-concurrency', 'auth-helper-timeout', 'auth-helper-ttl', 'auth-helper-negative-ttl'];
  if (text === undefined) {
    const stray = names.find((n) => v[n] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --auth-helper`);
    return undefined;
  }
  const [command, ...args] = splitCommand(text);
  if (!command) throw new UsageError('--auth-helper wants a command, e.g. "/usr/lib/squid/basic_ncsa_auth /etc/sockskit/htpasswd"');
  const o: SquidHelperOptions = {
    command,
    args,
    children: integer(v, 'auth-helper-children', 2, 1),
    concurrency: integer(v, 'auth-helper-concurrency', 0),
    timeout: integer(v, 'auth-helper-timeout', 5000, 1),
    ttl: integer(v, 'auth-helper-ttl', 60_000),
    negativeTtl: integer(v, 'auth-helper-negative-ttl', 5000),
  };
  return helperHandle(JSON.stringify(o), { ...o, onLog: (line) => log(`auth helper: ${line}`) });
}

/**
 * A verify function for the pool of `o`, which it gets when put in force:
 * the pool in force when its settings are the same, else a new one, started
 * at once, while the old one ends `timeout` ms later (each check it was asked
 * is over by then: answered or timed out).
 */
function helperHandle(key: string, o: SquidHelperOptions): Kept<UserPassVerifier> {
  let pool: SquidHelper | undefined;
  const value: UserPassVerifier = (user, password, ctx) => (pool ? pool(user, password, ctx) : Promise.reject(new Error('auth helper: the configuration is not in force')));
  const use = () => {
    if (inForce.helper?.key !== key) {
      retireHelper();
      const next = squidHelper(o);
      next.start();
      inForce.helper = { key, pool: next, timeout: o.timeout ?? 5000 };
    }
    pool = inForce.helper.pool;
  };
  return { value, use };
}

/** Ends the pool in force (a configuration without --auth-helper, or another pool, goes in force). */
export function retireHelper(): void {
  const old = inForce.helper;
  if (!old) return;
  inForce.helper = undefined;
  setTimeout(() => old.pool.close(), old.timeout).unref();
}

/** The login throttle of --login-throttle (on by default) and its limits. */
export function throttleFromFlags(v: Values): Kept<LoginThrottle> | undefined {
  const on = parseChoice('login-throttle', v['login-throttle'] as string | undefined, ['on', 'off'], 'on') === 'on';
  const o: LoginThrottleOptions = {
    delay: integer(v, 'login-delay', 250),
    limit: integer(v, 'login-max-failures', 10),
    lockout: integer(v, 'login-lockout', 300_000),
  };
  if (!on) return undefined;
  const key = JSON.stringify(o);
  const t = inForce.throttle?.key === key ? inForce.throttle.t : new LoginThrottle(o);
  return { value: t, use: () => void (inForce.throttle = { key, t }) };
}

/** The scrypt queue of --scrypt-concurrency (undefined: the library's default, a quarter of the threadpool). */
export function scryptQueueFromFlags(v: Values): Kept<VerifyQueue> | undefined {
  if (v['scrypt-concurrency'] === undefined) return undefined;
  const concurrency = integer(v, 'scrypt-concurrency', 1, 1);
  const key = String(concurrency);
  const q = inForce.queue?.key === key ? inForce.queue.q : new VerifyQueue({ concurrency });
  return { value: q, use: () => void (inForce.queue = { key, q }) };
}
