import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import type { Category, EventInputFor, SecurityEvent } from '@llmsec/core';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { SecurityEvents } from '../src/security-events.ts';
import { createHarness } from './harness.ts';

// request_completed is emitted after the call's context is gone; the instrumentation hands
// SecurityEvents the context it ran the call in (call.ts invoke()), so the log record is in the
// call span's context without SecurityEvents building one per event. These tests pin what the
// records carry, whichever path builds the context.

const ANSWER = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const fetchAnswer = (): Promise<Response> =>
  Promise.resolve(new Response(ANSWER, { status: 200, headers: { 'content-type': 'application/json' } }));
const BODY = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };

let h: ReturnType<typeof createHarness> | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function client(events: SecurityEvents, harness: ReturnType<typeof createHarness>): OpenAI {
  const raw = new OpenAI({
    apiKey: 'test',
    baseURL: 'http://127.0.0.1:9/v1',
    maxRetries: 0,
    fetch: fetchAnswer,
  });
  return instrumentClient(raw, {
    events,
    meterProvider: harness.meterProvider,
    tracerProvider: harness.tracerProvider,
  });
}

function completedRecord(harness: ReturnType<typeof createHarness>) {
  const records = harness.logExporter
    .getFinishedLogRecords()
    .filter((r) => r.eventName === 'llmsec.request_completed');
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe('request_completed in the call context', () => {
  it('the log record and the event carry the call span, called inside a parent span', async () => {
    h = createHarness();
    const harness = h;
    const parent = harness.tracer.startSpan('parent');
    await context.with(trace.setSpan(context.active(), parent), () =>
      client(harness.events, harness).chat.completions.create(BODY),
    );
    parent.end();
    const call = harness.spanExporter.getFinishedSpans().find((s) => s.name === 'chat gpt-4o-mini')!;
    expect(call.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    const record = completedRecord(harness);
    expect(record.spanContext?.spanId).toBe(call.spanContext().spanId);
    expect(record.spanContext?.traceId).toBe(parent.spanContext().traceId);
    expect(record.attributes['llmsec.event.category']).toBe('request_completed');
    expect(call.events.map((e) => e.name)).toEqual(['llmsec.request_completed']);
  });

  it('the same outside any span, and the ids in the event match the record', async () => {
    const seen: SecurityEvent[] = [];
    h = createHarness({ onEvent: (e) => seen.push(e) });
    const harness = h;
    await client(harness.events, harness).chat.completions.create(BODY);
    const call = harness.spanExporter.getFinishedSpans().find((s) => s.name === 'chat gpt-4o-mini')!;
    const record = completedRecord(harness);
    expect(record.spanContext?.spanId).toBe(call.spanContext().spanId);
    expect(seen.map((e) => [e.category, e.trace_id, e.span_id])).toEqual([
      ['request_completed', call.spanContext().traceId, call.spanContext().spanId],
    ]);
  });

  it('a subclass that overrides emit still sees request_completed through it', async () => {
    h = createHarness();
    const harness = h;
    const through: string[] = [];
    class Counting extends SecurityEvents {
      override emit<C extends Category>(category: C, input: EventInputFor<C>): SecurityEvent {
        through.push(category);
        return super.emit(category, input);
      }
    }
    const events = new Counting({
      logger: harness.loggerProvider.getLogger('@llmsec/sdk'),
      metrics: harness.metrics,
    });
    await client(events, harness).chat.completions.create(BODY);
    expect(through).toEqual(['request_completed']);
    const call = harness.spanExporter.getFinishedSpans().find((s) => s.name === 'chat gpt-4o-mini')!;
    expect(completedRecord(harness).spanContext?.spanId).toBe(call.spanContext().spanId);
  });
});
