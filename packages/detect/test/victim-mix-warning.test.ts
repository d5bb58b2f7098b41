import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { DetectionEngine, parseRules } from '../src/index.ts';

/**
 * A rule reading auth_failure with another category is not exempt from enforcement and its
 * alerts do not say which users only failed logins (README, victims: known limit); the engine
 * says so once per rule id at construction. Rules of auth_failure alone (exempt) and rules
 * without it say nothing.
 */

function capture(): string[] {
  const warnings: string[] = [];
  const logger: DiagLogger = {
    error: () => {},
    warn: (m: string) => void warnings.push(m),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  diag.setLogger(logger, DiagLogLevel.WARN);
  return warnings;
}

afterEach(() => diag.disable());

const rule = (id: string, categories: string): string => `
  - id: ${id}
    title: t
    severity: critical
    match: { categories: [${categories}] }
    group_by: source_ip
    window: 5m
    condition: { kind: count, min: 4 }`;

describe('a rule mixing auth_failure with other categories', () => {
  it('is warned about once per rule id, naming it; exempt and unrelated rules are not', () => {
    const warnings = capture();
    const rules = parseRules(
      `rules:${rule('mixed_by_address_w', 'auth_failure, guardrail_block')}${rule('auth_only_w', 'auth_failure')}${rule('blocks_only_w', 'guardrail_block')}`,
      'mix.yaml',
    );
    new DetectionEngine({ rules });
    new DetectionEngine({ rules });
    const ours = warnings.filter((w) => w.includes('_w '));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain('rule mixed_by_address_w reads auth_failure with other categories');
  });
});
