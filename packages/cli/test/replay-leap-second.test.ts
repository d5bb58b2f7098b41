// RFC 3339 allows a leap second, `23:59:60` (UTC; in a zone with an offset, the local minute
// that is 23:59 UTC). Event time has no 61st second: such a timestamp reads as that minute's
// last millisecond, :59.999 (docs/formats.md), through the canonical form's fast path
// (detect's event-reader), the other forms (core's parseTimestamp) and the detector's OTLP
// records (packages/detector/test/ingest.test.ts). Before, every line with one was refused as a
// bad timestamp.
import { describe, expect, it } from 'vitest';
import { cli, line } from './replay-io.ts';

const LEAP_END = Date.parse('2016-12-31T23:59:59.999Z');

/** Ten guardrail blocks by one user, the last ones in and around the leap second. */
function blocks(stamps: string[]): string {
  return `${stamps
    .map((timestamp, i) =>
      line({
        event_id: `EVT-${String(i).padStart(12, '0')}`,
        timestamp,
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'u1',
        metadata: { guardrail_layer: 'injection', block_reason: 'x' },
      }),
    )
    .join('\n')}\n`;
}

describe('llmsec replay of events stamped in a leap second', () => {
  it('reads every form of 23:59:60 as 23:59:59.999 UTC and keeps the events in order', async () => {
    const before = Array.from({ length: 6 }, (_, i) => new Date(LEAP_END - 60_000 + i * 5_000).toISOString());
    const leap = [
      '2016-12-31T23:59:60.500Z', // the SDK's canonical form (the fast path)
      '2016-12-31T23:59:60Z',
      '2017-01-01T08:59:60.25+09:00',
      '2016-12-31T18:29:60.999999-05:30',
    ];
    const r = await cli(['replay', '-', '--allowed-lateness', '0s'], blocks([...before, ...leap]));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('10 lines, 10 events, 0 malformed, 0 late (dropped)');
    const alerts = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rule: string; status: string; starts_at: string });
    // The tenth block fires rapid_guardrail_blocks (10 in 10 min) at the leap second's end.
    expect(alerts[0]).toMatchObject({ rule: 'rapid_guardrail_blocks', status: 'firing' });
    expect(alerts[0]!.starts_at).toBe('2016-12-31T23:59:59.999Z');
  });

  it('still refuses a :60 at any other minute, and second 61', async () => {
    for (const bad of ['2016-12-31T23:58:60.000Z', '2016-12-31T12:59:60Z', '2016-12-31T23:59:61Z']) {
      const r = await cli(['replay', '-'], blocks([bad]));
      expect(r.stderr, bad).toMatch(/timestamp/);
    }
  });
});
