// A GenAI span whose captured prompt message is over max_string_bytes reaches the service with
// that value null (8071964: the value is dropped, not the export). The length rules must not
// read a null message as an empty one: the prompt length would be the other messages' (the
// system prompt's, the same every request) and the new input 0, so six long RAG questions in
// five minutes were "identical requests" and a stuffer past 64 KiB measured nothing.
import type { Alert } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { decodeTraces, resolveDecodeLimits } from '../src/index.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import { promptMessagesOf } from '../src/service/genai-messages.ts';
import { genAiSpanToEvent } from '../src/service/genai-span.ts';

const OPTS = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };
const SYSTEM = 'You are a support bot for ACME. Answer from the documents below. ';
const T0 = Date.UTC(2026, 11, 4, 10, 0, 0);

/** Six Traceloop chat spans of one user, 20 s apart, each a different question with a long RAG context. */
function ragSpans(userLengths: readonly number[]) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('opentelemetry.instrumentation.openai');
  userLengths.forEach((len, i) => {
    const at = T0 + i * 20_000;
    tracer
      .startSpan('openai.chat', {
        startTime: at,
        attributes: {
          'llm.request.type': 'chat',
          'gen_ai.request.model': 'gpt-4o',
          'user.id': 'u1',
          'gen_ai.prompt.0.role': 'system',
          'gen_ai.prompt.0.content': SYSTEM,
          'gen_ai.prompt.1.role': 'user',
          'gen_ai.prompt.1.content': `question ${i}: ${'context '.repeat(len / 8)}`,
        },
      })
      .end(at + 900);
  });
  return exporter.getFinishedSpans();
}

const FORMATS = [
  ['protobuf', (s: ReturnType<typeof ragSpans>) => ProtobufTraceSerializer.serializeRequest(s)!],
  ['json', (s: ReturnType<typeof ragSpans>) => JsonTraceSerializer.serializeRequest(s)!],
] as const;

function run(format: (typeof FORMATS)[number], userLengths: readonly number[]) {
  const decoded = decodeTraces(format[1](ragSpans(userLengths)), format[0], resolveDecodeLimits());
  const alerts: Alert[] = [];
  const engine = new DetectionEngine({ allowedLatenessMs: 0, onAlert: (a) => alerts.push(a) });
  const metadata = decoded.map((span) => {
    const r = genAiSpanToEvent(span, OPTS);
    if (r.kind !== 'event') throw new Error(`expected an event, got ${r.kind}`);
    engine.ingest(r.event, span.endMs);
    return r.event.metadata!;
  });
  return { metadata, rules: alerts.map((a) => `${a.rule}:${a.status}`) };
}

describe('GenAI span with a prompt message over max_string_bytes', () => {
  for (const format of FORMATS) {
    it(`is not measured as if that message were empty (${format[0]})`, () => {
      const long = run(format, [70_000, 72_000, 74_000, 76_000, 78_000, 80_000]);
      for (const m of long.metadata) {
        expect(m.prompt_length).toBeUndefined();
        expect(m.new_input_length).toBeUndefined();
        expect(m.model).toBe('gpt-4o');
      }
      expect(long.rules).not.toContain('identical_requests:firing');
      // The same spans under the cap are measured whole (the test can tell the difference).
      const short = run(format, [7_000, 7_200, 7_400, 7_600, 7_800, 8_000]);
      expect(short.metadata.map((m) => m.prompt_length)).toEqual(
        [7_000, 7_200, 7_400, 7_600, 7_800, 8_000].map((n) => SYSTEM.length + 'question 0: '.length + n),
      );
      expect(short.metadata.every((m) => (m.new_input_length as number) > 7_000)).toBe(true);
    });
  }
});

describe('promptMessagesOf with a dropped (null) message value', () => {
  it('gives up in every convention, and ignores nulls in attributes it does not read', () => {
    const oi = {
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': SYSTEM,
      'llm.input_messages.1.message.role': 'user',
    };
    expect(promptMessagesOf({ ...oi, 'llm.input_messages.1.message.content': 'hi' })).toHaveLength(2);
    expect(promptMessagesOf({ ...oi, 'llm.input_messages.1.message.content': null })).toBeUndefined();
    expect(
      promptMessagesOf({ ...oi, 'llm.input_messages.1.message.contents.0.message_content.text': null }),
    ).toBeUndefined();
    // A tool call's arguments are not read: a null there leaves the measure as it was.
    expect(
      promptMessagesOf({
        ...oi,
        'llm.input_messages.1.message.content': 'hi',
        'llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments': null,
      }),
    ).toHaveLength(2);
    const part = (content: unknown) => [{ role: 'user', parts: [{ type: 'text', content }] }];
    expect(promptMessagesOf({ 'gen_ai.input.messages': part('hi') })).toEqual([
      { role: 'user', content: 'hi' },
    ]);
    expect(promptMessagesOf({ 'gen_ai.input.messages': part(null) })).toBeUndefined();
    // In the JSON string form a null is the sender's own, not a dropped value.
    expect(promptMessagesOf({ 'gen_ai.input.messages': JSON.stringify(part(null)) })).toEqual([
      { role: 'user', content: '' },
    ]);
  });
});
