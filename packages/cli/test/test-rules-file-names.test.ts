import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

/**
 * test-rules names each file's total by the path as typed: with its basename, two files of one
 * name in different folders printed the same line, and a failure could not be told apart.
 */

const TESTS = (name: string): string => `tests:
  - name: ${name}
    only_rules: [rapid_guardrail_blocks]
    expected_alerts: []
`;

describe('llmsec test-rules output', () => {
  it('names each file by the path given, absolute or relative, not by its basename', async () => {
    const d = mkdtempSync(join(tmpdir(), 'llmsec-test-rules-names-'));
    for (const sub of ['a', 'b']) {
      mkdirSync(join(d, sub));
      writeFileSync(join(d, sub, 'rules.test.yaml'), TESTS(`quiet in ${sub}`));
    }
    const a = join(d, 'a', 'rules.test.yaml');
    const b = relative(process.cwd(), join(d, 'b', 'rules.test.yaml'));
    const { code, stdout } = await cli(['test-rules', a, b]);
    expect(stdout).toContain(`\n${a}: 1 tests, 1 passed, 0 failed\n`);
    expect(stdout).toContain(`\n${b}: 1 tests, 1 passed, 0 failed\n`);
    expect(stdout).not.toMatch(/^rules\.test\.yaml:/m);
    expect(code).toBe(0);
  });
});
