import { describe, expect, it } from 'vitest';
import { formatTimestamp, parseTimestamp } from '@llmsec/core';

const BASE = Date.UTC(2026, 10, 22, 10, 0, 0, 0); // 2026-11-22T10:00:00Z

describe('parseTimestamp', () => {
  it('reads UTC and offset zones', () => {
    expect(parseTimestamp('2026-11-22T10:00:00Z')).toBe(BASE);
    expect(parseTimestamp('2026-11-22T15:30:00+05:30')).toBe(BASE);
    expect(parseTimestamp('2026-11-22T02:00:00-08:00')).toBe(BASE);
    expect(parseTimestamp('2026-11-22T10:00:00+00:00')).toBe(BASE);
  });

  it('accepts the RFC 3339 variants: lower-case t and z, a space separator', () => {
    expect(parseTimestamp('2026-11-22t10:00:00z')).toBe(BASE);
    expect(parseTimestamp('2026-11-22 10:00:00Z')).toBe(BASE);
  });

  it('reads fractions of any length up to nanoseconds, to the millisecond', () => {
    expect(parseTimestamp('2026-11-22T10:00:00.1Z')).toBe(BASE + 100);
    expect(parseTimestamp('2026-11-22T10:00:00.12Z')).toBe(BASE + 120);
    expect(parseTimestamp('2026-11-22T10:00:00.123Z')).toBe(BASE + 123);
    expect(parseTimestamp('2026-11-22T10:00:00.123456Z')).toBe(BASE + 123);
    expect(parseTimestamp('2026-11-22T10:00:00.123456789Z')).toBe(BASE + 123);
    expect(parseTimestamp('2026-11-22T15:30:00.999999+05:30')).toBe(BASE + 999);
  });

  it('rejects timestamps without a zone and other malformed text', () => {
    for (const bad of [
      '2026-11-22T10:00:00',
      '2026-11-22T10:00:00.123',
      '2026-11-22',
      '10:00:00Z',
      '2026-11-22T10:00Z',
      '2026-11-22T10:00:00.Z',
      '2026-11-22T10:00:00.1234567890Z',
      '2026-11-22T10:00:00+0530',
      '22/11/2026 10:00:00Z',
      'yesterday',
      '',
    ]) {
      expect(parseTimestamp(bad), bad).toBeNaN();
    }
  });

  it("reads a leap second (23:59:60 UTC, in any zone) as that minute's last millisecond", () => {
    const end = Date.UTC(2016, 11, 31, 23, 59, 59, 999);
    for (const leap of [
      '2016-12-31T23:59:60Z',
      '2016-12-31T23:59:60.000Z',
      '2016-12-31T23:59:60.999999999z',
      '2016-12-31 23:59:60-00:00',
      '2017-01-01T08:59:60.5+09:00',
      '2016-12-31T18:29:60-05:30',
      '2026-06-30T23:59:60Z',
    ]) {
      const want = leap.startsWith('2026') ? Date.UTC(2026, 5, 30, 23, 59, 59, 999) : end;
      expect(parseTimestamp(leap), leap).toBe(want);
    }
    for (const bad of [
      '2016-12-31T23:58:60Z',
      '2016-12-31T22:59:60Z',
      '2016-12-31T23:59:60+01:00',
      '2016-12-31T23:59:61Z',
      '2016-12-31T23:59:60',
    ]) {
      expect(parseTimestamp(bad), bad).toBeNaN();
    }
  });

  it('rejects impossible calendar values instead of rolling them over', () => {
    for (const bad of [
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-11-00T00:00:00Z',
      '2026-11-22T24:00:00Z',
      '2026-11-22T10:60:00Z',
    ]) {
      expect(parseTimestamp(bad), bad).toBeNaN();
    }
    expect(parseTimestamp('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29));
    expect(parseTimestamp('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29));
    expect(parseTimestamp('2100-02-29T00:00:00Z')).toBeNaN();
  });
});

describe('formatTimestamp', () => {
  it('writes UTC with milliseconds, and parses back', () => {
    expect(formatTimestamp(BASE + 7)).toBe('2026-11-22T10:00:00.007Z');
    expect(parseTimestamp(formatTimestamp(BASE + 7))).toBe(BASE + 7);
  });
});
