/**
 * `new Date(ms).toISOString()` without formatting a date per call: every
 * connection's record carries its end time, and V8 formats a Date through a
 * printf. The text up to the second is kept and only the milliseconds are
 * appended; a different second is formatted once.
 */
let second = NaN;
let prefix = '';

/** The same string as `new Date(ms).toISOString()` for an integer `ms` in years 0000–9999. */
export function isoTime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s !== second) {
    // 'YYYY-MM-DDTHH:MM:SS.' (20 characters); a year outside 0000–9999 has a sign and two more digits.
    const full = new Date(s * 1000).toISOString();
    if (full.length !== 24) return new Date(ms).toISOString();
    second = s;
    prefix = full.slice(0, 20);
  }
  const r = ms - s * 1000;
  return prefix + (r < 10 ? '00' : r < 100 ? '0' : '') + r + 'Z';
}
