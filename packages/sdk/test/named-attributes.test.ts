import { afterEach, describe, expect, it } from 'vitest';
import { eventToAttributes, type Metadata, type SecurityEvent } from '@llmsec/core';
import { addNamedMetadata } from '../src/named-attributes.ts';
import { eventAttributes } from '../src/event-attributes.ts';
import type { SecurityEvents } from '../src/security-events.ts';
import { createHarness } from './harness.ts';

let harness: ReturnType<typeof createHarness> | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** The same attributes, order and value types as core's codec (the generic loop's reference). */
function expectAsCodec(event: SecurityEvent): void {
  const ours = eventAttributes(event);
  const codec = eventToAttributes(event);
  expect(ours).toStrictEqual(codec);
  expect(Object.keys(ours)).toEqual(Object.keys(codec));
  for (const key of Object.keys(codec)) expect(typeof ours[key]).toBe(typeof codec[key]);
}

/** Each category method with its fields, as a caller writes them. */
const METHODS: [string, (e: SecurityEvents, extra: object) => SecurityEvent][] = [
  ['guardrail_block', (e, x) => e.guardrailBlock({ layer: 'injection', reason: 'ignore previous', ...x })],
  ['output_filter_block', (e, x) => e.outputFilterBlock({ filter: 'secrets', reason: 'api key', ...x })],
  ['rate_limit_hit', (e, x) => e.rateLimitHit({ limitType: 'rpm', current: 61, limit: 60, ...x })],
  ['anomalous_pattern', (e, x) => e.anomalousPattern({ anomalyType: 'burst', ...x })],
  ['system_prompt_leakage', (e, x) => e.systemPromptLeakage({ method: 'canary', confidence: 0.9, ...x })],
  ['pii_detected', (e, x) => e.piiDetected({ piiTypes: ['email', 'phone'], direction: 'output', ...x })],
  ['tool_abuse_attempt', (e, x) => e.toolAbuseAttempt({ tool: 'shell', reason: 'not allowed', ...x })],
  ['auth_failure', (e, x) => e.authFailure({ reason: 'bad token', ...x })],
  [
    'unusual_token_usage',
    (e, x) => e.unusualTokenUsage({ promptTokens: 90_000, completionTokens: 12, ...x }),
  ],
];

describe("category methods' metadata attributes with their names written out", () => {
  it('serve every category method, with the same attributes, order and types as the codec', () => {
    harness = createHarness();
    const extras = [
      {},
      { userId: 'u-1', sessionId: 's-1', description: 'd' },
      { conversationId: 'c', sourceIp: '10.0.0.1' },
    ];
    for (const [category, method] of METHODS)
      for (const extra of extras) {
        const event = method(harness.events, extra);
        expect(event.category).toBe(category);
        // The written-out path applies (fails if a method's fields and this file drift apart).
        expect(addNamedMetadata({}, category, event.metadata as Metadata)).toBe(true);
        expectAsCodec(event);
      }
  });

  it('leave any other shape to the generic loop (writing nothing), with the same result', () => {
    harness = createHarness();
    // Caller metadata beside the fields, a payload's length, a dropped field, a field clipped.
    const extras: object[] = [
      { metadata: { route: '/chat' } },
      { requestText: 'hello there' },
      { responseText: 'an answer' },
    ];
    for (const [category, method] of METHODS)
      for (const extra of extras) {
        const event = method(harness.events, extra);
        const attrs = {};
        expect(addNamedMetadata(attrs, category, event.metadata as Metadata)).toBe(false);
        expect(attrs).toEqual({});
        expectAsCodec(event);
      }
    const dropped = harness.events.rateLimitHit({ limitType: 'rpm', current: Number.NaN, limit: 60 });
    expect(addNamedMetadata({}, 'rate_limit_hit', dropped.metadata as Metadata)).toBe(false);
    expectAsCodec(dropped);
    // Reordered or with one key more or less: not the method's shape.
    const shapes: Metadata[] = [
      { block_reason: 'r', guardrail_layer: 'l' },
      { guardrail_layer: 'l' },
      { guardrail_layer: 'l', block_reason: 'r', extra: 1 },
      { '0': 'x', guardrail_layer: 'l' },
    ];
    for (const md of shapes) {
      const attrs = {};
      expect(addNamedMetadata(attrs, 'guardrail_block', md)).toBe(false);
      expect(attrs).toEqual({});
      expectAsCodec({
        event_id: 'EVT-000000000001',
        timestamp: '2026-12-05T00:00:00.000Z',
        category: 'guardrail_block',
        severity: 'warning',
        user_id: 'u',
        metadata: md,
      });
    }
  });

  it('a shape of one category under another category name is not taken for it', () => {
    const md: Metadata = { guardrail_layer: 'l', block_reason: 'r' };
    for (const [category] of METHODS.filter(([c]) => c !== 'guardrail_block')) {
      const attrs = {};
      expect(addNamedMetadata(attrs, category, md)).toBe(false);
      expect(attrs).toEqual({});
    }
  });

  it('with an enumerable key polluted onto Object.prototype, the shape is not taken and nothing inherited is written', () => {
    harness = createHarness();
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 'x';
    try {
      const event = harness.events.guardrailBlock({ layer: 'injection', reason: 'r' });
      expect(addNamedMetadata({}, 'guardrail_block', event.metadata as Metadata)).toBe(false);
      const attrs = eventAttributes(event);
      expect(Object.hasOwn(attrs, 'llmsec.metadata.polluted')).toBe(false);
      expect(attrs['llmsec.metadata.guardrail_layer']).toBe('injection');
      expect(attrs['llmsec.metadata.block_reason']).toBe('r');
    } finally {
      delete proto.polluted;
    }
  });
});
