import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { CATEGORIES } from '@llmsec/core';
import { afterEach, describe, expect, it } from 'vitest';
import { likelyCategoryTypo } from '../src/category-typo.ts';
import { categoryTypoWarnings, DetectionEngine, parseRules } from '../src/index.ts';

/**
 * A rule reading `guardrail_blok` is valid (custom categories are allowed) but never fires:
 * a category within two edits of a built-in one is reported as a likely typo, naming the rule,
 * the category and the built-in one; built-in names and far-away custom ones are not.
 */

const rule = (id: string, categories: string): string => `
  - id: ${id}
    title: t
    severity: alert
    match: { categories: [${categories}] }
    window: 5m
    condition: { kind: count, min: 3 }`;

describe('likelyCategoryTypo', () => {
  it('finds the built-in category a near name was meant to be', () => {
    expect(likelyCategoryTypo('guardrail_blok')).toBe('guardrail_block');
    expect(likelyCategoryTypo('guardrail_blcok')).toBe('guardrail_block'); // a swap is one edit
    expect(likelyCategoryTypo('auth_failures')).toBe('auth_failure');
    expect(likelyCategoryTypo('Guardrail_Block')).toBe('guardrail_block'); // case aside
    expect(likelyCategoryTypo('pii_detectd')).toBe('pii_detected');
  });

  it('says nothing of built-in names, far-away custom names, or long input', () => {
    for (const c of CATEGORIES) expect(likelyCategoryTypo(c)).toBeUndefined();
    expect(likelyCategoryTypo('billing_dispute')).toBeUndefined();
    expect(likelyCategoryTypo('guardrail_bypass')).toBeUndefined(); // 4 edits from guardrail_block
    expect(likelyCategoryTypo('x')).toBeUndefined();
    expect(likelyCategoryTypo(`guardrail_block${'k'.repeat(100_000)}`)).toBeUndefined();
  });
});

describe('categoryTypoWarnings', () => {
  it('names the file, the rule, the category and the built-in one, for typos only', () => {
    const rules = parseRules(
      `rules:${rule('blocks_typo', 'guardrail_blok, guardrail_blok')}${rule('blocks_ok', 'guardrail_block')}${rule('own_category', 'billing_dispute')}`,
      'r.yaml',
    );
    expect(categoryTypoWarnings(rules, 'rules/r.yaml')).toEqual([
      'rules/r.yaml: rule "blocks_typo": category "guardrail_blok" is not built in; did you mean "guardrail_block"? ' +
        'As written the rule reads no event the SDK records (a custom category is fine; only names within 2 edits ' +
        'of a built-in one are warned about)',
    ]);
  });
});

describe('the engine at construction', () => {
  afterEach(() => diag.disable());

  it('says a likely typo once per process on diag (the detector logs it at start)', () => {
    const warnings: string[] = [];
    const logger: DiagLogger = {
      error: () => {},
      warn: (m: string) => void warnings.push(m),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    };
    diag.setLogger(logger, DiagLogLevel.WARN);
    const rules = parseRules(
      `rules:${rule('engine_typo_t', 'rate_limit_hti')}${rule('engine_own_t', 'billing_dispute')}`,
      'r.yaml',
    );
    new DetectionEngine({ rules });
    new DetectionEngine({ rules });
    const ours = warnings.filter((w) => w.includes('_t"'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain(
      'llmsec detect: rule "engine_typo_t": category "rate_limit_hti" is not built in; did you mean "rate_limit_hit"?',
    );
  });
});
