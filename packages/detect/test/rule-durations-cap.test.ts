// A rule's window and quiet period are bounded by the range of a timestamp (100,000,000 days,
// what a Date holds). Longer ones loaded, and ran in memory, but on the Redis state each write
// of the rule's groups failed (`window: 99999999999d`: the replay and every detector replica
// went to degraded mode, detecting locally, with no error naming the rule).
import { describe, expect, it } from 'vitest';
import { parseRules, RuleFileError } from '../src/index.ts';

const rule = (extra: string) => `rules:
  - id: r
    title: T
    severity: alert
    match: { categories: [guardrail_block] }
${extra}    condition: { kind: count, min: 3 }
`;

function loadError(text: string): Error {
  try {
    parseRules(text, 'rules.yaml');
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the rules to be refused');
}

describe('rule durations', () => {
  it('refuses a window or quiet period past the range of a timestamp, naming the field', () => {
    for (const [field, extra] of [
      ['window', '    window: 99999999999d\n'],
      ['window', '    window: 100000001d\n'],
      ['window', '    window: 8640000000000001\n'],
      ['quiet', '    window: 5m\n    quiet: 99999999999d\n'],
    ] as const) {
      const err = loadError(rule(extra));
      expect(err).toBeInstanceOf(RuleFileError);
      expect(err.message).toBe(
        `rules.yaml: rule "r": field "${field}": must be at most 100000000d (the range of a timestamp)`,
      );
    }
  });

  it('takes the longest', () => {
    const [r] = parseRules(rule('    window: 100000000d\n    quiet: 8640000000000000\n'), 'rules.yaml');
    expect([r!.window_ms, r!.quiet_ms]).toEqual([8_640_000_000_000_000, 8_640_000_000_000_000]);
  });
});
