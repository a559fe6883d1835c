/**
 * Squid's basic-authentication helper protocol, the wire side (pure).
 *
 *   request   [channel-ID SP] user SP password LF      (both URL-escaped)
 *   reply     [channel-ID SP] OK|ERR|BH [SP kv-pairs | SP message] LF
 *
 * The channel-ID form is Squid's "concurrency" protocol: many requests in
 * flight on one helper, answered in any order. kv-pairs are `key=value` or
 * `key="quoted value"` (with backslash escapes); an old-style helper writes
 * a free-text message after ERR instead (`ERR Wrong password`), kept as
 * `message`. BH ("broken helper") means the helper could not decide.
 */

/** Bytes kept as they are; every other byte is %XX (what Squid's RFC 1738 escaping produces is a subset of this). */
const UNRESERVED = /[A-Za-z0-9._~-]/;

/** URL-escapes a user name or password for a helper line: UTF-8 bytes, %XX for all but [A-Za-z0-9._~-]. */
export function escapeField(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && UNRESERVED.test(ch) ? ch : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of escapeField (and of Squid's rfc1738_escape): %XX decoded as UTF-8, the rest kept. */
export function unescapeField(s: string): string {
  const bytes: Buffer[] = [];
  for (const part of s.split(/(%[0-9A-Fa-f]{2})/)) {
    if (/^%[0-9A-Fa-f]{2}$/.test(part)) bytes.push(Buffer.from([parseInt(part.slice(1), 16)]));
    else if (part) bytes.push(Buffer.from(part, 'utf8'));
  }
  return Buffer.concat(bytes).toString('utf8');
}

/** One request line; `channel` for the concurrent form. */
export function encodeHelperRequest(user: string, password: string, channel?: number): string {
  return `${channel === undefined ? '' : `${channel} `}${escapeField(user)} ${escapeField(password)}\n`;
}

export type HelperResult = 'OK' | 'ERR' | 'BH';

export interface HelperReply {
  channel?: number;
  result: HelperResult;
  /** kv-pairs (user=, message=, group=, ...), values unquoted. */
  kv: Record<string, string>;
  /** Free text after the result that is not kv-pairs (old-style helpers), if any. */
  message?: string;
}

/** Parses one reply line (without its LF); undefined when it is not a helper reply. */
export function parseHelperReply(line: string, concurrent: boolean): HelperReply | undefined {
  let rest = line.replace(/\r$/, '');
  let channel: number | undefined;
  if (concurrent) {
    const m = /^(\d{1,9}) /.exec(rest) ?? /^(\d{1,9})$/.exec(rest);
    if (!m) return undefined;
    channel = Number(m[1]);
    rest = rest.slice(m[0].length);
  }
  const m = /^(OK|ERR|BH)(?: +(.*))?$/.exec(rest);
  if (!m) return undefined;
  const reply: HelperReply = { channel, result: m[1] as HelperResult, kv: {} };
  const tail = m[2]?.trim() ?? '';
  if (tail === '') return reply;
  const kv = parseKvPairs(tail);
  if (kv) reply.kv = kv;
  else reply.message = tail;
  return reply;
}

/** `key=value key="quoted \" value"` → record; undefined when the text is not all kv-pairs. */
export function parseKvPairs(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_-]*)=("((?:[^"\\]|\\.)*)"|[^\s"]*)/y;
  let i = 0;
  while (i < text.length) {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) return /^\s*$/.test(text.slice(i)) ? out : undefined;
    out[m[1]!] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
    i = re.lastIndex;
  }
  return out;
}
