// A rule file's errors name the path the user gave, not its base name alone: `--rules
// /dev/null` said `null: ...`, and `conf/rules.yaml` beside `prod/rules.yaml` read the same.
// Likewise the detector's --config file and the rule files a test-rules file names.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, line } from './replay-io.ts';

const EVENT = line({
  event_id: 'e1',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'u1',
});

function ruleFiles(): { notRules: string; empty: string; missing: string } {
  const { notRules, empty, missing } = ruleDir();
  return { notRules, empty, missing };
}

function ruleDir(): { dir: string; notRules: string; empty: string; missing: string } {
  const dir = join(mkdtempSync(join(tmpdir(), 'llmsec-rule-path-')), 'conf');
  mkdirSync(dir);
  const notRules = join(dir, 'rules.yaml');
  writeFileSync(notRules, 'just: text\n');
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, 'rules: []\n');
  return { dir, notRules, empty, missing: join(dir, 'missing.yaml') };
}

describe('rule file errors name the path given', () => {
  for (const command of ['replay', 'detector'] as const) {
    it(`llmsec ${command} --rules`, async () => {
      const { notRules, empty, missing } = ruleFiles();
      const run = (path: string) =>
        cli(command === 'replay' ? ['replay', '--rules', path, '-'] : ['detector', '--rules', path], EVENT);
      const devNull = await run('/dev/null');
      expect(devNull.code).toBe(2);
      expect(devNull.stderr).toBe(
        `llmsec ${command}: /dev/null: want a list of rules, or an object with a "rules" list\n`,
      );
      const bad = await run(notRules);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe(
        `llmsec ${command}: ${notRules}: want a list of rules, or an object with a "rules" list\n`,
      );
      const none = await run(empty);
      expect(none.code).toBe(2);
      expect(none.stderr).toBe(
        `llmsec ${command}: ${empty}: no rules (want a list of rules, or an object with a "rules" list)\n`,
      );
      const gone = await run(missing);
      expect(gone.code).toBe(2);
      expect(gone.stderr).toMatch(
        new RegExp(
          `^llmsec ${command}: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read: ENOENT`,
        ),
      );
    });
  }

  it('llmsec detector --config', async () => {
    const { dir } = ruleDir();
    const config = join(dir, 'detector.yaml');
    writeFileSync(config, 'allowed_lateness: soon\n');
    const r = await cli(['detector', '--config', config], EVENT);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `llmsec detector: ${config}: field "allowed_lateness": bad duration "soon" (want e.g. 30s, 10m, 1h or ms)\n`,
    );
  });

  it('llmsec test-rules, the rule files a test file names', async () => {
    const { dir, notRules, empty } = ruleDir();
    const tests = (rules: string) => {
      const file = join(dir, `tests-${rules}`);
      writeFileSync(
        file,
        `rule_files: [${rules}]\ntests:\n  - name: t\n    events: []\n    expected_alerts: []\n`,
      );
      return file;
    };
    const bad = await cli(['test-rules', tests('rules.yaml')], '');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      `llmsec test-rules: ${notRules}: want a list of rules, or an object with a "rules" list\n`,
    );
    const none = await cli(['test-rules', tests('empty.yaml')], '');
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(`llmsec test-rules: tests-empty.yaml: rule_files: no rules in ${empty}\n`);
  });
});
