import { describe, expect, it } from 'vitest';
import { detectSensitive, redact, redactPreview } from '@llmsec/core';

/**
 * Ordinary text full of numbers that are not personal data: dates, times, timestamps,
 * prices, versions, UUIDs, hashes, order numbers, durations, percentages, math.
 */
const PROSE = `Call me at the office on Tuesday. The quarterly review moved from 14 March to
Thursday, 21 November 2026 at 10:30 (UTC+01:00); the deadline is 2026-12-01, or 01/12/2026
in the European style, and the follow-up is on 12/15/2026 at 3:45 PM.

We upgraded Node from 20.20.0 to 24.21.0 and the service to version 2.10.3; release v3.0.0-rc.1
ships the fix from commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b. The run started at
2026-11-22T10:00:00.123Z, ended at 2026-11-22T10:04:31.5+05:30 and took 271.4 s (p99: 1,250 ms).

Prices: the plan costs $1,299.99 per year, EUR 45.00 per month or £9.50 per seat; the discount
is 12.5% and the total came to 4,111.11 after tax. Order #A-100234, ticket 123456, invoice
2026-000417 and request 3f9a0c1d-2b4e-4c5a-9d1e-0a1b2c3d4e5f are all in the tracker.

The model answered 42 questions, scored 0.87 on the eval and used 128000 tokens of context;
1 + 2 = 3, x^2 - 4 = 0 and the ratio was 16:9. Room 101 is on floor 3, extension 4417.
Sizes: 1920x1080 pixels, 3.5 GB, 10.0.0 is not an address; scores +12 and -3; the epoch was
1732269600000 ms. Email is not involved here, and neither is any bearer of bad news.
`;

describe('ordinary prose', () => {
  it('comes back byte-identical with no types', () => {
    const result = redact(PROSE);
    expect(result.text).toBe(PROSE);
    expect(result.types).toEqual([]);
    expect(detectSensitive(PROSE)).toEqual([]);
  });

  it('its preview is just the truncated text', () => {
    const { preview, types } = redactPreview(PROSE, 120);
    expect(types).toEqual([]);
    expect(preview).toBe(PROSE.slice(0, 119) + '\u2026');
  });

  it('prose with one e-mail address changes only there', () => {
    const text = PROSE.replace('Email is not involved here', 'Write to ops@example.com');
    const result = redact(text);
    expect(result.types).toEqual(['email']);
    expect(result.text).toBe(PROSE.replace('Email is not involved here', 'Write to [REDACTED:email]'));
  });
});
