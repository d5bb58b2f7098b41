import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, type HistogramMetricData, type MetricData } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { withSecurityContext } from '../src/context.ts';
import { instrumentClient } from '../src/instrumentation/index.ts';
import { LlmsecMetrics } from '../src/metrics.ts';
import { SecurityEvents } from '../src/security-events.ts';
import { PullReader } from './fixtures/instr-harness.ts';

/**
 * Everything one set of instrumented calls emits, compared with a file recorded before issue 13's
 * cost changes to the call path (instrumentation, event builder, SecurityEvents): the spans (name,
 * kind, attributes, status, events with their attributes, parent), the log records (event name,
 * severity, body, attributes, time, the span they belong to) and the metric points. Calls:
 * non-streamed, streamed with and without usage, a provider error, tool calls, an abandoned stream,
 * with and without a security context. Only what a run cannot repeat is replaced: trace and span
 * ids by their order of appearance, measured durations (latency_ms, span times, the duration
 * histogram's sum and buckets) by their type.
 */

const MODEL_ANSWERED = 'gpt-4o-mini-2024-07-18';
const usage = { prompt_tokens: 34, completion_tokens: 17, total_tokens: 51 };
function completion(message: object, finish: string): string {
  return JSON.stringify({
    id: 'chatcmpl-golden',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: MODEL_ANSWERED,
    choices: [{ index: 0, message, finish_reason: finish }],
    usage,
  });
}
const chunk = (delta: object, finish: string | null, withUsage = false): string =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-golden',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: MODEL_ANSWERED,
    choices: withUsage ? [] : [{ index: 0, delta, finish_reason: finish }],
    ...(withUsage ? { usage } : {}),
  })}\n\n`;
function sse(includeUsage: boolean): string {
  return [
    chunk({ role: 'assistant', content: '' }, null),
    chunk({ content: 'Echo: ' }, null),
    chunk({ content: 'golden ' }, null),
    chunk({ content: 'answer' }, null),
    chunk({}, 'stop'),
    ...(includeUsage ? [chunk({}, null, true)] : []),
    'data: [DONE]\n\n',
  ].join('');
}

/** Answers by the last user message: `[[500]]` an error, `tool` a tool call, else text; streamed when asked. */
const goldenFetch = async (_url: unknown, init?: { body?: unknown }): Promise<Response> => {
  const body = JSON.parse(String(init?.body)) as {
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
    messages: Array<{ content: string }>;
  };
  const last = body.messages[body.messages.length - 1]?.content ?? '';
  if (last.includes('[[500]]'))
    return new Response(JSON.stringify({ error: { message: 'boom', type: 'server_error' } }), {
      status: 500,
      headers: { 'content-type': 'application/json' },
    });
  if (body.stream === true)
    return new Response(sse(body.stream_options?.include_usage === true), {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
    });
  const message = last.includes('tool')
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        ],
      }
    : { role: 'assistant', content: `Echo: ${last}` };
  return new Response(completion(message, last.includes('tool') ? 'tool_calls' : 'stop'), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
};

const spanExporter = new InMemorySpanExporter();
const logExporter = new InMemoryLogRecordExporter();
const reader = new PullReader();
let tracerProvider: TracerProvider;
let loggerProvider: LoggerProvider;
let meterProvider: MeterProvider;
let client: OpenAI;
const clock = new ManualClock(Date.parse('2026-12-04T23:00:00.000Z'));

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })],
  });
  loggerProvider = new LoggerProvider({
    processors: [new SimpleLogRecordProcessor({ exporter: logExporter })],
  });
  meterProvider = new MeterProvider({ readers: [reader] });
  const metrics = new LlmsecMetrics({ meter: meterProvider.getMeter('golden') });
  const events = new SecurityEvents({
    serviceName: 'golden-svc',
    logger: loggerProvider.getLogger('@llmsec/sdk'),
    metrics,
    clock,
    ids: createIdGenerator(seededRandom(13)),
  });
  client = instrumentClient(
    new OpenAI({ apiKey: 'test', baseURL: 'http://golden.test:8443/v1', maxRetries: 0, fetch: goldenFetch }),
    { events, tracerProvider },
  );
});
afterAll(async () => {
  await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);
  context.disable();
  trace.disable();
});

const MESSAGES = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'How do I download an invoice?' },
];

async function runCalls(): Promise<void> {
  const step = (): void => clock.advance(1000);
  await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: MESSAGES,
    max_tokens: 64,
    temperature: 0.2,
  });
  step();
  for await (const _ of await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: MESSAGES,
    stream: true,
    stream_options: { include_usage: true },
    top_p: 0.9,
  }));
  step();
  for await (const _ of await client.chat.completions.create({
    model: 'gpt-4o',
    messages: MESSAGES,
    stream: true,
  }));
  step();
  await expect(
    client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x [[500]]' }],
    }),
  ).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  step();
  await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'call the tool please' }],
    tools: [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } },
    ],
  });
  step();
  await withSecurityContext({ userId: 'u-42', sessionId: 's-7', conversationId: 'conv-9' }, async () => {
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        ...MESSAGES,
        { role: 'assistant', content: 'Open Billing.' },
        { role: 'user', content: 'Then?' },
      ],
    });
    step();
    // Broken off after the first chunk: the span ends as aborted.
    for await (const _ of await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: MESSAGES,
      stream: true,
    }))
      break;
  });
}

/** Ids by first appearance; measured durations by their type. */
function normaliser(): {
  id: (x: string | undefined) => string | undefined;
  value: (k: string, v: unknown) => unknown;
} {
  const ids = new Map<string, string>();
  return {
    id: (x) => {
      if (x === undefined) return undefined;
      if (!ids.has(x)) ids.set(x, `#${ids.size}`);
      return ids.get(x);
    },
    value: (k, v) => (k === 'llmsec.metadata.latency_ms' ? typeof v : v),
  };
}

function metricPoints(all: MetricData[]): unknown[] {
  return all
    .filter((m) => m.dataPoints.length > 0)
    .sort((a, b) => a.descriptor.name.localeCompare(b.descriptor.name))
    .map((m) => ({
      name: m.descriptor.name,
      unit: m.descriptor.unit,
      points: m.dataPoints
        .map((p) => {
          const attributes = Object.fromEntries(
            Object.entries(p.attributes).sort(([a], [b]) => a.localeCompare(b)),
          );
          if (m.descriptor.name === 'gen_ai.client.operation.duration') {
            const h = (p as HistogramMetricData['dataPoints'][number]).value;
            return { attributes, count: h.count };
          }
          return { attributes, value: p.value };
        })
        .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes))),
    }));
}

describe('instrumented calls: the telemetry emitted is unchanged', () => {
  it('spans, span events, log records and metric points equal the recorded ones', async () => {
    await runCalls();
    const spans = spanExporter.getFinishedSpans();
    const logs = logExporter.getFinishedLogRecords();
    expect(spans).toHaveLength(7);
    expect(logs).toHaveLength(7);
    const n = normaliser();
    const out = {
      spans: spans.map((s) => ({
        name: s.name,
        kind: s.kind,
        trace: n.id(s.spanContext().traceId),
        span: n.id(s.spanContext().spanId),
        parent: n.id(s.parentSpanContext?.spanId),
        attributes: s.attributes,
        status: s.status,
        events: s.events.map((e) => ({
          name: e.name,
          time: e.time,
          attributes: Object.fromEntries(
            Object.entries(e.attributes ?? {}).map(([k, v]) => [k, n.value(k, v)]),
          ),
          droppedAttributesCount: e.droppedAttributesCount,
        })),
        droppedAttributesCount: s.droppedAttributesCount,
        instrumentationScope: s.instrumentationScope.name,
      })),
      logs: logs.map((l) => ({
        eventName: l.eventName,
        severityNumber: l.severityNumber,
        severityText: l.severityText,
        body: l.body,
        hrTime: l.hrTime,
        observedIsTime:
          l.hrTimeObserved === l.hrTime || JSON.stringify(l.hrTimeObserved) === JSON.stringify(l.hrTime),
        trace: n.id(l.spanContext?.traceId),
        span: n.id(l.spanContext?.spanId),
        attributes: Object.fromEntries(Object.entries(l.attributes).map(([k, v]) => [k, n.value(k, v)])),
        droppedAttributesCount: l.droppedAttributesCount,
        instrumentationScope: l.instrumentationScope.name,
      })),
      metrics: metricPoints(await reader.all()),
    };
    await expect(`${JSON.stringify(out, null, 1)}\n`).toMatchFileSnapshot(
      './fixtures/instr-telemetry.golden.json',
    );
  });
});
