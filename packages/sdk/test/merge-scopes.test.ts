import { describe, expect, it } from 'vitest';
import type { ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { mergeRepeatedScopes } from '../src/merge-scopes.ts';

const metric = (name: string) => ({ descriptor: { name } }) as unknown as ScopeMetrics['metrics'][number];
const block = (name: string, metrics: string[], version?: string): ScopeMetrics => ({
  scope: version === undefined ? { name } : { name, version },
  metrics: metrics.map(metric),
});
const names = (rm: ResourceMetrics) =>
  rm.scopeMetrics.map(
    (s) => `${s.scope.name}@${s.scope.version ?? ''}: ${s.metrics.map((m) => m.descriptor.name).join(',')}`,
  );

describe('mergeRepeatedScopes', () => {
  const resource = {} as ResourceMetrics['resource'];

  it('returns the collection itself when no scope repeats', () => {
    const rm: ResourceMetrics = {
      resource,
      scopeMetrics: [block('a', ['x']), block('b', ['y']), block('a', ['z'], '2')],
    };
    expect(mergeRepeatedScopes(rm)).toBe(rm);
  });

  it('merges blocks of one scope (name, version, schema) in collection order, other scopes untouched', () => {
    const sdk = block('@llmsec/sdk', ['llmsec.events']);
    const rm: ResourceMetrics = {
      resource,
      scopeMetrics: [
        sdk,
        block('other', ['o']),
        block('@llmsec/sdk', ['llmsec.guardrail.duration']),
        block('other', ['p'], '1'),
      ],
    };
    const merged = mergeRepeatedScopes(rm);
    expect(names(merged)).toEqual([
      '@llmsec/sdk@: llmsec.events,llmsec.guardrail.duration',
      'other@: o',
      'other@1: p',
    ]);
    expect(merged.resource).toBe(resource);
    // The collected blocks are not changed (a reader may hand the same objects to others).
    expect(sdk.metrics.map((m) => m.descriptor.name)).toEqual(['llmsec.events']);
  });
});
