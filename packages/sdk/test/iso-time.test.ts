import { describe, expect, it } from 'vitest';
import { seededRandom } from '@llmsec/core';
import { isoTime } from '../src/iso-time.ts';

const random = seededRandom(2026);
const END = 253_402_300_800_000;

describe('isoTime', () => {
  it('equals toISOString on random times, runs of nearby times, and minute and year boundaries', () => {
    const times: number[] = [0, 1, 59_999, 60_000, 60_001, END - 1, Date.parse('2024-02-29T23:59:59.999Z')];
    for (let i = 0; i < 20_000; i++) times.push(Math.floor(random() * END));
    // Runs as events come: within a millisecond, a minute, across minute and day ends.
    let t = Date.parse('2026-12-31T23:58:59.000Z');
    for (let i = 0; i < 5_000; i++) {
      t += Math.floor(random() * 80);
      times.push(t, t);
    }
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('times outside the fast range (before 1970, from year 10000, fractional) as toISOString', () => {
    const times = [-1, -60_001, -8.64e15, END, END + 61_000, 8.64e15, 1.5, 1_700_000_000_000.25, -0.5, 2.9];
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    // Alternating with fast ones: the remembered minute and millisecond are not confused.
    for (const ms of [60_000, 60_000.5, 60_001, -60_000, 60_000])
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('pads seconds and milliseconds', () => {
    expect(isoTime(Date.parse('2026-12-04T23:00:05.007Z'))).toBe('2026-12-04T23:00:05.007Z');
    expect(isoTime(Date.parse('2026-12-04T23:00:00.000Z'))).toBe('2026-12-04T23:00:00.000Z');
  });
});
