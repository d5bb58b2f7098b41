import { parseTimestamp } from '@llmsec/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventTimeMs } from '../src/service/event-time.ts';

/** Both give the same number, or both NaN. */
function same(value: string): void {
  const want = parseTimestamp(value);
  const got = eventTimeMs(value);
  if (Number.isNaN(want)) expect(got, value).toBeNaN();
  else expect(got, value).toBe(want);
}

const digits = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });

describe('eventTimeMs (fast path of parseTimestamp for YYYY-MM-DDTHH:MM:SS.sssZ)', () => {
  it('gives what Date#toISOString wrote, over the whole range of four-digit years', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }),
        (ms) => {
          expect(eventTimeMs(new Date(ms).toISOString())).toBe(ms);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('agrees with parseTimestamp on any digits in the ISO layout (impossible dates and times included)', () => {
    fc.assert(
      fc.property(
        digits(4),
        digits(2),
        digits(2),
        digits(2),
        digits(2),
        digits(2),
        digits(3),
        (y, mo, d, h, mi, s, ms) => {
          same(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('agrees with parseTimestamp on near-miss and other forms', () => {
    const cases = [
      '2026-02-29T00:00:00.000Z', // not a leap year
      '2024-02-29T12:00:00.000Z',
      '2000-02-29T00:00:00.000Z',
      '1900-02-29T00:00:00.000Z',
      '2026-04-31T00:00:00.000Z',
      '2026-12-31T24:00:00.000Z',
      '2026-12-31T23:60:00.000Z',
      '2026-12-31T23:59:60.000Z',
      '2026-00-10T00:00:00.000Z',
      '2026-13-10T00:00:00.000Z',
      '2026-01-00T00:00:00.000Z',
      '0999-01-01T00:00:00.000Z',
      '0000-01-01T00:00:00.000Z',
      '0050-06-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '1970-01-01T00:00:00.000Z',
      '2026-11-22t00:00:00.000Z',
      '2026-11-22 00:00:00.000Z',
      '2026-11-22T00:00:00.000z',
      '2026-11-22T00:00:00Z',
      '2026-11-22T00:00:00.1Z',
      '2026-11-22T00:00:00.123456789Z',
      '2026-11-22T00:00:00.000+02:00',
      '2026-11-22T00:00:00.000-00:30',
      '2026-11-22T00:00:00.00aZ',
      '2026-11-22T00:00:0a.000Z',
      '+02026-11-22T00:00:00Z',
      '2026-11-22T00:00:00.000Zx',
      '2026-11-2200:00:00.000ZZ',
      '20261122T000000.000Z????',
      '',
      'not a timestamp',
      '２０２６-11-22T00:00:00.000Z',
    ];
    for (const c of cases) same(c);
  });

  it('agrees with parseTimestamp on random strings of the ISO length over its alphabet', () => {
    const unit = fc.constantFrom(...'0123456789-:.TZtz +');
    fc.assert(
      fc.property(fc.string({ unit, minLength: 24, maxLength: 24 }), (s) => same(s)),
      { numRuns: 20_000 },
    );
  });
});
