/**
 * Peer-supplied strings (names, user ids, ident answers) reach log lines and
 * error messages: escape control characters (C0, DEL, C1) and the backslash,
 * so a peer cannot forge a log line (CR LF) or drive a terminal (ESC).
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\\]/g;

const NAMED: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t', '\\': '\\\\' };

export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** True when `s` holds a control character (C0, DEL or C1), which no host name has. */
// eslint-disable-next-line no-control-regex
export const hasControlCharacter = (s: string): boolean => /[\u0000-\u001f\u007f-\u009f]/.test(s);
