// Request bodies for the detector benchmark: the detection benchmark's seeded traffic (1,000
// users, 1 in 20 an attacker) emitted as llmsec log records through the real OTel logs SDK,
// and encoded by the real OTel protobuf encoder (otlp-transformer's ProtobufLogsSerializer),
// i.e. the bytes an OTLP/HTTP protobuf exporter sends, in batches of `batch` records.
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { eventToAttributes, type SecurityEvent } from '@llmsec/core';
import { TrafficGenerator } from '../detect/gen.ts';

export interface Fixtures {
  bodies: Uint8Array[];
  /** The same requests as OTLP/JSON (otlp-transformer's JsonLogsSerializer). */
  jsonBodies: Uint8Array[];
  events: { event: SecurityEvent; t: number }[];
  records: number;
}

const SEVERITY_NUMBER = { info: 9, warning: 13, alert: 17, critical: 21 } as const;

export function buildFixtures(batches: number, batch: number, users: number): Fixtures {
  const gen = new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 });
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'chat-api', 'service.instance.id': 'bench-1' }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('@llmsec/sdk');
  const bodies: Uint8Array[] = [];
  const jsonBodies: Uint8Array[] = [];
  const events: Fixtures['events'] = [];
  for (let b = 0; b < batches; b++) {
    exporter.reset();
    for (const { event, t } of gen.chunk(batch)) {
      events.push({ event, t });
      logger.emit({
        eventName: `llmsec.${event.category}`,
        severityNumber: SEVERITY_NUMBER[event.severity],
        severityText: event.severity,
        body: event.category,
        attributes: eventToAttributes(event),
        timestamp: t,
        context: trace.setSpanContext(ROOT_CONTEXT, {
          traceId: event.trace_id!,
          spanId: '00f067aa0ba902b7',
          traceFlags: 1,
        }),
      });
    }
    bodies.push(ProtobufLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!);
    jsonBodies.push(JsonLogsSerializer.serializeRequest(exporter.getFinishedLogRecords())!);
  }
  return { bodies, jsonBodies, events, records: batches * batch };
}
