// `where: [{ field: f, equals: x, exists: false }]` loaded, and the compiled filter tested
// equals alone: the rule counted events whose f is x, the opposite of the exists: false it
// shows. The README has a predicate be one test; this pair is refused, naming the predicate.
import { describe, expect, it } from 'vitest';
import { parseRules, RuleFileError } from '../src/index.ts';

const rule = (predicate: string) => `rules:
  - id: r
    title: T
    severity: alert
    match: { categories: [guardrail_block], where: [${predicate}] }
    window: 1m
    condition: { kind: count, min: 2 }
`;

describe('a where predicate with equals and exists: false', () => {
  it('is refused, naming the predicate', () => {
    let err: unknown;
    try {
      parseRules(rule('{ field: source_ip, equals: 10.0.0.1, exists: false }'), 'rules.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RuleFileError);
    expect((err as Error).message).toBe(
      'rules.yaml: rule "r": field "match.where.0": equals and exists: false contradict each other (one test per predicate)',
    );
  });

  it('equals with exists: true, and each alone, still load', () => {
    for (const p of [
      '{ field: source_ip, equals: 10.0.0.1, exists: true }',
      '{ field: source_ip, equals: 10.0.0.1 }',
      '{ field: source_ip, exists: false }',
    ]) {
      expect(parseRules(rule(p), 'rules.yaml')).toHaveLength(1);
    }
  });
});
