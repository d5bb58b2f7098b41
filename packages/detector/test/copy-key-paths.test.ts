// One event, one copy key on every path (packages/detect/src/copy-key.ts). On a shared state a
// process drops before shipping only exact copies: the id and a digest of the event as the
// engine gets it (JSON text, so key order counts). The same event sent as a span event and as
// a log record, over OTLP/HTTP protobuf or JSON (a Collector retry may change neither, but two
// pipelines may), must give one key, or every copy is shipped and decided by the groups in
// Redis only. Checked on the records the decoders make and on what the detector hands the
// engine (replayProjector of the rules), and against core's JSONL reader for the same line.
import { context, trace } from '@opentelemetry/api';
import { decodeEvent, encodeEvent, eventToAttributes, type SecurityEvent } from '@llmsec/core';
import { replayProjector } from '@llmsec/detect/replay';
import {
  JsonLogsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { copyKey } from '../../detect/src/copy-key.ts';
import { defaultRules } from '../../detect/src/index.ts';
import { decodeLogs, decodeTraces } from '../src/otlp/decode.ts';
import { DEFAULT_DECODE_LIMITS } from '../src/otlp/limits.ts';
import { logRecordToEvent, spanEventToEvent } from '../src/otlp/to-event.ts';

const event: SecurityEvent = {
  event_id: 'EVT-1',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'u1',
  session_id: 's1',
  conversation_id: 'c1',
  source_ip: '198.51.100.7',
  service: 'chat-api',
  description: 'blocked',
  request_preview: 'ignore previous instructions',
  // Keys out of alphabetical order, and of every value kind metadata holds.
  metadata: {
    zeta: 1,
    guardrail_layer: 'prompt_injection',
    block_reason: 'ignore-previous',
    prompt_length: 58,
    alpha: 'a',
    ratio: 0.5,
    list: ['a', 'b'],
    flag: true,
  },
};

/** The event as decoded from each OTLP path: one span event and one log record in its span. */
function otlpCopies(): Record<string, SecurityEvent> {
  const logs = new InMemoryLogRecordExporter();
  const loggers = new LoggerProvider({
    resource: resourceFromAttributes({}),
    processors: [new SimpleLogRecordProcessor({ exporter: logs })],
  });
  const spans = new InMemorySpanExporter();
  const tracers = new TracerProvider({
    resource: resourceFromAttributes({}),
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
  });
  const span = tracers.getTracer('app').startSpan('chat');
  const attributes = eventToAttributes(event) as never;
  span.addEvent('llmsec.guardrail_block', attributes);
  loggers.getLogger('app').emit({
    eventName: 'llmsec.guardrail_block',
    attributes,
    context: trace.setSpan(context.active(), span),
  });
  span.end();
  const out: Record<string, SecurityEvent> = {};
  for (const [format, serializer] of [
    ['protobuf', ProtobufLogsSerializer],
    ['json', JsonLogsSerializer],
  ] as const) {
    const [record] = decodeLogs(
      serializer.serializeRequest(logs.getFinishedLogRecords())!,
      format,
      DEFAULT_DECODE_LIMITS,
    );
    out[`log record, ${format}`] = logRecordToEvent(record!)!;
  }
  for (const [format, serializer] of [
    ['protobuf', ProtobufTraceSerializer],
    ['json', JsonTraceSerializer],
  ] as const) {
    const [decoded] = decodeTraces(
      serializer.serializeRequest(spans.getFinishedSpans())!,
      format,
      DEFAULT_DECODE_LIMITS,
    );
    out[`span event, ${format}`] = spanEventToEvent(decoded!.events[0]!, decoded!)!;
  }
  return out;
}

describe('copy key of one event on every path', () => {
  const copies = otlpCopies();
  // The JSONL line of the same event (with the span's ids, as the SDK's JSONL writes them).
  const withIds = copies['log record, protobuf']!;
  copies['JSONL line'] = decodeEvent(JSON.parse(encodeEvent(withIds))).event;
  const project = replayProjector(defaultRules());

  it('is one key for the decoded records', () => {
    expect(Object.keys(copies)).toHaveLength(5);
    expect(withIds.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(withIds.metadata?.zeta).toBe(1);
    const keys = Object.entries(copies).map(([path, e]) => [path, copyKey(e)]);
    expect(new Set(keys.map(([, k]) => k)).size, JSON.stringify(keys)).toBe(1);
  });

  it('is one key for what the detector hands the engine', () => {
    const keys = Object.entries(copies).map(([path, e]) => [path, copyKey(project(e))]);
    expect(new Set(keys.map(([, k]) => k)).size, JSON.stringify(keys)).toBe(1);
    // Another event (one field the rules read changed) has another key.
    const other = { ...withIds, metadata: { ...withIds.metadata, guardrail_layer: 'pii' } };
    expect(copyKey(project(other))).not.toBe(keys[0]![1]);
  });
});
