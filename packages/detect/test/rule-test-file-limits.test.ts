// A rule test file is hostile input like any other: its `series` generate events in memory
// (up to 1,000,000 each), all of them before the first test runs. Many such series made a
// file that ran the process out of memory instead of an error naming the file.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuleFileError } from '../src/rule-loader.ts';
import { loadRuleTestFile, MAX_SERIES_EVENTS_PER_FILE } from '../src/rule-test-file.ts';

function write(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'llmsec-rule-test-')), name);
  writeFileSync(path, text);
  return path;
}

const series = (count: number) =>
  `      - { count: ${count}, every: 1s, event: { category: auth_failure, user_id: u, metadata: { reason: x } } }\n`;

describe('rule test file limits', () => {
  it('refuses, before generating anything, a file whose series make more than the limit in all', () => {
    // The first test's series has an event core rejects, found only when that series is made:
    // had generation begun (t0's one event, t1's 1,000,000) before the limit was checked, that
    // error would come first (and a file of fifty would have been built up to the limit).
    const bad = `  - name: t0\n    series:\n      - { count: 1, event: { category: auth_failure, severity: nope, user_id: u } }\n`;
    const tests = Array.from(
      { length: 50 },
      (_, i) => `  - name: t${i + 1}\n    series:\n${series(1_000_000)}`,
    ).join('');
    const path = write('huge.test.yaml', `tests:\n${bad}${tests}`);
    expect(() => loadRuleTestFile(path)).toThrow(RuleFileError);
    expect(() => loadRuleTestFile(path)).toThrow(
      'huge.test.yaml: test "t2": its series bring the file\'s series to more than 2,000,000 events, the limit of one test file: split it',
    );
    // The bad event is an error of its own once the file is within the limit.
    const small = write('bad.test.yaml', `tests:\n${bad}`);
    expect(() => loadRuleTestFile(small)).toThrow(/bad\.test\.yaml: test "t0": series\[0\]: .*severity/);
  });

  it('accepts series up to the limit (the limit itself is the sum, not per test)', () => {
    expect(MAX_SERIES_EVENTS_PER_FILE).toBe(2_000_000);
    const path = write(
      'ok.test.yaml',
      `tests:\n  - name: a\n    series:\n${series(3)}${series(2)}  - name: b\n    series:\n${series(4)}`,
    );
    expect(loadRuleTestFile(path).tests.map((t) => t.events.length)).toEqual([5, 4]);
  });

  it('reads an events_file that begins with a byte order mark like one without', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-rule-test-'));
    const line = JSON.stringify({
      event_id: 'e1',
      timestamp: '2026-01-01T00:00:00Z',
      category: 'auth_failure',
      severity: 'warning',
      user_id: 'u1',
      metadata: { reason: 'x' },
    });
    writeFileSync(join(dir, 'events.jsonl'), `\uFEFF${line}\n`);
    writeFileSync(join(dir, 't.test.yaml'), 'tests:\n  - name: a\n    events_file: events.jsonl\n');
    expect(loadRuleTestFile(join(dir, 't.test.yaml')).tests[0]!.events.map((e) => e.event.event_id)).toEqual([
      'e1',
    ]);
  });
});
