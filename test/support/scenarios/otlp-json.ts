// The scenarios' event lines as OTLP/JSON log export requests, written from docs/formats.md "On
// OpenTelemetry" as a producer in another language would: the record named llmsec.<category>
// (the OTLP 1.5 event_name, or the older event.name attribute), the five required attributes,
// each metadata key as llmsec.metadata.<key>, trace and span ids on the record, the service on
// the resource. Not the SDK's exporter: this is the wire format a stranger's sender writes.
import type { GenEvent } from './gen.ts';

type AnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: AnyValue[] } };

function value(v: unknown): AnyValue | undefined {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) {
    const values = v.map(value).filter((x) => x !== undefined);
    return { arrayValue: { values } };
  }
  return undefined; // objects: core holds no maps in metadata
}

const ID = /^[0-9a-fA-F]+$/;

function record(e: GenEvent, i: number): { service: string; record: Record<string, unknown> } {
  const l = e.line;
  const attrs: Array<{ key: string; value: AnyValue }> = [];
  const put = (key: string, v: unknown): void => {
    const av = value(v);
    if (av !== undefined) attrs.push({ key, value: av });
  };
  put('llmsec.event.id', l.event_id);
  put('llmsec.event.category', l.category);
  put('llmsec.event.severity', l.severity);
  put('llmsec.event.timestamp', l.timestamp);
  put('user.id', l.user_id);
  put('session.id', l.session_id);
  put('gen_ai.conversation.id', l.conversation_id);
  put('client.address', l.source_ip);
  put('llmsec.event.description', l.description);
  put('llmsec.request.preview', l.request_preview);
  for (const [k, v] of Object.entries((l.metadata as Record<string, unknown> | undefined) ?? {}))
    put(`llmsec.metadata.${k}`, v);
  const name = `llmsec.${l.category as string}`;
  const rec: Record<string, unknown> = {
    timeUnixNano: String(e.t * 1_000_000),
    severityNumber: 13,
    severityText: String(l.severity).toUpperCase(),
    body: { stringValue: name },
    attributes: attrs,
  };
  // Half the records carry the name as OTLP 1.5's event_name, half as an event.name attribute.
  if (i % 2 === 0) rec.eventName = name;
  else attrs.push({ key: 'event.name', value: { stringValue: name } });
  if (typeof l.trace_id === 'string' && ID.test(l.trace_id)) {
    rec.traceId = l.trace_id.toLowerCase();
    rec.spanId = String(l.span_id);
  }
  return { service: typeof l.service === 'string' ? l.service : '', record: rec };
}

/** One export request body: records grouped by service into resources, in their order. */
export function logsRequest(events: GenEvent[], offset: number): string {
  const resources: Array<{ service: string; records: Record<string, unknown>[] }> = [];
  events.forEach((e, i) => {
    const { service, record: rec } = record(e, offset + i);
    const last = resources.at(-1);
    if (last && last.service === service) last.records.push(rec);
    else resources.push({ service, records: [rec] });
  });
  return JSON.stringify({
    resourceLogs: resources.map((r) => ({
      resource: { attributes: r.service ? [{ key: 'service.name', value: { stringValue: r.service } }] : [] },
      scopeLogs: [{ scope: { name: 'scenario-generator', version: '1' }, logRecords: r.records }],
    })),
  });
}
