// A test event's severity defaults to its category's. An event of a category llmsec does not
// define (a typo such as guardrail_blocks, or a number) has no default, and the file was refused
// with 'missing required field "severity"', a field the README says may be left out: the
// message now names the category. A category of one's own with its severity still loads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuleFileError } from '../src/rule-loader.ts';
import { loadRuleTestFile } from '../src/rule-test-file.ts';
import { thrownBy } from './rule-file-support.ts';

function write(event: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'llmsec-rule-test-cat-')), 'c.test.yaml');
  writeFileSync(path, `tests:\n  - name: c\n    events:\n      - ${event}\n`);
  return path;
}

const loadError = (path: string): Error => thrownBy('the file', () => loadRuleTestFile(path));

describe('rule test events without a severity', () => {
  it('name the category that has no default', () => {
    const err = loadError(write('{ at: 0s, category: guardrail_blocks, user_id: u }'));
    expect(err).toBeInstanceOf(RuleFileError);
    expect(err.message).toBe(
      'c.test.yaml: test "c": events[0]: field "category": "guardrail_blocks" is no llmsec category, so it has no default severity (give severity: warning, alert or critical)',
    );
    expect(loadError(write('{ at: 0s, category: 5, user_id: u }')).message).toBe(
      'c.test.yaml: test "c": events[0]: field "category": 5 is no llmsec category, so it has no default severity (give severity: warning, alert or critical)',
    );
  });

  it('take a category of ones own with its severity, and a known one without', () => {
    const file = loadRuleTestFile(write('{ at: 0s, category: my_thing, severity: alert, user_id: u }'));
    expect(file.tests[0]!.events[0]!.event.category).toBe('my_thing');
    const known = loadRuleTestFile(write('{ at: 0s, category: guardrail_block, user_id: u }'));
    expect(known.tests[0]!.events[0]!.event.severity).toBe('warning');
  });
});
