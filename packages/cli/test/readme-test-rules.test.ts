import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

// The rule-test file of @llmsec/detect's README, run as written: it is what a user copies to
// start their own, so it must pass. Its `rule_files: [my-rules.yaml]` is given the built-in
// rules under that name.
const DETECT = fileURLToPath(new URL('../../detect/', import.meta.url));

function readmeYaml(heading: string): string {
  const readme = readFileSync(join(DETECT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  if (m === null) throw new Error(`no yaml block under "${heading}" in the detect README`);
  return m[1]!;
}

const readmeExample = (): string => readmeYaml('## `llmsec test-rules`');

describe("the detect README's llmsec test-rules example", () => {
  it('passes as written', async () => {
    const example = readmeExample();
    expect(example).toContain('rule_files: [my-rules.yaml]');
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-readme-test-rules-'));
    copyFileSync(join(DETECT, 'rules', 'default-rules.yaml'), join(dir, 'my-rules.yaml'));
    const file = join(dir, 'rules.test.yaml');
    writeFileSync(file, example);
    const { code, stdout, stderr } = await cli(['test-rules', file]);
    expect(stdout + stderr).toContain('1 tests, 1 passed, 0 failed');
    expect(code).toBe(0);
  });

  // A reader copying both examples verbatim names the README's own example rule (## Rule files:
  // rapid_guardrail_blocks with its `where`) my-rules.yaml: the tests' events must meet that
  // rule's predicates too (its `session_id exists`: without a session_id they failed, the
  // rule never firing).
  it("passes as written against the README's example rule file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-readme-test-rules-'));
    writeFileSync(join(dir, 'my-rules.yaml'), readmeYaml('## Rule files'));
    const file = join(dir, 'rules.test.yaml');
    writeFileSync(file, readmeExample());
    const { code, stdout, stderr } = await cli(['test-rules', file]);
    expect(stdout + stderr).toContain('1 tests, 1 passed, 0 failed');
    expect(code).toBe(0);
  });
});
