// The scenarios' event lines as OpenTelemetry JS log records, for the SDK's OTLP exporters
// (http/protobuf, gRPC): the same attributes as otlp-json.ts writes by hand, from docs/formats.md
// "On OpenTelemetry", with the record's trace context and its time at the event's.
import { ROOT_CONTEXT, TraceFlags, trace, type AttributeValue } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type LogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { GenEvent } from './gen.ts';

const ID = /^[0-9a-fA-F]{32}$/;
const ATTRS: Record<string, string> = {
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
};

/** Log records of `events`, in their order; one provider (resource) per service name. */
export function logRecords(events: GenEvent[]): ReadableLogRecord[] {
  const out: ReadableLogRecord[] = [];
  // Each emitted record as it is made (an exporting processor would hand it over later).
  let last: ReadableLogRecord | undefined;
  const capture: LogRecordProcessor = {
    onEmit: (record) => {
      last = record;
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const providers = new Map<string, LoggerProvider>();
  for (const e of events) {
    const l = e.line;
    const service = typeof l.service === 'string' ? l.service : 'scenario-sender';
    let provider = providers.get(service);
    if (provider === undefined) {
      provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'service.name': service }),
        processors: [capture],
      });
      providers.set(service, provider);
    }
    const attributes: Record<string, AttributeValue> = {};
    for (const [field, key] of Object.entries(ATTRS)) {
      if (typeof l[field] === 'string') attributes[key] = l[field];
    }
    for (const [k, v] of Object.entries((l.metadata as Record<string, AttributeValue> | undefined) ?? {})) {
      attributes[`llmsec.metadata.${k}`] = v;
    }
    const traceId =
      typeof l.trace_id === 'string' && ID.test(l.trace_id) ? l.trace_id.toLowerCase() : undefined;
    const context =
      traceId !== undefined
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId,
            spanId: String(l.span_id),
            traceFlags: TraceFlags.SAMPLED,
          })
        : ROOT_CONTEXT;
    last = undefined;
    provider.getLogger('scenario-generator').emit({
      eventName: `llmsec.${l.category as string}`,
      timestamp: e.t,
      severityText: String(l.severity).toUpperCase(),
      attributes,
      context,
    });
    if (last === undefined) throw new Error('the logger emitted no record');
    out.push(last);
  }
  return out;
}
