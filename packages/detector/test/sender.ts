// An app as a sender: @llmsec/sdk's SecurityEvents emitting through a real OTLP log exporter,
// on a manual clock (event time) with seeded ids (distinct per seed).
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  SimpleLogRecordProcessor,
  type LogRecordExporter,
} from '@opentelemetry/sdk-logs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { LlmsecMetrics, SecurityEvents } from '@llmsec/sdk';

/**
 * The sender without the flush: each record goes to `exporter` as it is emitted (a simple
 * processor), so an in-memory exporter holds them at once; the caller flushes `provider`.
 * `inOrder`: the records wait for the flush instead, which exports them in emission order, one
 * batch after the other. A network exporter needs that when the detector allows no lateness:
 * one export per record can be overtaken on the wire, and an event older than one already
 * received is dropped as late. (Not for exporters that spread exports over replicas.)
 */
export function senderEvents(
  exporter: LogRecordExporter,
  seed: number,
  t0: number,
  inOrder = false,
): { events: SecurityEvents; clock: ManualClock; provider: LoggerProvider } {
  const processor = inOrder
    ? // Only the flush exports (sequentially, in batches of the default size); nothing is dropped.
      new BatchLogRecordProcessor({ exporter, scheduledDelayMillis: 600_000, maxQueueSize: 1_000_000 })
    : new SimpleLogRecordProcessor({ exporter });
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'chat-api' }),
    processors: [processor],
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
  inOrder = false,
): Promise<void> {
  const { events, clock, provider } = senderEvents(exporter, seed, t0, inOrder);
  emit(events, clock);
  await provider.forceFlush();
  await provider.shutdown();
}
