import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  METRIC_EVENTS,
  METRIC_TELEMETRY_ERRORS,
  decodeEventLine,
  encodeEvent,
  type Category,
} from '@llmsec/core';
import { resetTelemetryErrorThrottle } from '../src/errors.ts';
import { createHarness } from './harness.ts';

type Harness = ReturnType<typeof createHarness>;
let h: Harness;
const warnings: string[] = [];

const recordingLogger: DiagLogger = {
  error: (m) => warnings.push(`error: ${m}`),
  warn: (m) => warnings.push(`warn: ${m}`),
  info: () => {},
  debug: () => {},
  verbose: () => {},
};

beforeEach(() => {
  resetTelemetryErrorThrottle();
  warnings.length = 0;
  diag.setLogger(recordingLogger, DiagLogLevel.WARN);
  h = createHarness();
});
afterEach(async () => {
  diag.disable();
  await h.close();
});

describe('bad input never crashes the host', () => {
  it('unknown category: returns the event, records nothing, warns once, counts it', async () => {
    const call = () => h.events.emit('made_up' as Category, { userId: 'u', metadata: {} } as never);
    expect(call).not.toThrow();
    const event = call();
    expect(event.category).toBe('made_up');
    expect(event.severity).toBe('warning');
    expect(h.logExporter.getFinishedLogRecords()).toHaveLength(0);
    expect(await h.reader.metric(METRIC_EVENTS)).toBeUndefined();
    expect(warnings.filter((w) => w.includes('unknown event category'))).toHaveLength(1);
    const errors = await h.reader.metric(METRIC_TELEMETRY_ERRORS);
    expect(errors!.dataPoints[0]!.attributes).toEqual({
      component: 'events',
      error_type: 'unknown_category',
    });
    expect(errors!.dataPoints[0]!.value).toBe(2);
  });

  it('non-string ids are converted or dropped', () => {
    const numeric = h.events.authFailure({
      reason: 'x',
      userId: 12345 as unknown as string,
      sessionId: { evil: true } as unknown as string,
    });
    expect(numeric.user_id).toBe('12345');
    expect(numeric.session_id).toBeUndefined();
    const objectUser = h.events.authFailure({ reason: 'x', userId: ['a'] as unknown as string });
    expect(objectUser.user_id).toBe('anonymous');
    const symbolUser = h.events.authFailure({ reason: 'x', userId: Symbol('s') as unknown as string });
    expect(symbolUser.user_id).toBe('anonymous');
  });

  it('oversized ids, text and previews are truncated', () => {
    const local = createHarness({ capturePreviews: true });
    const huge = 'x'.repeat(5_000_000);
    const event = local.events.guardrailBlock({
      layer: 'l',
      reason: 'r'.repeat(10_000),
      userId: 'u'.repeat(10_000),
      description: 'd'.repeat(10_000),
      requestText: huge,
      responseText: huge,
    });
    expect(event.user_id.length).toBe(256);
    expect(event.description!.length).toBe(1024);
    expect((event.metadata!.block_reason as string).length).toBe(1024);
    expect(event.request_preview!.length).toBeLessThanOrEqual(500);
    expect(event.response_preview!.length).toBeLessThanOrEqual(500);
    expect(event.metadata!.prompt_length).toBe(5_000_000);
    expect(decodeEventLine(encodeEvent(event)).event.event_id).toBe(event.event_id);
  });

  it('non-finite numbers: NaN dropped, infinities clamped, numeric strings parsed; output is valid JSON', () => {
    const event = h.events.rateLimitHit({ limitType: 'rpm', current: Number.NaN, limit: Infinity });
    expect(event.metadata!.current).toBeUndefined();
    expect(event.metadata!.limit).toBe(Number.MAX_SAFE_INTEGER);
    expect(warnings.filter((w) => w.includes('dropped') && w.includes('current'))).toHaveLength(1);
    // Repeating the same bad input does not repeat the warning.
    h.events.rateLimitHit({ limitType: 'rpm', current: Number.NaN, limit: 1 });
    expect(warnings.filter((w) => w.includes('dropped') && w.includes('current'))).toHaveLength(1);
    const parsed = JSON.parse(encodeEvent(event)) as { metadata: Record<string, unknown> };
    expect(parsed.metadata.limit).toBe(Number.MAX_SAFE_INTEGER);
    const t = h.events.unusualTokenUsage({ promptTokens: '42' as unknown as number, completionTokens: 1 });
    expect(t.metadata!.prompt_tokens).toBe(42);
  });

  // events.md types these fields as numbers: text that is no number (or a boolean) was written
  // as given, '"limit":"abc"', another type for every reader (jq, a rule's comparison, Loki).
  it('a numeric field given text that is no number, or a boolean, is dropped as NaN is', () => {
    const hit = h.events.rateLimitHit({ limitType: 'rpm', current: 'lots' as never, limit: true as never });
    expect(hit.metadata!.current).toBeUndefined();
    expect(hit.metadata!.limit).toBeUndefined();
    expect(hit.metadata!.limit_type).toBe('rpm');
    const done = h.events.requestCompleted({
      model: 'm',
      promptTokens: 'n/a' as never,
      completionTokens: 3,
      latencyMs: ' ' as never,
      costUsd: 0,
      blocked: false,
    });
    expect(done.metadata!.prompt_tokens).toBeUndefined();
    expect(done.metadata!.latency_ms).toBeUndefined();
    expect(done.metadata!.completion_tokens).toBe(3);
    expect(
      h.events.systemPromptLeakage({ method: 'm', confidence: 'high' as never }).metadata!.confidence,
    ).toBeUndefined();
    expect(
      h.events.unusualTokenUsage({ promptTokens: ' 42 ' as never, completionTokens: 1 }).metadata!
        .prompt_tokens,
    ).toBe(42);
  });

  it('confidence is clamped into 0..1', () => {
    expect(h.events.systemPromptLeakage({ method: 'm', confidence: 7 }).metadata!.confidence).toBe(1);
    expect(h.events.systemPromptLeakage({ method: 'm', confidence: -1 }).metadata!.confidence).toBe(0);
  });

  it('bad event time falls back to the clock; bad severity to the default', () => {
    const event = h.events.authFailure({ reason: 'x', timeMs: 1e300, severity: 'extreme' as never });
    expect(event.timestamp).toBe('2026-11-22T10:00:00.000Z');
    expect(event.severity).toBe('warning');
  });

  it('missing or non-object input still records an event', () => {
    const a = h.events.guardrailBlock(undefined as never);
    const b = h.events.emit('guardrail_block', null as never);
    const c = h.events.authFailure('oops' as never);
    for (const e of [a, b, c]) expect(e.user_id).toBe('anonymous');
    expect(h.logExporter.getFinishedLogRecords()).toHaveLength(3);
  });

  it('metadata with unsupported values keeps what it can', () => {
    const event = h.events.guardrailBlock({
      layer: 'l',
      reason: 'r',
      metadata: {
        nested: { a: 1 } as never,
        fn: (() => 1) as never,
        mixed: [1, 'two', { three: 3 }] as never,
        ok: 'yes',
        big: 10n as never,
      },
    });
    expect(event.metadata).toEqual({
      guardrail_layer: 'l',
      block_reason: 'r',
      mixed: ['1', 'two', '{"three":3}'],
      ok: 'yes',
      big: 10,
    });
  });

  it('a throwing clock or id generator still returns an event', () => {
    const broken = createHarness({
      clock: {
        now: () => {
          throw new Error('clock broke');
        },
      },
    });
    const event = broken.events.authFailure({ reason: 'x' });
    expect(event.category).toBe('auth_failure');
    expect(warnings.some((w) => w.includes('events failed'))).toBe(true);
  });
});
