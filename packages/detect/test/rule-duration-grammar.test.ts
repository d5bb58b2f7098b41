// The README's grammar for a rule's durations: 500ms, 30s, 10m, 1h, 1d, 1h30m or milliseconds,
// that is, whole-unit parts with the largest unit first and each unit once. `10m10m` (or
// `30s1m`) used to load as the sum of its parts, so a typo such as a pasted value twice
// silently doubled a window.
import { describe, expect, it } from 'vitest';
import { parseDuration, RuleFileError } from '../src/index.ts';
import { oneRule as rule, ruleFileError as loadError } from './rule-file-support.ts';

describe('rule duration grammar', () => {
  it('refuses a repeated unit, naming the field and the unit', () => {
    for (const [field, extra, value, unit] of [
      ['window', '    window: 10m10m\n', '10m10m', 'm'],
      ['window', '    window: 1h30m5m\n', '1h30m5m', 'm'],
      ['quiet', '    window: 5m\n    quiet: 1s1s\n', '1s1s', 's'],
    ] as const) {
      const err = loadError(rule(extra));
      expect(err).toBeInstanceOf(RuleFileError);
      expect(err.message).toBe(
        `rules.yaml: rule "r": field "${field}": bad duration "${value}" (unit "${unit}" given twice; ` +
          'units go largest first, each once, as in 1h30m)',
      );
    }
  });

  it('refuses units out of order', () => {
    const err = loadError(rule('    window: 30s1m\n'));
    expect(err.message).toBe(
      'rules.yaml: rule "r": field "window": bad duration "30s1m" (unit "m" after a smaller one; ' +
        'units go largest first, each once, as in 1h30m)',
    );
  });

  it('takes the documented forms', () => {
    for (const [text, ms] of [
      ['500ms', 500],
      ['30s', 30_000],
      ['10m', 600_000],
      ['1h', 3_600_000],
      ['1d', 86_400_000],
      ['1h30m', 5_400_000],
      ['1d2h3m4s5ms', 93_784_005],
      ['1.5h', 5_400_000],
      ['250', 250],
    ] as const) {
      expect(parseDuration(text), text).toBe(ms);
    }
    expect(Number.isNaN(parseDuration('10m10m'))).toBe(true);
    expect(Number.isNaN(parseDuration('5ms1s'))).toBe(true);
  });
});
