// An `at` offset (or a series' from + k × every) adds to the file's start; one that lands past
// the last time a timestamp can write (9999-12-31, RFC 3339's four-digit year) is a mistake in
// the file. Past the Date range (99999999999d) it threw a bare RangeError: `llmsec test-rules`
// printed "Invalid time value", exit 1 (a failed test), naming no file, test or field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuleFileError } from '../src/rule-loader.ts';
import { loadRuleTestFile } from '../src/rule-test-file.ts';
import { thrownBy } from './rule-file-support.ts';

function write(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'llmsec-rule-test-times-')), 't.test.yaml');
  writeFileSync(path, text);
  return path;
}

const EVENT = '{ category: auth_failure, user_id: u, metadata: { reason: x } }';

const loadError = (text: string): Error => thrownBy('the file', () => loadRuleTestFile(write(text)));

describe('rule test file times past the last timestamp', () => {
  it('names the file, test and field of an event offset past 9999-12-31', () => {
    const err = loadError(
      `tests:\n  - name: far\n    events:\n      - { at: 99999999999d, ${EVENT.slice(2)}\n`,
    );
    expect(err).toBeInstanceOf(RuleFileError);
    expect(err.message).toBe(
      't.test.yaml: test "far": events[0]: field "at": "99999999999d" after start is past 9999-12-31T23:59:59.999Z',
    );
  });

  it('names the series whose later events pass it', () => {
    const err = loadError(
      `tests:\n  - name: s\n    series:\n      - { every: 99999999d, count: 1000, event: ${EVENT} }\n`,
    );
    expect(err).toBeInstanceOf(RuleFileError);
    expect(err.message).toMatch(
      /^t\.test\.yaml: test "s": series\[0\]: field "at": \d+ after start is past 9999/,
    );
  });

  it('refuses an until past it, and takes one at it', () => {
    const err = loadError(
      `tests:\n  - name: u\n    until: 99999999999d\n    events:\n      - { at: 0s, ${EVENT.slice(2)}\n`,
    );
    expect(err).toBeInstanceOf(RuleFileError);
    expect(err.message).toBe('t.test.yaml: test "u": field "until": bad time "99999999999d"');
    const ok = loadRuleTestFile(
      write(
        `tests:\n  - name: u\n    until: '9999-12-31T23:59:59.999Z'\n    events:\n      - { at: 0s, ${EVENT.slice(2)}\n`,
      ),
    );
    expect(ok.tests[0]!.untilMs).toBe(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
  });
});
