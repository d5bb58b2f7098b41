import { describe, expect, it } from 'vitest';
import type { CodeRule, RuleDefinition } from '../src/index.ts';
import { brief, feed, recordingEngine, SEC, T0 } from './helpers.ts';

/**
 * A rule that lists a category twice sees each event of it once: the in-memory engine used to
 * keep one dispatch entry per listed category (each event counted twice), while the shared
 * (Redis) path tests membership (once).
 */
function countRule(categories: string[]): RuleDefinition {
  return {
    id: 'blocks',
    title: 'three blocks',
    severity: 'warning',
    match: { categories },
    window_ms: 60 * SEC,
    condition: { kind: 'count', min: 3 },
  } as RuleDefinition;
}

describe('categories listed twice', () => {
  it('a count rule fires on the same event as with the category once', () => {
    const fired = (categories: string[]) => {
      const { engine, alerts } = recordingEngine({ rules: [countRule(categories)] });
      const specs = [0, 1, 2, 3].map((i) => ({ at: T0 + i * SEC, category: 'guardrail_block', id: `b${i}` }));
      const firedAfter: number[] = [];
      for (const [i, spec] of specs.entries()) {
        feed(engine, [spec]);
        if (alerts.length > 0 && firedAfter.length === 0) firedAfter.push(i + 1);
      }
      return { firedAfter: firedAfter[0], alerts: brief(alerts) };
    };
    const once = fired(['guardrail_block']);
    expect(once.firedAfter).toBe(3);
    expect(fired(['guardrail_block', 'guardrail_block'])).toEqual(once);
  });

  it('a code rule is handed each event once', () => {
    let seen = 0;
    const rule: CodeRule = {
      id: 'probe',
      title: 'counts events',
      severity: 'warning',
      categories: ['guardrail_block', 'guardrail_block', 'output_filter_block'],
      window_ms: 1_000,
      condition: {
        createState: () => null,
        update: () => {
          seen++;
          return false;
        },
        describe: () => '',
      },
    };
    const { engine } = recordingEngine({ rules: [rule] });
    feed(engine, [
      { at: T0, category: 'guardrail_block' },
      { at: T0 + 1, category: 'output_filter_block' },
    ]);
    engine.flush();
    expect(seen).toBe(2);
  });
});
