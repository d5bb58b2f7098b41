// An app as a sender: @llmsec/sdk's SecurityEvents emitting through a real OTLP log exporter,
// on a manual clock (event time) with seeded ids (distinct per seed).
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { LlmsecMetrics, SecurityEvents } from '@llmsec/sdk';

export async function emitThrough(
  exporter: LogRecordExporter,
  seed: number,
  t0: number,
  emit: (events: SecurityEvents, clock: ManualClock) => void,
): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'chat-api' }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const clock = new ManualClock(t0);
  const events = new SecurityEvents({
    logger: provider.getLogger('@llmsec/sdk'),
    metrics: new LlmsecMetrics({ meter: new MeterProvider().getMeter('test') }),
    clock,
    ids: createIdGenerator(seededRandom(seed)),
  });
  emit(events, clock);
  await provider.forceFlush();
  await provider.shutdown();
}
