// The OTel SDK reads a number below performance.timeOrigin / 2 (about 1998) as a performance.now()
// offset and adds timeOrigin to it (@opentelemetry/core timeInputToHrTime). The alert sink passed
// its time as epoch ms, so an alert about events of 1990 got a record time near today's.
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { OtelAlertSink } from '../src/sinks/otel-log.ts';
import { alert, resolved } from './sink-support.ts';

function setup() {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  return { exporter, sink: new OtelAlertSink({ logger: provider.getLogger('test') }) };
}

describe('OtelAlertSink record time of an early alert', () => {
  it('is the alert time for an alert dated before ~1998, firing and resolved', () => {
    const { exporter, sink } = setup();
    const firing = alert({ starts_at: '1990-01-01T00:00:00.250Z' });
    sink.send(firing);
    sink.send(resolved(firing, '1990-01-01T00:10:00.000Z'));
    const [start, end] = exporter.getFinishedLogRecords();
    expect(start?.hrTime).toEqual([631_152_000, 250_000_000]);
    expect(end?.hrTime).toEqual([631_152_600, 0]);
  });

  it('gives an alert before 1970 the epoch (OTLP times are unsigned); its attribute keeps the time', () => {
    const { exporter, sink } = setup();
    sink.send(alert({ starts_at: '1969-12-31T23:59:59.000Z' }));
    const [record] = exporter.getFinishedLogRecords();
    expect(record?.hrTime).toEqual([0, 0]);
    expect(record?.attributes['llmsec.alert.starts_at']).toBe('1969-12-31T23:59:59.000Z');
  });
});
