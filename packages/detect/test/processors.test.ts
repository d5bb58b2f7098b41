import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { eventName, eventToAttributes, type Alert, type SecurityEvent } from '@llmsec/core';
import {
  DetectionEngine,
  DetectionLogRecordProcessor,
  DetectionSpanProcessor,
  type CodeRule,
} from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';

/** Emits a security event the way the SDK does: a span event on the span and a log record. */
function emitLikeSdk(
  tracerProvider: TracerProvider,
  loggerProvider: LoggerProvider,
  event: SecurityEvent,
): void {
  const span = tracerProvider.getTracer('t').startSpan('llm call');
  const attributes = eventToAttributes(event);
  span.addEvent(eventName(event.category), attributes);
  loggerProvider
    .getLogger('t')
    .emit({ eventName: eventName(event.category), attributes, context: trace.setSpan(ROOT_CONTEXT, span) });
  span.end();
}

const providers: { shutdown(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
});

function setup(
  engine: DetectionEngine,
  which: { spans?: boolean; logs?: boolean } = { spans: true, logs: true },
) {
  const tracerProvider = new TracerProvider({
    spanProcessors: which.spans ? [new DetectionSpanProcessor({ engine })] : [],
  });
  const loggerProvider = new LoggerProvider({
    processors: which.logs ? [new DetectionLogRecordProcessor({ engine })] : [],
  });
  providers.push(tracerProvider, loggerProvider);
  return { tracerProvider, loggerProvider };
}

const leak = (i: number) =>
  ev({
    at: T0 + i * SEC,
    id: `leak${i}`,
    category: 'system_prompt_leakage',
    user: 'u1',
    metadata: { detection_method: 'canary', confidence: 0.9 },
  }).event;

describe('inline processors', () => {
  it('see each SDK event once when both processors are installed, with the span as trigger', () => {
    const alerts: Alert[] = [];
    const engine = new DetectionEngine({ allowedLatenessMs: 0, onAlert: (a) => alerts.push(a) });
    const { tracerProvider, loggerProvider } = setup(engine);
    for (let i = 0; i < 3; i++) emitLikeSdk(tracerProvider, loggerProvider, leak(i));
    expect(engine.stats.ingested).toBe(3);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.rule).toBe('system_prompt_leakage');
    expect(alerts[0]!.trigger?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(alerts[0]!.trigger?.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(alerts[0]!.trace_ids).toEqual([alerts[0]!.trigger!.trace_id]);
  });

  it('each processor alone feeds the engine', () => {
    for (const which of [{ spans: true }, { logs: true }]) {
      const engine = new DetectionEngine({ allowedLatenessMs: 0 });
      const { tracerProvider, loggerProvider } = setup(engine, which);
      emitLikeSdk(tracerProvider, loggerProvider, leak(0));
      expect(engine.stats.processed).toBe(1);
    }
  });

  it('ignore other span events and log records, and alert records', () => {
    const engine = new DetectionEngine({ allowedLatenessMs: 0 });
    const { tracerProvider, loggerProvider } = setup(engine);
    const span = tracerProvider.getTracer('t').startSpan('x');
    span.addEvent('exception', { 'exception.message': 'boom' });
    span.addEvent('llmsec.alert', { 'llmsec.alert.id': 'ALR-1' });
    span.addEvent('llmsec.guardrail_block', { 'some.other': 'attrs' });
    span.end();
    loggerProvider.getLogger('t').emit({ body: 'hello' });
    loggerProvider
      .getLogger('t')
      .emit({ eventName: 'llmsec.alert', attributes: { 'llmsec.alert.id': 'ALR-1' } });
    expect(engine.stats.ingested).toBe(0);
  });

  it('never throw into span.end() or logger.emit(), even when a rule throws', () => {
    const rule: CodeRule = {
      id: 'broken',
      title: 'throws',
      severity: 'warning',
      categories: ['system_prompt_leakage'],
      window_ms: 1000,
      condition: {
        createState: () => null,
        update: () => {
          throw new Error('rule bug');
        },
        describe: () => '',
      },
    };
    const engine = new DetectionEngine({ rules: [rule], allowedLatenessMs: 0 });
    const { tracerProvider, loggerProvider } = setup(engine);
    expect(() => emitLikeSdk(tracerProvider, loggerProvider, leak(0))).not.toThrow();
    const span = tracerProvider.getTracer('t').startSpan('x');
    // Attributes that are not a complete event decode to nothing rather than throwing.
    span.addEvent('llmsec.guardrail_block', { 'llmsec.event.id': 5 });
    expect(() => span.end()).not.toThrow();
  });
});
