// A rule-test file's `events_file` is read up to 16 MiB (MAX_RULE_FILE_BYTES), as the test file
// itself and rule files are. It was read whole: `events_file: /dev/zero` (a slip) grew
// `llmsec test-rules` to 2.1 GB resident in 30 s, saying nothing (checked from the installed
// tarball). A regular file one byte over stands in for the device here; the reader counts the
// bytes it reads, so the device stops at the same cap.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuleFileError } from '../src/index.ts';
import { loadRuleTestFile } from '../src/rule-test-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-events-file-capped-'));
const CAP = 16 * 1024 * 1024;

function testFile(name: string, eventsFile: string): string {
  const path = join(dir, name);
  writeFileSync(path, `tests:\n  - name: t\n    events_file: ${eventsFile}\n    expected_alerts: []\n`);
  return path;
}

const LINE =
  '{"event_id":"e1","timestamp":"2026-11-22T10:00:00Z","category":"guardrail_block","severity":"warning","user_id":"u"}\n';

describe('events_file past 16 MiB', () => {
  it('is refused naming the test and the cap', () => {
    writeFileSync(join(dir, 'big.jsonl'), LINE + ' '.repeat(CAP + 1 - LINE.length));
    let err: unknown;
    try {
      loadRuleTestFile(testFile('big.test.yaml', 'big.jsonl'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuleFileError);
    expect((err as Error).message).toMatch(/events_file: cannot read: larger than 16777216 bytes/);
  });

  it('one of exactly 16 MiB is read', () => {
    writeFileSync(join(dir, 'edge.jsonl'), LINE + ' '.repeat(CAP - LINE.length));
    const file = loadRuleTestFile(testFile('edge.test.yaml', 'edge.jsonl'));
    expect(file.tests[0]!.events).toHaveLength(1);
  });
});
