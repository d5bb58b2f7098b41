import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  createIdGenerator,
  seededRandom,
  type Category,
  type EventInputFor,
  type SecurityEvent,
} from '@llmsec/core';
import { SecurityEvents, type SecurityEventsOptions } from '../src/security-events.ts';

/**
 * The category methods read the caller's input in place and hand their named fields to the
 * builder, which normalises them straight into the metadata. Before (issue 13) they copied the
 * input without the category fields, merged the named fields into a copy of `input.metadata`
 * and called emit() with that. The property: both give the same event, key order included
 * (the JSONL line and the attribute order follow it), for any input.
 */
class PreviousPath extends SecurityEvents {
  protected override emitNamed(
    category: Category,
    input: unknown,
    named: Record<string, unknown> | undefined,
  ): SecurityEvent {
    if (named === undefined) return super.emitNamed(category, input, undefined);
    // The previous parts() + send().
    const src = input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {};
    const rest: Record<string, unknown> = {};
    for (const key of Object.keys(src)) if (key !== 'metadata') rest[key] = src[key];
    const md = src.metadata;
    const metadata: Record<string, unknown> =
      md !== null && typeof md === 'object' && !Array.isArray(md)
        ? { ...(md as Record<string, unknown>) }
        : {};
    for (const key of Object.keys(named)) if (named[key] !== undefined) metadata[key] = named[key];
    rest.metadata = metadata;
    return this.emit(category, rest as never);
  }
}

function emitters(): [SecurityEvents, SecurityEvents] {
  const options = (): SecurityEventsOptions => ({
    serviceName: 'svc',
    clock: new ManualClock(Date.parse('2026-12-04T10:00:00.000Z')),
    ids: createIdGenerator(seededRandom(7)),
    fingerprintKey: 'k'.repeat(32),
  });
  return [new SecurityEvents(options()), new PreviousPath(options())];
}

const value = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('12', ' 7 ', '', 'x'.repeat(1100)),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(undefined),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean()), { maxLength: 4 }),
  fc.constant({ nested: true }),
);
/** Keys a caller's metadata may carry: the categories' named keys among others. */
const metadataKey = fc.oneof(
  fc.constantFrom(
    'guardrail_layer',
    'block_reason',
    'limit_type',
    'current',
    'model',
    'cost_usd',
    'blocked',
    'prompt_length',
    'tool_name',
    'pii_types',
    'confidence',
    'custom',
  ),
  fc.string({ minLength: 1, maxLength: 70 }),
);
const metadata = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constant('not an object'),
  fc.constant([1, 2]),
  fc.dictionary(metadataKey, value, { maxKeys: 40 }),
);
const fieldNames = [
  'layer',
  'reason',
  'filter',
  'limitType',
  'current',
  'limit',
  'anomalyType',
  'method',
  'confidence',
  'piiTypes',
  'direction',
  'tool',
  'promptTokens',
  'completionTokens',
  'model',
  'latencyMs',
  'costUsd',
  'promptLength',
  'newInputLength',
  'turnIndex',
  'blocked',
  'outcome',
] as const;
const input = fc.record(
  {
    ...Object.fromEntries(fieldNames.map((k) => [k, value])),
    userId: fc.oneof(fc.string({ maxLength: 6 }), fc.constant(undefined)),
    sessionId: fc.oneof(fc.string({ maxLength: 6 }), fc.constant(undefined)),
    description: fc.oneof(fc.string({ maxLength: 6 }), fc.constant(undefined)),
    requestText: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(undefined)),
    metadata,
  },
  { requiredKeys: [] },
);
const methods = [
  'guardrailBlock',
  'outputFilterBlock',
  'rateLimitHit',
  'anomalousPattern',
  'systemPromptLeakage',
  'piiDetected',
  'toolAbuseAttempt',
  'authFailure',
  'unusualTokenUsage',
  'requestCompleted',
] as const;

describe('category methods', () => {
  it('record the same event as the previous copy-and-merge path, for any input', () => {
    const [current, previous] = emitters();
    fc.assert(
      fc.property(
        fc.constantFrom(...methods),
        fc.oneof(input, fc.constant(null), fc.constant(42)),
        (method, given) => {
          const call = (e: SecurityEvents): string =>
            JSON.stringify((e[method] as (i: unknown) => SecurityEvent)(given));
          expect(call(current)).toBe(call(previous));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('still go through an overriding emit(), with the named fields merged into the metadata', () => {
    const seen: unknown[] = [];
    class Recording extends SecurityEvents {
      override emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent {
        seen.push([category, input.metadata]);
        return super.emit(category, input);
      }
    }
    const events = new Recording({ clock: new ManualClock(0), fingerprintKey: 'k'.repeat(32) });
    const event = events.guardrailBlock({ layer: 'injection', reason: 'r', metadata: { extra: 1 } });
    expect(seen).toEqual([
      ['guardrail_block', { extra: 1, guardrail_layer: 'injection', block_reason: 'r' }],
    ]);
    expect(event.metadata).toEqual({ extra: 1, guardrail_layer: 'injection', block_reason: 'r' });
  });

  it('write text fields given as numbers or booleans (untyped callers) as strings, as events.md has them', () => {
    const [events] = emitters();
    const anyInput = (i: Record<string, unknown>) => i as never;
    expect(events.guardrailBlock(anyInput({ layer: 5, reason: true })).metadata).toEqual({
      guardrail_layer: '5',
      block_reason: 'true',
    });
    expect(events.outputFilterBlock(anyInput({ filter: 2, reason: 'r' })).metadata).toMatchObject({
      filter_name: '2',
    });
    expect(events.rateLimitHit(anyInput({ limitType: 1, current: 3, limit: 2 })).metadata).toMatchObject({
      limit_type: '1',
      current: 3,
    });
    expect(events.anomalousPattern(anyInput({ anomalyType: 7 })).metadata).toEqual({ anomaly_type: '7' });
    expect(events.systemPromptLeakage(anyInput({ method: 0, confidence: 0.5 })).metadata).toMatchObject({
      detection_method: '0',
    });
    expect(events.toolAbuseAttempt(anyInput({ tool: 9, reason: 'r' })).metadata).toMatchObject({
      tool_name: '9',
    });
    expect(events.authFailure(anyInput({ reason: 401 })).metadata).toEqual({ reason: '401' });
    expect(
      events.requestCompleted(
        anyInput({
          model: 4,
          promptTokens: 1,
          completionTokens: 1,
          latencyMs: 1,
          costUsd: 0,
          blocked: false,
        }),
      ).metadata,
    ).toMatchObject({ model: '4' });
  });

  it('do not change the caller input', () => {
    const [events] = emitters();
    const metadataIn = { guardrail_layer: 'from metadata', extra: 1 };
    const given = { layer: 'injection', reason: 'r', userId: 'u', metadata: metadataIn };
    const event = events.guardrailBlock(given);
    expect(given).toEqual({
      layer: 'injection',
      reason: 'r',
      userId: 'u',
      metadata: { guardrail_layer: 'from metadata', extra: 1 },
    });
    expect(event.metadata).toEqual({ guardrail_layer: 'injection', extra: 1, block_reason: 'r' });
    expect(Object.keys(event.metadata!)).toEqual(['guardrail_layer', 'extra', 'block_reason']);
  });
});
