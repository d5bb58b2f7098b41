// Rule files and rule-test files are read up to 16 MiB (MAX_RULE_FILE_BYTES). They were read
// whole, whatever they were: `--rules /dev/zero` (a slip of the shell) grew the process to 22 GB
// before the kernel killed it, 75 s later. A regular file stands in for it here (a regression on
// a device would take the test host's memory); the reader counts the bytes it reads, so the
// device stops at the same cap (checked by hand: `llmsec replay --rules /dev/zero`, exit 2).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRulesFile, RuleFileError } from '../src/index.ts';
import { loadRuleTestFile } from '../src/rule-test-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-rule-files-capped-'));
const CAP = 16 * 1024 * 1024;

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('rule and rule-test files past 16 MiB', () => {
  it('refuses a rule file one byte over, naming it', () => {
    const path = write('big.yaml', `rules: []\n${'#'.repeat(CAP - 10)}\n`);
    const err = thrown(() => loadRulesFile(path));
    expect(err).toBeInstanceOf(RuleFileError);
    expect(err.message).toBe('big.yaml: cannot read: larger than 16777216 bytes');
  });

  it('refuses a rule-test file one byte over, naming it', () => {
    const path = write('big.test.yaml', `tests: []\n${'#'.repeat(CAP - 10)}\n`);
    const err = thrown(() => loadRuleTestFile(path));
    expect(err).toBeInstanceOf(RuleFileError);
    expect(err.message).toBe('big.test.yaml: cannot read: larger than 16777216 bytes');
  });

  it('reads one of exactly 16 MiB', () => {
    const rule =
      '[{"id":"r","title":"T","severity":"alert","match":{"categories":["x"]},"window":"1m","condition":{"kind":"single"}}]';
    const path = write('edge.yaml', `${rule}\n${'#'.repeat(CAP - rule.length - 2)}\n`);
    expect(loadRulesFile(path).map((r) => r.id)).toEqual(['r']);
  });
});
