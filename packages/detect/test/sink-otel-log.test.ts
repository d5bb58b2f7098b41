import { SeverityNumber } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { OtelAlertSink } from '../src/sinks/otel-log.ts';
import { alert, resolved } from './sink-support.ts';

function setup() {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  const sink = new OtelAlertSink({ logger: provider.getLogger('test') });
  return { exporter, sink };
}

describe('OtelAlertSink', () => {
  it('emits llmsec.alert log records correlated to the trigger span', () => {
    const { exporter, sink } = setup();
    sink.send(alert({ severity: 'critical' }));
    sink.send(resolved(alert({ severity: 'critical' }), '2026-11-22T10:10:00.000Z'));
    const [firing, resolve] = exporter.getFinishedLogRecords();
    expect(firing?.eventName).toBe('llmsec.alert');
    expect(firing?.severityNumber).toBe(SeverityNumber.FATAL);
    expect(firing?.spanContext).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
    });
    expect(firing?.attributes).toMatchObject({
      'llmsec.alert.id': 'ALR-1',
      'llmsec.alert.rule': 'rapid_guardrail_blocks',
      'llmsec.alert.severity': 'critical',
      'llmsec.alert.status': 'firing',
      'llmsec.alert.user_ids': ['u1'],
      'llmsec.alert.evidence': ['EVT-000000000001', 'EVT-000000000002'],
      'llmsec.alert.trace_ids': ['0af7651916cd43dd8448eb211c80319c'],
      'llmsec.alert.starts_at': '2026-11-22T10:00:00.000Z',
      'llmsec.alert.label.user_id': 'u1',
    });
    // Event time: the record's timestamp is when the incident began / ended.
    expect(firing?.hrTime).toEqual([Date.parse('2026-11-22T10:00:00.000Z') / 1000, 0]);
    expect(resolve?.attributes['llmsec.alert.status']).toBe('resolved');
    expect(resolve?.attributes['llmsec.alert.ends_at']).toBe('2026-11-22T10:10:00.000Z');
    expect(resolve?.hrTime).toEqual([Date.parse('2026-11-22T10:10:00.000Z') / 1000, 0]);
  });

  it("carries a cross_group rule's across values as llmsec.alert.across.<field>, none for other alerts", () => {
    const { exporter, sink } = setup();
    sink.send(alert({ across: { source_ip: ['203.0.113.1', '203.0.113.2'] } }));
    sink.send(alert({}));
    const [across, plain] = exporter.getFinishedLogRecords();
    expect(across?.attributes['llmsec.alert.across.source_ip']).toEqual(['203.0.113.1', '203.0.113.2']);
    expect(across?.attributes['llmsec.alert.user_ids']).toEqual(['u1']);
    expect(Object.keys(plain!.attributes).filter((k) => k.startsWith('llmsec.alert.across.'))).toEqual([]);
  });

  it('maps severities and leaves the record uncorrelated without a valid trigger span', () => {
    const { exporter, sink } = setup();
    sink.send(alert({ severity: 'warning', trigger: undefined }));
    sink.send(alert({ severity: 'alert', trigger: { trace_id: '0af7651916cd43dd8448eb211c80319c' } }));
    sink.send(alert({ severity: 'alert', trigger: { trace_id: 'nothex', span_id: 'b7ad6b7169203331' } }));
    const records = exporter.getFinishedLogRecords();
    expect(records.map((r) => r.severityNumber)).toEqual([
      SeverityNumber.WARN,
      SeverityNumber.ERROR,
      SeverityNumber.ERROR,
    ]);
    for (const r of records) expect(r.spanContext).toBeUndefined();
  });
});
