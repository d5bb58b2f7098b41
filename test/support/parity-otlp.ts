// Event lines as OTLP log export requests for the replay / detector differential test, carrying
// every value a line can hold (docs/formats.md "On OpenTelemetry"): OTLP/JSON written by hand
// (numbers as intValue / doubleValue, objects as kvlists, null as an empty AnyValue, lone
// surrogates as JSON keeps them) and protobuf from the real logs SDK and serializer (attribute
// count and length limits lifted, so the sender keeps everything).
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type LogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { GenEvent } from './scenarios/index.ts';

const FIELDS: Record<string, string> = {
  event_id: 'llmsec.event.id',
  category: 'llmsec.event.category',
  severity: 'llmsec.event.severity',
  timestamp: 'llmsec.event.timestamp',
  user_id: 'user.id',
  session_id: 'session.id',
  conversation_id: 'gen_ai.conversation.id',
  source_ip: 'client.address',
  description: 'llmsec.event.description',
  request_preview: 'llmsec.request.preview',
  response_preview: 'llmsec.response.preview',
  correlated_events: 'llmsec.event.correlated_events',
};
const ID32 = /^[0-9a-fA-F]{32}$/;
const ID16 = /^[0-9a-fA-F]{16}$/;

/** The line's attributes in its own key order (fields, then metadata), service apart. */
function attributesOf(line: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [field, value] of Object.entries(line)) {
    if (field === 'metadata') {
      for (const [k, v] of Object.entries((value as Record<string, unknown> | null) ?? {}))
        out.push([`llmsec.metadata.${k}`, v]);
    } else if (FIELDS[field] !== undefined) out.push([FIELDS[field], value]);
  }
  return out;
}

type AnyValue = Record<string, unknown>;

function anyValue(v: unknown): AnyValue {
  if (v === null || v === undefined) return {};
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  return {
    kvlistValue: {
      values: Object.entries(v as Record<string, unknown>).map(([key, x]) => ({ key, value: anyValue(x) })),
    },
  };
}

function service(line: Record<string, unknown>): string {
  return typeof line.service === 'string' ? line.service : 'parity-sender';
}

/** One OTLP/JSON export request: records grouped by service into resources, in order. */
export function jsonRequest(events: GenEvent[]): string {
  const resources: { service: string; records: unknown[] }[] = [];
  for (const e of events) {
    const l = e.line;
    const rec: Record<string, unknown> = {
      timeUnixNano: String(e.t * 1_000_000),
      eventName: `llmsec.${String(l.category)}`,
      severityNumber: 13,
      attributes: attributesOf(l).map(([key, v]) => ({ key, value: anyValue(v) })),
    };
    if (typeof l.trace_id === 'string' && ID32.test(l.trace_id)) rec.traceId = l.trace_id.toLowerCase();
    if (typeof l.span_id === 'string' && ID16.test(l.span_id)) rec.spanId = l.span_id.toLowerCase();
    const last = resources.at(-1);
    if (last?.service === service(l)) last.records.push(rec);
    else resources.push({ service: service(l), records: [rec] });
  }
  return JSON.stringify({
    resourceLogs: resources.map((r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: r.service } }] },
      scopeLogs: [{ scope: { name: 'parity' }, logRecords: r.records }],
    })),
  });
}

/**
 * One OTLP/JSON trace export request: each event as the one span event of its own span, the
 * span carrying the line's trace and span ids (the detector takes an event's ids from its span).
 */
export function jsonTracesRequest(events: GenEvent[]): string {
  const resources: { service: string; spans: unknown[] }[] = [];
  for (const e of events) {
    const l = e.line;
    const nanos = String(e.t * 1_000_000);
    const span: Record<string, unknown> = {
      name: 'handle request',
      kind: 2,
      startTimeUnixNano: nanos,
      endTimeUnixNano: nanos,
      events: [
        {
          timeUnixNano: nanos,
          name: `llmsec.${String(l.category)}`,
          attributes: attributesOf(l).map(([key, v]) => ({ key, value: anyValue(v) })),
        },
      ],
    };
    if (typeof l.trace_id === 'string' && ID32.test(l.trace_id)) span.traceId = l.trace_id.toLowerCase();
    if (typeof l.span_id === 'string' && ID16.test(l.span_id)) span.spanId = l.span_id.toLowerCase();
    const last = resources.at(-1);
    if (last?.service === service(l)) last.spans.push(span);
    else resources.push({ service: service(l), spans: [span] });
  }
  return JSON.stringify({
    resourceSpans: resources.map((r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: r.service } }] },
      scopeSpans: [{ scope: { name: 'parity' }, spans: r.spans }],
    })),
  });
}

/** One OTLP protobuf export request, from the logs SDK's records. */
export function protobufRequest(events: GenEvent[]): Uint8Array {
  const records: ReadableLogRecord[] = [];
  let last: ReadableLogRecord | undefined;
  const capture: LogRecordProcessor = {
    onEmit: (record) => void (last = record),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const providers = new Map<string, LoggerProvider>();
  for (const e of events) {
    const l = e.line;
    let provider = providers.get(service(l));
    if (provider === undefined) {
      provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'service.name': service(l) }),
        processors: [capture],
        logRecordLimits: { attributeCountLimit: 10_000 },
      });
      providers.set(service(l), provider);
    }
    const traceId =
      typeof l.trace_id === 'string' && ID32.test(l.trace_id) ? l.trace_id.toLowerCase() : undefined;
    const spanId =
      typeof l.span_id === 'string' && ID16.test(l.span_id) ? l.span_id.toLowerCase() : undefined;
    const context =
      traceId !== undefined && spanId !== undefined
        ? trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED })
        : ROOT_CONTEXT;
    last = undefined;
    provider.getLogger('parity').emit({
      eventName: `llmsec.${String(l.category)}`,
      timestamp: e.t,
      attributes: Object.fromEntries(attributesOf(l)) as never,
      context,
    });
    if (last === undefined) throw new Error('the logger emitted no record');
    records.push(last);
  }
  return ProtobufLogsSerializer.serializeRequest(records)!;
}
