/**
 * Heap bytes allocated per `events.guardrailBlock` by llmsec's own code (the span is a
 * non-recording one and the logger drops the record, so the SDKs allocate nothing), now and at
 * an earlier revision:
 *
 *   npx node --expose-gc --min-semi-space-size=128 --max-semi-space-size=128 \
 *     --conditions=@llmsec/source bench/events/alloc.ts [--before <git revision>]
 *
 * The young generation is made large enough that no collection runs while measuring, so the
 * growth of heapUsed over 20,000 events is what they allocated (the median of seven such runs).
 * Checked: a window with a collection in it is an error, not a figure (without the flags, the
 * SDK lines read ~1,500 bytes where they are ~4,000: most of what they allocated was collected).
 *
 * A second line per revision: the same events on real SDK providers (batch processors, exporters
 * that drop), a recording span per 100 events, so what the SDKs allocate for the span event and
 * the log record counts too; beside it, the SDK floor (addEvent + logger.emit with prebuilt
 * attributes, as run.ts's floor row).
 */
import { parseArgs } from 'node:util';
import { GCProfiler } from 'node:v8';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ROOT_CONTEXT, TraceFlags, context, trace, type Logger } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { eventToAttributes } from '@llmsec/core';
import { SecurityEvents } from '@llmsec/sdk';
import { importSdkAt } from './revision.ts';

const { values } = parseArgs({ options: { before: { type: 'string' } } });
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const dropLogger = { emit: () => {}, enabled: () => true } as unknown as Logger;
const span = trace.wrapSpanContext({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const activeContext = trace.setSpan(ROOT_CONTEXT, span);
const versions: [string, typeof SecurityEvents][] = [['now', SecurityEvents]];
if (values.before !== undefined) {
  const { SecurityEvents: Before } = await importSdkAt<{ SecurityEvents: typeof SecurityEvents }>(
    values.before,
    'security-events.ts',
  );
  versions.push([values.before, Before]);
}
/**
 * Median of seven measurements of 20,000 events each (one alone moved by ±100 bytes between runs).
 * The loops are synchronous, so the collections are counted by a GCProfiler (no event loop turn
 * needed, unlike a PerformanceObserver): heapUsed growth is what was allocated only when none ran.
 */
function bytesPerEvent(run: (n: number) => void): number {
  const xs: number[] = [];
  for (let k = 0; k < 7; k++) {
    gc!();
    gc!();
    const profiler = new GCProfiler();
    profiler.start();
    const before = process.memoryUsage().heapUsed;
    run(20_000);
    const grown = process.memoryUsage().heapUsed - before;
    const collections = profiler.stop()?.statistics.length ?? 0;
    if (collections > 0)
      throw new Error(
        `alloc.ts: ${collections} collection(s) ran in a window, so heap growth is not what was allocated; run with --min-semi-space-size=128 --max-semi-space-size=128 (or larger)`,
      );
    xs.push(grown / 20_000);
  }
  return xs.sort((a, b) => a - b)[3]!;
}

const dropSpans: SpanExporter = {
  export: (_s, cb) => cb({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
};
const dropLogs: LogRecordExporter = {
  export: (_l, cb) => cb({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
  forceFlush: async () => {},
};
const tracerProvider = new TracerProvider({
  spanProcessors: [new BatchSpanProcessor({ exporter: dropSpans })],
});
const loggerProvider = new LoggerProvider({
  processors: [new BatchLogRecordProcessor({ exporter: dropLogs })],
});
const realTracer = tracerProvider.getTracer('alloc');
const sdkLogger = loggerProvider.getLogger('@llmsec/sdk');
/** `op` n times, in a recording span (ended every 100 operations, as run.ts does), the span active. */
function inRecordingSpans(
  n: number,
  op: (span: ReturnType<typeof realTracer.startSpan>, i: number) => void,
): void {
  for (let i = 0; i < n; i += 100) {
    const span = realTracer.startSpan('alloc');
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => {
      for (let k = 0; k < 100; k++) op(span, i + k);
    });
    span.end();
  }
}

for (const [name, Events] of versions) {
  const events = new Events({ serviceName: 'bench', logger: dropLogger });
  // The span given in the input, none active (the log record's context is then built per event), and the span active.
  const given = (n: number): void => {
    for (let i = 0; i < n; i++) {
      events.guardrailBlock({
        layer: 'injection',
        reason: 'ignore previous instructions',
        userId: `u-${i & 1023}`,
        sessionId: 's-1',
        span,
      });
    }
  };
  const active = (n: number): void => {
    context.with(activeContext, () => {
      for (let i = 0; i < n; i++)
        events.guardrailBlock({
          layer: 'injection',
          reason: 'ignore previous instructions',
          userId: `u-${i & 1023}`,
          sessionId: 's-1',
        });
    });
  };
  given(50_000); // warm: JIT, id pool, metric sets
  active(50_000);
  console.log(
    `${name.padEnd(10)} ${bytesPerEvent(given).toFixed(0).padStart(6)} bytes per event, span given; ${bytesPerEvent(active).toFixed(0).padStart(6)} with the span active (the caller's userId string included, ~25)`,
  );
  const onSdk = new Events({ serviceName: 'bench', logger: sdkLogger });
  const sdkEvents = (n: number): void =>
    inRecordingSpans(n, (_span, i) =>
      onSdk.guardrailBlock({
        layer: 'injection',
        reason: 'ignore previous instructions',
        userId: `u-${i & 1023}`,
        sessionId: 's-1',
      }),
    );
  sdkEvents(50_000);
  console.log(
    `${''.padEnd(10)} ${bytesPerEvent(sdkEvents).toFixed(0).padStart(6)} bytes per event on the real SDK providers, the span active`,
  );
}

const floorAttributes = eventToAttributes(
  new SecurityEvents({ serviceName: 'bench', logger: dropLogger }).guardrailBlock({
    layer: 'injection',
    reason: 'r',
    userId: 'u-1',
    sessionId: 's-1',
  }),
);
const floorRecord = {
  eventName: 'llmsec.guardrail_block',
  severityNumber: 13,
  severityText: 'warning',
  body: 'guardrail_block',
  attributes: floorAttributes,
};
const floor = (n: number): void =>
  inRecordingSpans(n, (span) => {
    span.addEvent('llmsec.guardrail_block', floorAttributes);
    sdkLogger.emit(floorRecord);
  });
floor(50_000);
console.log(
  `${'SDK floor'.padEnd(10)} ${bytesPerEvent(floor).toFixed(0).padStart(6)} bytes per addEvent + logger.emit on the same providers (nothing built)`,
);
await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown()]);
