// A malformed line of a rule test's events_file is named by the entry as the test file writes
// it. The error gave the file's base name only: fixtures/a/events.jsonl and ../b/events.jsonl
// were both "events.jsonl: line 2", which did not say which file to fix.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuleTestFile } from '../src/rule-test-file.ts';

describe('rule test events_file errors', () => {
  it('name the file as the test writes it, with the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-rule-test-'));
    mkdirSync(join(dir, 'fixtures', 'b'), { recursive: true });
    const good = JSON.stringify({
      event_id: 'e1',
      timestamp: '2026-01-01T00:00:00Z',
      category: 'auth_failure',
      severity: 'warning',
      user_id: 'u1',
    });
    writeFileSync(join(dir, 'fixtures', 'b', 'events.jsonl'), `${good}\n{"event_id":"e2"}\n`);
    const test = join(dir, 't.test.yaml');
    writeFileSync(
      test,
      'tests:\n  - name: a\n    events_file: fixtures/b/events.jsonl\n    expected_alerts: []\n',
    );
    expect(() => loadRuleTestFile(test)).toThrow(
      /^t\.test\.yaml: test "a": events_file fixtures\/b\/events\.jsonl: line 2: missing required field/,
    );
  });
});
