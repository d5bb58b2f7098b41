import { describe, expect, it } from 'vitest';
import { cli, line } from './replay-io.ts';

/**
 * The table and the malformed-line report are read on a terminal, and user ids, field values
 * and the start of a bad line come from the log as written. Besides control characters, a
 * bidirectional override (U+202E) or isolate reorders what the terminal shows without being
 * seen (CVE-2021-42574): `u-\u202Eevil` reads as another id. They are written as \uNNNN.
 */

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const HIDDEN = /[\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe('replay escapes bidirectional controls and line separators', () => {
  it('in the table: user ids and labels', async () => {
    const user = 'admin\u202Enimda\u2066x\u2069\u2028y';
    const input = Array.from({ length: 10 }, (_, i) =>
      line({
        event_id: `e${i}`,
        timestamp: at(i * 1_000),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: user,
      }),
    ).join('\n');
    const { code, stdout } = await cli(['replay', '-', '--format', 'table'], input);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(HIDDEN);
    expect(stdout).toContain('user_id=admin\\u202enimda\\u2066x\\u2069\\u2028y');
  });

  it('in the malformed-line report', async () => {
    const input = [
      line({
        event_id: 'e1',
        timestamp: at(0),
        category: 'guardrail_block',
        severity: '\u202Egninraw',
        user_id: 'u',
      }),
      `x\u202E{`,
    ].join('\n');
    const { code, stderr } = await cli(['replay', '-'], input);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^line 1: bad severity/m);
    expect(stderr).toMatch(/^line 2: invalid JSON/m);
    expect(stderr).not.toMatch(HIDDEN);
    expect(stderr).toContain('\\u202egninraw');
  });
});
