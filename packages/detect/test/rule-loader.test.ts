import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RULE_IDS,
  DEFAULT_RULES_PATH,
  defaultRules,
  formatDuration,
  loadRulesFile,
  parseDuration,
  parseRules,
  RuleFileError,
} from '../src/index.ts';

describe('durations', () => {
  it('parses unit strings, sums and milliseconds', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration(42)).toBe(42);
    expect(parseDuration('42')).toBe(42);
    for (const bad of ['', 'ten', '10x', '10m junk', -1]) expect(parseDuration(bad)).toBeNaN();
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(600_000)).toBe('10m');
  });
});

describe('rule files', () => {
  it('ships the default rules (DEFAULT_RULE_IDS) as data with the issue figures', () => {
    const rules = defaultRules();
    expect(rules.map((r) => r.id)).toEqual([...DEFAULT_RULE_IDS]);
    const byId = Object.fromEntries(rules.map((r) => [r.id, r]));
    expect(byId.rapid_guardrail_blocks).toMatchObject({
      severity: 'alert',
      window_ms: 600_000,
      condition: { kind: 'count', min: 10 },
    });
    expect(byId.output_filter_bypass).toMatchObject({
      severity: 'critical',
      condition: { kind: 'count', min: 3 },
    });
    expect(byId.high_block_rate).toMatchObject({
      window_ms: 300_000,
      condition: { kind: 'ratio', min_events: 11, above: 0.5 },
    });
    expect(byId.coordinated_campaign).toMatchObject({
      group_by: 'fingerprint',
      condition: { kind: 'cross_group', min: 5 },
    });
    expect(byId.indirect_prompt_injection).toMatchObject({
      severity: 'alert',
      group_by: 'fingerprint',
      match: { categories: ['guardrail_block'], where: [{ field: 'metadata.input_source', equals: 'tool' }] },
      condition: { kind: 'single' },
    });
    // The per-user backstop on the same events: many different "tool" payloads from one user.
    expect(byId.tool_injection_variety).toMatchObject({
      severity: 'alert',
      group_by: 'user_id',
      match: { categories: ['guardrail_block'], where: [{ field: 'metadata.input_source', equals: 'tool' }] },
      condition: { kind: 'distinct', field: 'fingerprint', min: 10 },
    });
    // The rules on authentication, rate-limit and tool events: the figures their docs state.
    const notAnonymous = { field: 'user_id', not_in: ['anonymous'] };
    const notSecondary = { field: 'metadata.subject_role', not_in: ['secondary'] };
    expect(byId.auth_failure_burst).toMatchObject({
      severity: 'warning',
      window_ms: 300_000,
      match: { categories: ['auth_failure'], where: [notAnonymous] },
      condition: { kind: 'count', min: 10 },
    });
    // Grouped by address, counting accounts: the figure a NAT's honest failures stay under.
    expect(byId.credential_stuffing).toMatchObject({
      severity: 'alert',
      group_by: 'source_ip',
      window_ms: 300_000,
      match: { categories: ['auth_failure'], where: [notAnonymous] },
      condition: { kind: 'cross_group', across: 'user_id', min: 50 },
    });
    expect(byId.rate_limit_persistence).toMatchObject({
      severity: 'warning',
      window_ms: 300_000,
      match: {
        categories: ['rate_limit_hit'],
        where: [
          { field: 'metadata.limit_type', not_in: ['store_unavailable', 'cost_hour', 'cost_day'] },
          notAnonymous,
          notSecondary,
        ],
      },
      condition: { kind: 'count', min: 20 },
    });
    expect(byId.cost_limit_abuse).toMatchObject({
      severity: 'alert',
      window_ms: 600_000,
      match: {
        categories: ['rate_limit_hit'],
        where: [{ field: 'metadata.limit_type', in: ['cost_hour', 'cost_day'] }, notAnonymous, notSecondary],
      },
      condition: { kind: 'count', min: 10 },
    });
    expect(byId.tool_abuse_repeated).toMatchObject({
      severity: 'alert',
      window_ms: 600_000,
      match: { categories: ['tool_abuse_attempt'] },
      condition: { kind: 'count', min: 3 },
    });
    expect(readFileSync(DEFAULT_RULES_PATH, 'utf8')).toContain('rapid_guardrail_blocks');
    // Callers get copies: editing one does not change the defaults.
    rules[0]!.window_ms = 1;
    expect(defaultRules()[0]!.window_ms).toBe(600_000);
  });

  it('reads JSON as well as YAML, as a list or under "rules", with quiet and where', () => {
    const json = JSON.stringify([
      {
        id: 'json_rule',
        title: 'J',
        severity: 'warning',
        match: { categories: ['auth_failure'], where: [{ field: 'metadata.reason', equals: 'bad key' }] },
        window: 30_000,
        quiet: '2m',
        condition: { kind: 'single' },
      },
    ]);
    const [rule] = parseRules(json, 'r.json');
    expect(rule).toMatchObject({
      id: 'json_rule',
      group_by: 'user_id',
      window_ms: 30_000,
      quiet_ms: 120_000,
    });
  });

  it('reports every problem with the file, the rule and the field', () => {
    const text = `
rules:
  - id: good
    title: fine
    severity: warning
    match: { categories: [auth_failure] }
    window: 1m
    condition: { kind: count, min: 2 }
  - id: bad_window
    title: x
    severity: warning
    match: { categories: [auth_failure] }
    window: ten minutes
    condition: { kind: count, min: 2 }
  - id: bad_field
    title: x
    severity: loud
    match: { categories: [guardrail_block] }
    window: 1m
    condition: { kind: distinct, field: metadata., min: 0 }
  - id: bad_kind
    title: x
    severity: alert
    match: { categories: [x] }
    window: 1m
    condition: { kind: magic }
  - title: no id
    severity: alert
    match: { categories: [x] }
    window: 1m
    condition: { kind: single }
  - id: good
    title: again
    severity: warning
    match: { categories: [auth_failure] }
    window: 1m
    extra: 1
    condition: { kind: count, min: 2 }
`;
    let message = '';
    try {
      parseRules(text, 'rules.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(RuleFileError);
      message = (err as Error).message;
    }
    const lines = message.split('\n');
    expect(lines).toContain(
      'rules.yaml: rule "bad_window": field "window": bad duration "ten minutes" (want e.g. 30s, 10m, 1h or milliseconds)',
    );
    expect(lines.some((l) => l.startsWith('rules.yaml: rule "bad_field": field "severity":'))).toBe(true);
    expect(
      lines.some((l) => l.startsWith('rules.yaml: rule "bad_field": field "condition.field": unknown field')),
    ).toBe(true);
    expect(lines.some((l) => l.startsWith('rules.yaml: rule "bad_field": field "condition.min":'))).toBe(
      true,
    );
    expect(lines.some((l) => l.startsWith('rules.yaml: rule "bad_kind": field "condition.kind":'))).toBe(
      true,
    );
    expect(lines.some((l) => l.startsWith('rules.yaml: rule #5: field "id":'))).toBe(true);
    expect(lines.some((l) => l.startsWith('rules.yaml: rule "good": ') && l.includes('extra'))).toBe(true);
    expect(lines.filter((l) => l.includes('"good"') && !l.includes('extra'))).toEqual([]);
  });

  it('rejects a file that is not a rule list, and names an unreadable file', () => {
    expect(() => parseRules('just: text', 'x.yaml')).toThrow('x.yaml: want a list of rules');
    expect(() => parseRules('rules: [', 'x.yaml')).toThrow(/^x\.yaml: not valid YAML or JSON/);
    // A second document: what the operator can do, not the yaml library's parseAllDocuments().
    const twoDocs = () => parseRules('rules: []\n---\nrules: []\n', 'two.yaml');
    expect(twoDocs).toThrow(
      'two.yaml: not valid YAML or JSON: more than one YAML document (a second one starts at line 2,',
    );
    expect(twoDocs).not.toThrow(/parseAllDocuments/);
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-rules-'));
    expect(() => loadRulesFile(join(dir, 'missing.yaml'))).toThrow(/^missing\.yaml: cannot read/);
    writeFileSync(
      join(dir, 'ok.yml'),
      'rules:\n  - { id: a, title: A, severity: critical, match: { categories: [pii_detected] }, window: 5m, condition: { kind: single } }\n',
    );
    expect(loadRulesFile(join(dir, 'ok.yml')).map((r) => r.id)).toEqual(['a']);
  });
});
