// A rule without a required field was refused with zod's words for a wrong type ('field
// "window": Invalid input', 'field "title": Invalid input: expected string, received
// undefined'), which do not say the field is missing. Now 'required'; a field given with a
// wrong value keeps its message.
import { describe, expect, it } from 'vitest';
import { parseRules, RuleFileError } from '../src/index.ts';
import { thrownBy } from './rule-file-support.ts';

const BASE = {
  id: 'r',
  title: 'T',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  window: '1m',
  condition: { kind: 'count', min: 2 },
};

function loadError(rule: Record<string, unknown>): string {
  const err = thrownBy('the rule', () => parseRules(JSON.stringify([rule]), 'rules.yaml'));
  expect(err).toBeInstanceOf(RuleFileError);
  return err.message;
}

describe('a rule missing a required field', () => {
  it('says which field is required', () => {
    for (const [key, rule] of [
      ['title', { ...BASE, title: undefined }],
      ['window', { ...BASE, window: undefined }],
      ['match', { ...BASE, match: undefined }],
      ['match.categories', { ...BASE, match: {} }],
      ['condition', { ...BASE, condition: undefined }],
      ['condition.min', { ...BASE, condition: { kind: 'count' } }],
      ['match.where.0.field', { ...BASE, match: { categories: ['x'], where: [{ equals: 'a' }] } }],
    ] as const) {
      expect(loadError(rule)).toBe(`rules.yaml: rule "r": field "${key}": required`);
    }
  });

  it('keeps the choices of a missing severity or condition kind, and the message of a wrong value', () => {
    expect(loadError({ ...BASE, severity: undefined })).toBe(
      'rules.yaml: rule "r": field "severity": required: Invalid option: expected one of "warning"|"alert"|"critical"',
    );
    expect(loadError({ ...BASE, condition: { min: 2 } })).toMatch(
      /^rules\.yaml: rule "r": field "condition\.kind": required: Invalid discriminator value/,
    );
    expect(loadError({ ...BASE, title: 5 })).toBe(
      'rules.yaml: rule "r": field "title": Invalid input: expected string, received number',
    );
    expect(loadError({ ...BASE, window: 'ten' })).toBe(
      'rules.yaml: rule "r": field "window": bad duration "ten" (want e.g. 30s, 10m, 1h or milliseconds)',
    );
  });
});
