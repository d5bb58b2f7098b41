// Metadata from OTLP is capped as a log line's is (core's capEventFields, docs/formats.md 'Field
// caps'): values outside the model dropped (kvlists, bytes, null, mixed arrays), at most 256 keys
// kept in key order. From the real logs SDK and serializers, protobuf and JSON.
import { decodeEvent, encodeEvent, eventToAttributes, type SecurityEvent } from '@llmsec/core';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { decodeLogs } from '../src/otlp/decode.ts';
import { DEFAULT_DECODE_LIMITS } from '../src/otlp/limits.ts';
import { logRecordToEvent } from '../src/otlp/to-event.ts';

const base: SecurityEvent = {
  event_id: 'EVT-1',
  timestamp: '2026-11-22T10:00:00.000Z',
  category: 'guardrail_block',
  severity: 'warning',
  user_id: 'u1',
};

const metadata: Record<string, unknown> = {
  obj: { a: 1, b: { c: [1, 2] } },
  mixed: [1, 'a'],
  nested: [[1]],
  ok: 'yes',
};
for (let i = 0; i < 300; i++) metadata[`k${i}`] = i % 2 === 0 ? i : `v${i}`;

function records(): ReturnType<InMemoryLogRecordExporter['getFinishedLogRecords']> {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({}), // no default service.name
    processors: [new SimpleLogRecordProcessor({ exporter })],
    logRecordLimits: { attributeCountLimit: 1_000 }, // the SDK keeps 128 by default
  });
  const attributes: Record<string, unknown> = { ...eventToAttributes(base) };
  for (const [k, v] of Object.entries(metadata)) attributes[`llmsec.metadata.${k}`] = v;
  // Values JSONL cannot write: bytes (dropped, as any value outside the model).
  attributes['llmsec.metadata.bytes'] = new Uint8Array([1, 2]);
  provider.getLogger('app').emit({ eventName: 'llmsec.guardrail_block', attributes: attributes as never });
  return exporter.getFinishedLogRecords();
}

describe("OTLP metadata: core's caps, as for a log line", () => {
  const fromJsonl = decodeEvent(JSON.parse(encodeEvent({ ...base, metadata: metadata as never }))).event;
  for (const [format, serialize] of [
    ['protobuf', ProtobufLogsSerializer],
    ['json', JsonLogsSerializer],
  ] as const) {
    it(`is the event core's JSONL reader makes of the same line (${format})`, () => {
      const [record] = decodeLogs(serialize.serializeRequest(records())!, format, DEFAULT_DECODE_LIMITS);
      const event = logRecordToEvent(record!);
      expect(event).toEqual(fromJsonl);
      expect(Object.keys(event!.metadata!)).toHaveLength(256);
      expect(event!.metadata!.ok).toBe('yes');
      expect(event!.metadata!.k254).toBe(254);
      expect(event!.metadata!.k255).toBeUndefined();
    });
  }
});
