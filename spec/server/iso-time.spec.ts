/**
 * The record's end time is formatted from a cached second: it must be the
 * very string Date#toISOString gives, at every millisecond of a second, across
 * second, day and year boundaries, and for years a Date prints with a sign.
 */
import { expect } from 'chai';
import { isoTime } from '../../lib/server/iso-time.js';

describe('isoTime: the same text as Date#toISOString, from a cached second', () => {
  it('every millisecond across a second boundary, and back again', () => {
    const base = Date.UTC(2026, 11, 4, 22, 59, 59, 0);
    for (let ms = base - 1000; ms < base + 2000; ms++) expect(isoTime(ms)).to.equal(new Date(ms).toISOString());
    for (let ms = base + 2000; ms > base - 1000; ms -= 7) expect(isoTime(ms)).to.equal(new Date(ms).toISOString());
  });

  it('across a year end, at the epoch, before it, and outside years 0000–9999', () => {
    const cases = [Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), 0, 1, 999, -1, -999, -1000, -1001, Date.UTC(10000, 0, 1, 0, 0, 0, 5), -62198755200000 - 1, 8.64e15];
    for (const ms of cases) expect(isoTime(ms), String(ms)).to.equal(new Date(ms).toISOString());
  });

  it('now', () => {
    const ms = Date.now();
    expect(isoTime(ms)).to.equal(new Date(ms).toISOString());
  });
});
