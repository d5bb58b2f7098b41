import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './replay-io.ts';

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'llmsec-test-rules-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

const RULES = `rules:
  - id: three_auth_failures
    title: Three auth failures
    severity: warning
    match: { categories: [auth_failure] }
    group_by: source_ip
    window: 1m
    condition: { kind: count, min: 3 }
`;

describe('llmsec test-rules', () => {
  it('passes the shipped tests of the default rules', async () => {
    const { code, stdout } = await cli(['test-rules', 'packages/detect/rules/tests/default-rules.test.yaml']);
    expect(stdout).toContain('20 tests, 20 passed, 0 failed');
    expect(code).toBe(0);
  });

  it('uses rule files and events files relative to the test file', async () => {
    const d = dir({
      'rules.yaml': RULES,
      'events.jsonl': [0, 10, 20]
        .map((s, i) =>
          JSON.stringify({
            event_id: `f${i}`,
            timestamp: `2026-01-01T00:00:${String(s).padStart(2, '0')}Z`,
            category: 'auth_failure',
            severity: 'warning',
            user_id: `u${i}`,
            source_ip: '10.1.1.1',
          }),
        )
        .join('\n'),
      't.yaml': `rule_files: [rules.yaml]
tests:
  - name: from a file
    events_file: events.jsonl
    until: 5m
    expected_alerts:
      - { rule: three_auth_failures, status: firing, labels: { source_ip: 10.1.1.1 }, user_ids: [u0, u1, u2], starts_at: 20s, evidence: [f0, f1, f2] }
      - { rule: three_auth_failures, status: resolved, ends_at: "2026-01-01T00:01:20Z" }
`,
    });
    const { code, stdout } = await cli(['test-rules', join(d, 't.yaml')]);
    expect(stdout).toContain('PASS  from a file');
    expect(code).toBe(0);
  });

  it('without until, incidents still in their quiet period at the end stay firing', async () => {
    const d = dir({
      'rules.yaml': RULES,
      't.yaml': `rule_files: [rules.yaml]
tests:
  - name: open at the end
    series:
      - { every: 5s, count: 3, event: { category: auth_failure, user_id: u, source_ip: 10.0.0.1 } }
    expected_alerts:
      - { rule: three_auth_failures, status: firing, starts_at: 10s }
`,
    });
    const { code, stdout } = await cli(['test-rules', join(d, 't.yaml')]);
    expect(stdout).toContain('PASS  open at the end');
    expect(code).toBe(0);
  });

  it('prints a diff and exits 1 when alerts differ', async () => {
    const d = dir({
      'rules.yaml': RULES,
      't.yaml': `rule_files: [rules.yaml]
tests:
  - name: wrong expectation
    series:
      - { every: 5s, count: 3, event: { category: auth_failure, user_id: u, source_ip: 10.0.0.1, metadata: { reason: x } } }
    expected_alerts:
      - { rule: three_auth_failures, status: firing, labels: { source_ip: 10.9.9.9 } }
  - name: right expectation
    series:
      - { every: 5s, count: 2, event: { category: auth_failure, user_id: u, source_ip: 10.0.0.1 } }
`,
    });
    const { code, stdout } = await cli(['test-rules', join(d, 't.yaml')]);
    expect(code).toBe(1);
    expect(stdout).toContain('FAIL  wrong expectation');
    expect(stdout).toContain(
      '  - expected, not produced: {"rule":"three_auth_failures","status":"firing","labels":{"source_ip":"10.9.9.9"}}',
    );
    expect(stdout).toMatch(
      / {2}\+ produced, not expected: \{"rule":"three_auth_failures","status":"firing","labels":\{"source_ip":"10.0.0.1"\}/,
    );
    expect(stdout).toContain('PASS  right expectation');
    expect(stdout).toContain('2 tests, 1 passed, 1 failed');
  });

  it('exits 2 for an only_rules naming no rule under test (a typo would make the test pass whatever fired)', async () => {
    const d = dir({
      'rules.yaml': RULES,
      'typo.yaml': `rule_files: [rules.yaml]
tests:
  - name: typo
    only_rules: [three_auth_failure]
    series:
      - { every: 5s, count: 3, event: { category: auth_failure, user_id: u, source_ip: 10.0.0.1 } }
    expected_alerts: []
`,
      'builtin.yaml': `tests:
  - name: typo in a built-in rule's id
    only_rules: [rapid_guardrail_blocks, system_prompt_leak]
    expected_alerts: []
  - name: right
    only_rules: [rapid_guardrail_blocks]
    expected_alerts: []
`,
    });
    const typo = await cli(['test-rules', join(d, 'typo.yaml')]);
    expect(typo.stdout).not.toContain('PASS');
    expect(typo.stderr).toContain(
      'typo.yaml: test "typo": only_rules: no rule "three_auth_failure" among the rules under test',
    );
    expect(typo.code).toBe(2);
    const builtin = await cli(['test-rules', join(d, 'builtin.yaml')]);
    expect(builtin.stderr).toContain(
      'builtin.yaml: test "typo in a built-in rule\'s id": only_rules: no rule "system_prompt_leak"',
    );
    expect(builtin.code).toBe(2);
  });

  it('exits 2 for rule_files holding no rules, as replay --rules and the detector refuse them', async () => {
    // Every test expecting no alert would pass whatever the rules were meant to do.
    const d = dir({
      'none.yaml': 'rules: []\n',
      'empty.yaml': `rule_files: [none.yaml]
tests:
  - name: quiet
    series:
      - { every: 1s, count: 12, event: { category: guardrail_block, user_id: u } }
    expected_alerts: []
`,
    });
    const r = await cli(['test-rules', join(d, 'empty.yaml')]);
    expect(r.stdout).not.toContain('PASS');
    expect(r.stderr).toContain(`empty.yaml: rule_files: no rules in ${join(d, 'none.yaml')}`);
    expect(r.code).toBe(2);
  });

  it('exits 2 and names the problem for a bad test file', async () => {
    const d = dir({
      'bad.yaml': `tests:
  - name: no user
    events:
      - { at: 1m, category: guardrail_block }
`,
      'worse.yaml': 'tests: 3\n',
    });
    const a = await cli(['test-rules', join(d, 'bad.yaml')]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('bad.yaml: test "no user": events[0]: missing required field "user_id"');
    // An event with both `at` and `timestamp`: one of them is ignored, so the test would not
    // say what it seems to (a bad timestamp passed unnoticed).
    const both = dir({
      'both.yaml': `tests:
  - name: two times
    series:
      - { every: 1m, count: 2, event: { category: auth_failure, user_id: u, timestamp: "nope" } }
`,
    });
    const c = await cli(['test-rules', join(both, 'both.yaml')]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('both.yaml: test "two times": series[0]: give "at" or "timestamp", not both');
    const b = await cli(['test-rules', join(d, 'worse.yaml')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('worse.yaml: field "tests"');
    expect((await cli(['test-rules'])).code).toBe(2);
  });

  it('counts an event id given twice once, as llmsec replay does (the same alerts under test as in replay)', async () => {
    const events = ['f0', 'f1', 'f0'].map((id, i) =>
      JSON.stringify({
        event_id: id,
        timestamp: `2026-01-01T00:00:0${i}Z`,
        category: 'auth_failure',
        severity: 'warning',
        user_id: `u${i}`,
        source_ip: '10.1.1.1',
      }),
    );
    const d = dir({
      'rules.yaml': RULES,
      'events.jsonl': events.join('\n'),
      't.yaml': `rule_files: [rules.yaml]
tests:
  - name: a repeated id
    events_file: events.jsonl
    expected_alerts: []
  - name: repeated inline
    events:
      - { at: 0s, event_id: g0, category: auth_failure, user_id: a, source_ip: 10.1.1.1 }
      - { at: 1s, event_id: g1, category: auth_failure, user_id: b, source_ip: 10.1.1.1 }
      - { at: 2s, event_id: g1, category: auth_failure, user_id: b, source_ip: 10.1.1.1 }
    expected_alerts: []
`,
    });
    const got = await cli(['test-rules', join(d, 't.yaml')]);
    expect(got.stdout).toContain('PASS  a repeated id');
    expect(got.stdout).toContain('PASS  repeated inline');
    expect(got.code).toBe(0);
    // replay of the same file: the same answer (no alert; the repeat said).
    const replay = await cli([
      'replay',
      join(d, 'events.jsonl'),
      '--rules',
      join(d, 'rules.yaml'),
      '--threads',
      '1',
    ]);
    expect(replay.stdout).toBe('');
    expect(replay.stderr).toContain('1 repeated event ids (dropped)');
  });

  it('says a rule file or test file with a second YAML document is one, in words a user can act on', async () => {
    const d = dir({
      'rules.yaml': `${RULES}---\n${RULES}`,
      'two.yaml': 'tests: []\n---\ntests: []\n',
      'tests.yaml':
        'rule_files: [rules.yaml]\ntests:\n  - name: t\n    events: []\n    expected_alerts: []\n',
    });
    for (const [args, want] of [
      [
        ['test-rules', join(d, 'two.yaml')],
        'two.yaml: not valid YAML: more than one YAML document (a second one starts at line 2',
      ],
      [
        ['test-rules', join(d, 'tests.yaml')],
        'rules.yaml: not valid YAML or JSON: more than one YAML document (a second one starts at line 9',
      ],
      [
        ['replay', '--rules', join(d, 'rules.yaml'), '-'],
        'rules.yaml: not valid YAML or JSON: more than one YAML document (a second one starts at line 9',
      ],
    ] as const) {
      const got = await cli([...args], '');
      expect(got.stderr).toContain(want);
      expect(got.stderr).not.toContain('parseAllDocuments');
      expect(got.code).toBe(2);
    }
  });

  it('says a test file that is empty, a comment, or not a mapping is one, naming what it wants', async () => {
    const d = dir({ 'empty.yaml': '', 'comment.yaml': '# tests to come\n', 'list.yaml': '- a\n- b\n' });
    for (const [file, got] of [
      ['empty.yaml', 'an empty file'],
      ['comment.yaml', 'an empty file'],
      ['list.yaml', 'a list'],
    ] as const) {
      const r = await cli(['test-rules', join(d, file)]);
      expect(r.stderr).toContain(`${file}: want a mapping with a "tests" list, got ${got}`);
      expect(r.stderr).not.toContain('field ""');
      expect(r.code).toBe(2);
    }
  });
});
