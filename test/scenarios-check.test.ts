// The "at least once" checker the fleet scenario cases fall back to when a replica degraded:
// it forgives duplicates (another alert id, another start) and nothing else: a missed incident,
// a fired one never resolved, a line the run does not expect and a user it does not implicate
// all fail it. The exact checker fails on the duplicate it forgives.
import { describe, expect, it } from 'vitest';
import {
  checkAlerts,
  checkAlertsAtLeastOnce,
  failures,
  SEVERITY,
  type AlertLine,
} from './support/scenarios/check.ts';
import { scenarioRun } from './support/scenarios/index.ts';

const run = scenarioRun(3);
/** The lines a perfect run gives for the scenarios' expectations (firing and resolved, one id each). */
function perfect(): AlertLine[] {
  let n = 0;
  return run.scenarios.flatMap((s) =>
    s.expected.flatMap((x) => {
      const base = {
        alert_id: `ALR-${n++}`,
        rule: x.rule,
        severity: SEVERITY[x.rule]!,
        labels: x.labels,
        user_ids: x.users,
        starts_at: new Date(x.startsAt).toISOString(),
        description: '',
        evidence: [],
      };
      return [
        { ...base, status: 'firing' },
        { ...base, status: 'resolved', ends_at: new Date(x.endsAt).toISOString() },
      ];
    }),
  );
}

describe('checkAlertsAtLeastOnce', () => {
  const lines = perfect();

  it('passes the expected incidents, and a duplicate of one under another id and start', () => {
    expect(lines.length).toBeGreaterThan(4);
    expect(failures(checkAlertsAtLeastOnce(run, lines))).toEqual([]);
    const dup = lines
      .slice(0, 2)
      .map((a) => ({ ...a, alert_id: 'ALR-dup', starts_at: '2026-12-01T09:00:00.000Z' }));
    expect(failures(checkAlertsAtLeastOnce(run, [...lines, ...dup]))).toEqual([]);
    // The exact checker does not forgive it.
    expect(failures(checkAlerts(run, [...lines, ...dup])).some((f) => f.includes('unexpected'))).toBe(true);
  });

  it('fails a missed incident, a firing never resolved, an unexpected line and a foreign user', () => {
    const [firing, resolved] = [lines[0]!, lines[1]!];
    expect(failures(checkAlertsAtLeastOnce(run, lines.slice(2)))).toEqual([
      expect.stringContaining('no firing line'),
    ]);
    expect(
      failures(
        checkAlertsAtLeastOnce(
          run,
          lines.filter((a) => a !== resolved),
        ),
      ),
    ).toEqual([expect.stringContaining('fired, never resolved')]);
    const stray = { ...firing, alert_id: 'ALR-stray', labels: { user_id: 'nobody-expected' } };
    expect(
      failures(checkAlertsAtLeastOnce(run, [...lines, stray, { ...stray, status: 'resolved' }])),
    ).toEqual([expect.stringContaining('unexpected'), expect.stringContaining('unexpected')]);
    const foreign = { ...firing, alert_id: 'ALR-foreign', user_ids: ['bystander-0'] };
    expect(
      failures(checkAlertsAtLeastOnce(run, [...lines, foreign, { ...foreign, status: 'resolved' }])),
    ).toEqual([
      expect.stringContaining('names ["bystander-0"]'),
      expect.stringContaining('names ["bystander-0"]'),
    ]);
  });
});
