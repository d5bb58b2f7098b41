import { afterAll, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { CATEGORIES, ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { withSecurityContext } from '../src/context.ts';
import { LlmsecMetrics } from '../src/metrics.ts';
import { SecurityEvents } from '../src/security-events.ts';
import { TestMetricReader } from './harness.ts';

/**
 * Everything SecurityEvents records for one set of events of every kind, compared with a file
 * recorded at f77e680, before issue 13's fifth round of event-path cost changes: the span events
 * (name, time, attributes in order, dropped count), the log records (event name, severity, body,
 * time, whether the observed time is the event time, the span, attributes in order) and the
 * metric points. The inputs are varied and hostile: every category through emit() and through its
 * method, long strings, more metadata keys than the cap, over-long keys, unicode (astral, lone
 * surrogates, right-to-left, combining), numbers that are not finite, bigints, arrays past the
 * cap, nested objects, throwing getters, a polluted-looking key set, given and invalid times,
 * a given span, no span with and without the tracer option, previews on and off. Values are
 * written with their types (a -0 or a NaN would otherwise read as 0 or null in JSON); trace and
 * span ids by order of appearance; the SDK's own observed time (when not the event time) by type.
 */

const START = Date.parse('2026-11-22T10:00:00.000Z');
const LONG = 'a\u00e9\u{1F600}'.repeat(1500);
const UNICODE = 'مرحبا \u{1F469}\u200D\u{1F4BB} e\u0301 \uD800 tail \uDFFF';

function manyKeys(n: number): Record<string, unknown> {
  const md: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) md[`key_${i}`] = i % 3 === 0 ? `v${i}` : i % 3 === 1 ? i * 1.5 : i % 2 === 0;
  return md;
}

function hostileMetadata(): Record<string, unknown> {
  const md: Record<string, unknown> = {
    long: LONG,
    unicode: UNICODE,
    nan: Number.NaN,
    inf: Number.POSITIVE_INFINITY,
    ninf: Number.NEGATIVE_INFINITY,
    negzero: -0,
    big: 12345678901234567890n,
    arr: ['x', 'y', 3, true, null, undefined, { o: 1 }],
    longArr: Array.from({ length: 120 }, (_, i) => `item-${i}`),
    nums: [1, 2.5, Number.NaN, -0],
    nested: { a: { b: 1 } },
    fn: () => 1,
    sym: Symbol('s'),
    nul: null,
    undef: undefined,
    ['k'.repeat(100)]: 'over-long key',
    '': 'empty key',
    '1': 'integer-like key',
    '0': 'another',
    constructor: 'ctor',
    date: new Date(START),
  };
  Object.defineProperty(md, 'throws', {
    enumerable: true,
    get() {
      throw new Error('getter');
    },
  });
  return md;
}

function setup(options: { capturePreviews: boolean; withTracer: boolean }) {
  const spanExporter = new InMemorySpanExporter();
  const logExporter = new InMemoryLogRecordExporter();
  const reader = new TestMetricReader();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
  });
  const loggerProvider = new LoggerProvider({
    processors: [new SimpleLogRecordProcessor({ exporter: logExporter })],
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const tracer = tracerProvider.getTracer('golden');
  const clock = new ManualClock(START);
  const events = new SecurityEvents({
    serviceName: 'golden-svc',
    logger: loggerProvider.getLogger('@llmsec/sdk'),
    metrics: new LlmsecMetrics({ meter: meterProvider.getMeter('golden') }),
    clock,
    ids: createIdGenerator(seededRandom(7)),
    capturePreviews: options.capturePreviews,
    fingerprintKey: 'k'.repeat(32),
    ...(options.withTracer ? { tracer } : {}),
  });
  return {
    events,
    tracer,
    clock,
    spanExporter,
    logExporter,
    reader,
    tracerProvider,
    loggerProvider,
    meterProvider,
  };
}

type Harness = ReturnType<typeof setup>;

/** The events of one run: each in its own span (active, given, or none), in a fixed order. */
function emitAll(h: Harness): void {
  const { events, tracer, clock } = h;
  // Untyped on purpose: hostile input is what the types would refuse.
  const emit = (category: string, input: unknown): unknown => events.emit(category as never, input as never);
  const inSpan = (name: string, fn: () => void): void => {
    const span = tracer.startSpan(name);
    context.with(trace.setSpan(context.active(), span), fn);
    span.end();
  };
  const base = { userId: 'user-1', sessionId: 'sess-1', conversationId: 'conv-1', sourceIp: '10.0.0.1' };
  inSpan('categories', () => {
    for (const c of CATEGORIES) {
      emit(c, { ...base, description: `about ${c}`, metadata: { n: 1, s: 'x' } });
      clock.advance(1);
    }
  });
  inSpan('methods', () => {
    events.guardrailBlock({
      layer: 'injection',
      reason: 'ignore previous instructions',
      userId: 'u-1',
      sessionId: 's-1',
    });
    events.outputFilterBlock({ filter: 'pii', reason: UNICODE, userId: 'u-2', metadata: { extra: 1 } });
    events.rateLimitHit({ limitType: 'tokens', current: 1001, limit: 1000, userId: 'u-3' });
    events.anomalousPattern({ anomalyType: 'burst', severity: 'alert' });
    events.systemPromptLeakage({ method: 'canary', confidence: 1.7 });
    events.piiDetected({
      piiTypes: ['email', 'phone'],
      direction: 'output',
      requestText: 'mail alice@example.com',
    });
    events.piiDetected({ piiTypes: 'ssn' as never, direction: 'input' });
    events.toolAbuseAttempt({ tool: 'rm', reason: 'denied', metadata: { tool_name: 'caller wins?' } });
    events.authFailure({ reason: 'bad key', sourceIp: '2001:db8::1' });
    events.unusualTokenUsage({ promptTokens: 1e9, completionTokens: Number.NaN });
    events.requestCompleted({
      model: 'gpt-4o-mini',
      promptTokens: 34,
      completionTokens: 17,
      latencyMs: 12.5,
      costUsd: 0.0000153,
      promptLength: 120,
      newInputLength: 62,
      turnIndex: 3,
      blocked: false,
      outcome: 'allowed',
    });
  });
  clock.advance(61_000); // a new minute: the time string's cached prefix
  inSpan('hostile', () => {
    emit('guardrail_block', {
      userId: LONG,
      sessionId: `  ${UNICODE}  `,
      conversationId: 42 as never,
      sourceIp: 'x'.repeat(500),
      description: LONG,
      severity: 'nonsense' as never,
      correlatedEvents: Array.from({ length: 80 }, (_, i) => `EVT-${i}`),
      requestText: `${LONG} alice@example.com ${UNICODE}`,
      responseText: `ssn 123-45-6789 ${LONG}`,
      metadata: hostileMetadata(),
    });
    emit('pii_detected', { metadata: manyKeys(50), requestText: 'x'.repeat(200_000) });
    emit('anomalous_pattern', { metadata: [1, 2, 3] as never, userId: '' });
    emit('tool_abuse_attempt', null);
    emit('auth_failure', 'not an object');
    emit('rate_limit_hit', { timeMs: START + 1234.5, metadata: { current: 5n, limit: '7' } });
    emit('rate_limit_hit', { timeMs: Number.NaN });
    emit('unusual_token_usage', { timeMs: 9e15 });
    emit('request_completed', {
      metadata: {
        model: 'gpt-4o-mini',
        prompt_tokens: 34,
        completion_tokens: 17,
        latency_ms: 12.5,
        cost_usd: 0.0000153,
        prompt_length: 120,
        new_input_length: 62,
        blocked: false,
        outcome: 'allowed',
      },
    });
    emit('request_completed', {
      metadata: {
        model: 'm'.repeat(2000),
        cost_usd: Number.POSITIVE_INFINITY,
        blocked: true,
        outcome: 'odd',
      },
    });
    emit('not_a_category' as never, { description: 'dropped' });
    withSecurityContext({ userId: 'ctx-user', sessionId: 'ctx-sess', conversationId: 'ctx-conv' }, () => {
      events.guardrailBlock({ layer: 'l'.repeat(300), reason: 'r' });
    });
  });
  // A span given outside its context, and no span at all.
  const given = tracer.startSpan('given');
  context.with(context.active(), () => {
    emit('guardrail_block', { span: given, metadata: { given: true } });
    events.rateLimitHit({ span: given, limitType: 'requests', current: 2, limit: 1 });
  });
  given.end();
  emit('auth_failure', { description: 'no span', metadata: { where: 'outside' } });
  events.authFailure({ reason: 'no span either' });
  // The category methods' fields that their normalisation changes (clipped, clamped, converted,
  // an array's strings clipped), first and later in the fields, without and with caller metadata:
  // the path that takes the method's fields as the metadata when nothing changes.
  inSpan('methods-normalised', () => {
    events.guardrailBlock({ layer: LONG, reason: 'first field clipped', userId: 'u-9' });
    events.outputFilterBlock({ filter: 'pii', reason: LONG, userId: 'u-10' });
    events.rateLimitHit({
      limitType: 'tokens',
      current: Number.POSITIVE_INFINITY,
      limit: 5n as never,
      userId: 'u-11',
    });
    events.rateLimitHit({ limitType: 7 as never, current: '12' as never, limit: -0, metadata: { m: 1 } });
    events.piiDetected({ piiTypes: ['email', LONG], direction: 'input', metadata: { n: LONG } });
    events.authFailure({ reason: true as never, requestText: LONG });
  });
}

/** A value with its type, so that JSON keeps what it would blur (-0, NaN, infinities, undefined). */
function typed(v: unknown): unknown {
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return { number: '-0' };
    if (!Number.isFinite(v)) return { number: String(v) };
    return v;
  }
  if (Array.isArray(v)) return v.map(typed);
  if (v === undefined) return { undefined: true };
  return v;
}

function attrs(a: Record<string, unknown> | undefined): Array<[string, unknown]> {
  return Object.entries(a ?? {}).map(([k, v]) => [k, typed(v)]);
}

async function record(h: Harness): Promise<unknown> {
  emitAll(h);
  const ids = new Map<string, string>();
  const id = (x: string | undefined): string | undefined => {
    if (x === undefined) return undefined;
    if (!ids.has(x)) ids.set(x, `#${ids.size}`);
    return ids.get(x);
  };
  const spans = h.spanExporter.getFinishedSpans();
  const logs = h.logExporter.getFinishedLogRecords();
  const { resourceMetrics } = await h.reader.collect();
  const metrics: MetricData[] = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  return {
    spans: spans.map((s) => ({
      name: s.name,
      trace: id(s.spanContext().traceId),
      span: id(s.spanContext().spanId),
      parent: id(s.parentSpanContext?.spanId),
      startTime: s.name.startsWith('llmsec ') ? s.startTime : typeof s.startTime,
      events: s.events.map((e) => ({
        name: e.name,
        time: e.time,
        attributes: attrs(e.attributes),
        droppedAttributesCount: e.droppedAttributesCount,
      })),
    })),
    logs: logs.map((l) => ({
      eventName: l.eventName,
      severityNumber: l.severityNumber,
      severityText: l.severityText,
      body: typed(l.body),
      hrTime: l.hrTime,
      observed:
        JSON.stringify(l.hrTimeObserved) === JSON.stringify(l.hrTime)
          ? 'the event time'
          : typeof l.hrTimeObserved,
      trace: id(l.spanContext?.traceId),
      span: id(l.spanContext?.spanId),
      attributes: attrs(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount,
    })),
    metrics: metrics
      .filter((m) => m.dataPoints.length > 0)
      .map((m) => ({
        name: m.descriptor.name,
        points: m.dataPoints.map((p) => ({ attributes: attrs(p.attributes), value: p.value })),
      })),
  };
}

const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
afterAll(() => {
  context.disable();
});

describe('security events: the telemetry recorded is unchanged', () => {
  for (const options of [
    { capturePreviews: false, withTracer: false },
    { capturePreviews: true, withTracer: true },
  ]) {
    it(`span events, log records and metric points equal f77e680's (previews ${options.capturePreviews}, tracer ${options.withTracer})`, async () => {
      const h = setup(options);
      const out = await record(h);
      await Promise.all([
        h.tracerProvider.shutdown(),
        h.loggerProvider.shutdown(),
        h.meterProvider.shutdown(),
      ]);
      await expect(`${JSON.stringify(out, null, 1)}\n`).toMatchFileSnapshot(
        `./fixtures/events-telemetry-${options.capturePreviews ? 'previews' : 'plain'}.golden.json`,
      );
    });
  }
});
