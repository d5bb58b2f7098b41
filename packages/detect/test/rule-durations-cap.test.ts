// A rule's window and quiet period are at most 10,000,000 days, so that an event's time plus
// them stays a timestamp (a Date holds 100,000,000 days either side of 1970; at that cap the
// Redis state dropped the rule's incidents as damaged: cli test replay-duration-range). Longer ones loaded, and ran in memory, but on the Redis state each write
// of the rule's groups failed (`window: 99999999999d`: the replay and every detector replica
// went to degraded mode, detecting locally, with no error naming the rule).
import { describe, expect, it } from 'vitest';
import { parseRules, RuleFileError } from '../src/index.ts';
import { oneRule as rule, ruleFileError as loadError } from './rule-file-support.ts';

describe('rule durations', () => {
  it('refuses a window or quiet period past the range of a timestamp, naming the field', () => {
    for (const [field, extra] of [
      ['window', '    window: 99999999999d\n'],
      ['window', '    window: 10000001d\n'],
      ['window', '    window: 864000000000001\n'],
      ['quiet', '    window: 5m\n    quiet: 99999999999d\n'],
    ] as const) {
      const err = loadError(rule(extra));
      expect(err).toBeInstanceOf(RuleFileError);
      expect(err.message).toBe(
        `rules.yaml: rule "r": field "${field}": must be at most 10000000d (an event time plus it must stay a timestamp)`,
      );
    }
  });

  it('takes the longest', () => {
    const [r] = parseRules(rule('    window: 10000000d\n    quiet: 864000000000000\n'), 'rules.yaml');
    expect([r!.window_ms, r!.quiet_ms]).toEqual([864_000_000_000_000, 864_000_000_000_000]);
  });
});
