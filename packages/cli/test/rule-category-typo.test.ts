import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

/**
 * A rule file whose category is a likely typo of a built-in one (`guardrail_blok`) loads as
 * before (custom categories are allowed) but test-rules and replay say so on stderr, naming
 * the file, the rule, the category and the built-in one; their exit codes do not change.
 */

const rule = (id: string, category: string): string => `
  - id: ${id}
    title: t
    severity: alert
    match: { categories: [${category}] }
    window: 5m
    condition: { kind: count, min: 3 }`;

function files(): { dir: string; rules: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-category-typo-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    `rules:${rule('blocks_typo', 'guardrail_blok')}${rule('blocks_ok', 'guardrail_block')}${rule('own_category', 'billing_dispute')}\n`,
  );
  writeFileSync(
    join(dir, 't.yaml'),
    `rule_files: [rules.yaml]
tests:
  - name: nothing fires
    series:
      - { every: 5s, count: 3, event: { category: guardrail_block, user_id: u } }
    expected_alerts:
      - { rule: blocks_ok, status: firing, labels: { user_id: u } }
`,
  );
  return { dir, rules };
}

const WARNING =
  'rules.yaml: rule "blocks_typo": category "guardrail_blok" is not built in; did you mean "guardrail_block"?';

describe('a likely typo of a category', () => {
  it('is a warning of test-rules, not an error: the tests still run and pass', async () => {
    const { dir } = files();
    const got = await cli(['test-rules', join(dir, 't.yaml')]);
    expect(got.stderr).toContain(`llmsec test-rules: warning: ${join(dir, WARNING)}`);
    expect(got.stderr.match(/warning/g)).toHaveLength(1); // not blocks_ok, not own_category
    expect(got.stdout).toContain('PASS  nothing fires');
    expect(got.code).toBe(0);
  });

  it('is a warning of replay --rules, which still replays', async () => {
    const { dir, rules } = files();
    const event = JSON.stringify({
      event_id: 'e1',
      timestamp: '2026-01-01T00:00:00Z',
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'u',
    });
    const got = await cli(['replay', '--rules', rules, '-'], `${event}\n`);
    expect(got.stderr).toContain(`llmsec replay: warning: ${join(dir, WARNING)}`);
    expect(got.stderr.match(/warning/g)).toHaveLength(1);
    expect(got.code).toBe(0);
  });
});
