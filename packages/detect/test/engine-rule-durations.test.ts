// Rule files cap a window and quiet period at 10000000d (rule-schema.ts), so an event's time
// plus them stays a timestamp; past it the Redis state drops the rule's incidents as damaged
// (cli test replay-duration-range). A RuleDefinition given to the engine in code skipped that
// check: window_ms 8.64e15 constructed fine. The engine refuses it too, naming the rule.
import { describe, expect, it } from 'vitest';
import { DetectionEngine, type RuleDefinition } from '../src/index.ts';

const rule = (extra: Partial<RuleDefinition>): RuleDefinition => ({
  id: 'r',
  title: 'T',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: 'user_id',
  window_ms: 60_000,
  condition: { kind: 'count', min: 2 },
  ...extra,
});

describe('DetectionEngine: rule durations given in code', () => {
  it('refuses a window or quiet period past 10000000d', () => {
    expect(() => new DetectionEngine({ rules: [rule({ window_ms: 864_000_000_000_001 })] })).toThrow(
      'DetectionEngine: rule "r": window_ms must be at most 864000000000000 (10000000d)',
    );
    expect(() => new DetectionEngine({ rules: [rule({ quiet_ms: 8_640_000_000_000_000 })] })).toThrow(
      'DetectionEngine: rule "r": quiet_ms must be at most 864000000000000 (10000000d)',
    );
  });

  it('takes the cap', async () => {
    const engine = new DetectionEngine({
      rules: [rule({ window_ms: 864_000_000_000_000, quiet_ms: 864_000_000_000_000 })],
    });
    expect(engine.rules.map((r) => r.id)).toEqual(['r']);
    await engine.shutdown();
  });
});
