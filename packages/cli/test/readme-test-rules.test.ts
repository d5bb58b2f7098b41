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

function readmeExample(): string {
  const readme = readFileSync(join(DETECT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## `llmsec test-rules`'));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  if (m === null) throw new Error('no yaml block under "## `llmsec test-rules`" in the detect README');
  return m[1]!;
}

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
});
