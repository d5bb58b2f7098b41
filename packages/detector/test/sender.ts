// An app as a sender: @llmsec/sdk's SecurityEvents emitting through a real OTLP log exporter,
// on a manual clock (event time) with seeded ids (distinct per seed).
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { LlmsecMetrics, SecurityEvents } from '@llmsec/sdk';

/**
 * The sender without the flush: each record goes to `exporter` as it is emitted (a simple
 * processor), so an in-memory exporter holds them at once; the caller flushes `provider`.
 */
export function senderEvents(
  exporter: LogRecordExporter,
  seed: number,
  t0: number,
): { events: SecurityEvents; clock: ManualClock; provider: LoggerProvider } {
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
  return { events, clock, provider };
}

export async function emitThrough(
  exporter: LogRecordExporter,
  seed: number,
  t0: number,
  emit: (events: SecurityEvents, clock: ManualClock) => void,
): Promise<void> {
  const { events, clock, provider } = senderEvents(exporter, seed, t0);
  emit(events, clock);
  await provider.forceFlush();
  await provider.shutdown();
}
