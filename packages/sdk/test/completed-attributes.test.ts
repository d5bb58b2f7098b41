import { afterEach, describe, expect, it } from 'vitest';
import { eventToAttributes, type Metadata, type SecurityEvent } from '@llmsec/core';
import { addCompletedMetadata, normaliseCompletedMetadata } from '../src/completed-attributes.ts';
import { normaliseMetadata } from '../src/normalise.ts';
import { eventAttributes } from '../src/event-attributes.ts';
import { completedMetadata, type CompletedFacts } from '../src/instrumentation/completed-event.ts';
import type { CallOutcome } from '../src/instrumentation/call-outcome.ts';
import { createHarness } from './harness.ts';

let harness: ReturnType<typeof createHarness> | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const facts = (over: Partial<CompletedFacts> = {}): CompletedFacts => ({
  model: 'gpt-4o-mini-2024-07-18',
  inputTokens: 34,
  outputTokens: 17,
  seconds: 0.000053,
  costUsd: 0.0000153,
  promptLength: 134,
  newInput: { length: 62, turnIndex: undefined },
  outcome: 'allowed',
  ...over,
});
const OUTCOMES: CallOutcome[] = ['allowed', 'blocked', 'rate_limited', 'error'];
/** Every shape completedMetadata makes: with and without a turn, each outcome, tokens unknown. */
const VARIANTS: CompletedFacts[] = OUTCOMES.flatMap((outcome) => [
  facts({ outcome }),
  facts({ outcome, newInput: { length: 3, turnIndex: 4 } }),
  facts({ outcome, inputTokens: undefined, outputTokens: undefined, costUsd: 0 }),
]);

/** The attributes by the generic loop alone: core's codec, the reference. */
function expectAsCodec(event: SecurityEvent): void {
  const ours = eventAttributes(event);
  const codec = eventToAttributes(event);
  expect(ours).toStrictEqual(codec);
  expect(Object.keys(ours)).toEqual(Object.keys(codec));
  for (const key of Object.keys(codec)) expect(typeof ours[key]).toBe(typeof codec[key]);
}

describe('request_completed attributes with their names written out', () => {
  it('serve every event the instrumentation builds, with the same attributes, order and types as the codec', () => {
    harness = createHarness();
    for (const f of VARIANTS) {
      const event = harness.events.emit('request_completed', { metadata: completedMetadata(f) });
      // The fast path applies to completedMetadata's keys after normalisation (fails if they drift apart).
      expect(addCompletedMetadata({}, event.metadata as Metadata)).toBe(true);
      expectAsCodec(event);
    }
  });

  it('leave any other metadata shape to the generic loop, with the same result', () => {
    harness = createHarness();
    const base = completedMetadata(facts({ newInput: { length: 3, turnIndex: 2 } }));
    const { model, turn_index, ...rest } = base;
    const shapes: Record<string, unknown>[] = [
      { ...rest, model }, // reordered
      { ...base, extra: 'x' }, // one key more
      { model, ...rest, turn_index, extra: 1 },
      rest, // one key fewer
      { ...rest, model, turn_index: 'seven' }, // ten keys, the last not turn_index
      { ...base, outcome: undefined, other: 'y' }, // dropped then another key
      { prompt_tokens: 1 },
    ];
    for (const metadata of shapes) {
      const event = harness.events.emit('request_completed', { metadata } as never);
      if (event.metadata !== undefined) expect(addCompletedMetadata({}, event.metadata)).toBe(false);
      expectAsCodec(event);
    }
    // Another category with the same metadata keys goes through the generic loop too.
    const other = harness.events.emit('unusual_token_usage', { metadata: base });
    expectAsCodec(other);
  });

  it('give the span event and the log record the same attributes, order and types', () => {
    harness = createHarness();
    const span = harness.tracer.startSpan('chat');
    const events: SecurityEvent[] = [];
    for (const f of VARIANTS)
      events.push(harness.events.emit('request_completed', { span, metadata: completedMetadata(f) }));
    span.end();
    const spanEvents = harness.spanExporter.getFinishedSpans()[0]?.events ?? [];
    const logs = harness.logExporter.getFinishedLogRecords();
    expect(spanEvents).toHaveLength(events.length);
    expect(logs).toHaveLength(events.length);
    events.forEach((event, i) => {
      const codec = eventToAttributes(event);
      for (const got of [spanEvents[i]?.attributes, logs[i]?.attributes]) {
        expect(got).toStrictEqual(codec);
        expect(Object.keys(got ?? {})).toEqual(Object.keys(codec));
      }
    });
  });
});

describe('request_completed metadata normalised as one literal', () => {
  /** The generic normalisation: the reference. */
  const generic = (raw: object): Metadata => normaliseMetadata(raw).metadata;

  it('equals the generic normalisation (keys, order, values) for every completedMetadata shape', () => {
    for (const f of VARIANTS) {
      const raw = completedMetadata(f);
      const fast = normaliseCompletedMetadata(raw, (keys) => expect.fail(`dropped ${keys.join(', ')}`));
      expect(fast).toBeDefined();
      expect(fast).toStrictEqual(generic(raw));
      expect(Object.keys(fast ?? {})).toEqual(Object.keys(generic(raw)));
    }
  });

  it('normalises and drops values as the generic path does, and leaves other shapes to it', () => {
    const base: Record<string, unknown> = { ...completedMetadata(facts()) };
    const same: Record<string, unknown>[] = [
      { ...base, model: 'm'.repeat(5000) }, // clipped
      { ...base, prompt_tokens: 34n, completion_tokens: '17' }, // bigint to number; a string stays a string
      { ...base, latency_ms: Infinity, cost_usd: -Infinity }, // clamped
      { ...base, blocked: 'no', outcome: 7 },
      { ...base, turn_index: 3 },
      { ...base, model: ['a', 'b'] }, // an array value
    ];
    const noDrops = (keys: string[]): never => expect.fail(`dropped ${keys.join(', ')}`);
    for (const raw of same) {
      const fast = normaliseCompletedMetadata(raw, noDrops);
      expect(fast).toStrictEqual(generic(raw));
      expect(Object.keys(fast ?? {})).toEqual(Object.keys(generic(raw)));
    }
    const { model, ...rest } = base;
    // A value the generic path drops: dropped here too, from the values read once, with the same keys to warn about.
    const drops: Record<string, unknown>[] = [
      { ...base, cost_usd: Number.NaN }, // dropped by the generic path (which warns)
      { ...base, outcome: undefined }, // dropped without a warning
      { ...base, model: { nested: true }, blocked: Symbol('b') },
      { ...base, turn_index: Number.NaN },
    ];
    for (const raw of drops) {
      let warned: string[] = [];
      const fast = normaliseCompletedMetadata(raw, (keys) => (warned = keys));
      const { metadata, dropped } = normaliseMetadata(raw);
      expect(fast).toStrictEqual(metadata);
      expect(Object.keys(fast ?? {})).toEqual(Object.keys(metadata));
      expect(warned).toEqual(dropped);
    }
    const others: Record<string, unknown>[] = [
      { ...rest, model }, // reordered
      { ...base, extra: 1 },
      rest,
    ];
    for (const raw of others) expect(normaliseCompletedMetadata(raw, noDrops)).toBeUndefined();
  });

  it('gives the event the generic metadata, drops included', () => {
    harness = createHarness();
    const base = completedMetadata(facts({ newInput: { length: 1, turnIndex: 9 } }));
    for (const metadata of [base, { ...base, cost_usd: Number.NaN }, { ...base, model: 'x'.repeat(2000) }]) {
      const event = harness.events.emit('request_completed', { metadata } as never);
      expect(event.metadata).toStrictEqual(generic(metadata));
      expect(Object.keys(event.metadata ?? {})).toEqual(Object.keys(generic(metadata)));
      expectAsCodec(event);
    }
  });
});
