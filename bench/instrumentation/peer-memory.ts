/**
 * Heap bytes per call of llmsec without guards beside the official instrumentation, on the same
 * client (openai 6) and the plain client (issue 13): what each call allocates, and what it leaves
 * queued in the batch processors until their export (the span, its event, the log records), the
 * part that outlives young-generation collections. One variant per process:
 *
 *   for v in plain ours official; do
 *     npx node --expose-gc --min-semi-space-size=512 --max-semi-space-size=512 \
 *       --conditions=@llmsec/source \
 *       bench/instrumentation/peer-memory.ts $v; done
 *
 * - allocated: heapUsed growth over 2,000 calls after a full GC, the young generation large
 *   enough (the flags above) that no collection runs in the window (checked: a window with a
 *   collection in it is an error, not a figure); median of five windows.
 * - kept until export: heapUsed after a full GC, 2,000 calls later, with processors that hold
 *   every record (no export, as between two exports), per call.
 * Real providers, canned fetch, llmsec's histograms aggregated in process (otel-providers.ts),
 * the same call as peer-child.ts. `--trace-gc-nvp` on peer-child.ts gives the promoted bytes.
 */
import { context, logs, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { PerformanceObserver } from 'node:perf_hooks';
import { CHAT_BODY, cannedFetch } from './canned-chat.ts';
import { CumulativeReader } from './otel-providers.ts';

const variant = process.argv[2] ?? 'ours';
const N = 2000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

/** Batch processors that export nothing before `N` calls' records are queued. */
const HOLD = { maxQueueSize: 100_000, maxExportBatchSize: 100_000, scheduledDelayMillis: 1e9 };
let exportedSpans = 0;
const spanExporter: SpanExporter = {
  export: (s, done) => {
    exportedSpans += s.length;
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const logExporter: LogRecordExporter = {
  export: (_l, done) => done({ code: 0 }),
  shutdown: async () => {},
  forceFlush: async () => {},
};
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracerProvider = new TracerProvider({
  spanProcessors: [new BatchSpanProcessor({ exporter: spanExporter, ...HOLD })],
});
const loggerProvider = new LoggerProvider({
  processors: [new BatchLogRecordProcessor({ exporter: logExporter, ...HOLD })],
});
const reader = new CumulativeReader();
const meterProvider = new MeterProvider({ readers: [reader] });
reader.attachLlmsecHistograms(meterProvider);
trace.setGlobalTracerProvider(tracerProvider);
logs.setGlobalLoggerProvider(loggerProvider);
metrics.setGlobalMeterProvider(meterProvider);

interface ChatClient {
  chat: { completions: { create(body: unknown): Promise<unknown> } };
}
const options = { apiKey: 'bench', baseURL: 'http://127.0.0.1:9/v1', maxRetries: 0, fetch: cannedFetch };
async function makeClient(): Promise<ChatClient> {
  const openai = await import('openai-v6');
  if (variant === 'plain') return new openai.default(options) as unknown as ChatClient;
  if (variant === 'ours') {
    const { instrumentClient } = await import('../../packages/sdk/src/instrumentation/index.ts');
    const { SecurityEvents } = await import('../../packages/sdk/src/security-events.ts');
    return instrumentClient(new openai.default(options), {
      events: new SecurityEvents(),
    }) as unknown as ChatClient;
  }
  if (variant === 'official') {
    const { OpenAIInstrumentation } = await import('@opentelemetry/instrumentation-openai');
    const inst = new OpenAIInstrumentation();
    inst.setTracerProvider(tracerProvider);
    inst.setMeterProvider(meterProvider);
    inst.setLoggerProvider(loggerProvider);
    // Loaded under an alias, the module hook does not see it: the instrumentation's own patch (as peer-child.ts).
    const definition = inst.getModuleDefinitions()[0] as { patch?: (e: unknown, v?: string) => unknown };
    definition.patch?.(openai, '6.30.1');
    return new openai.default(options) as unknown as ChatClient;
  }
  throw new Error(`peer-memory: variant plain, ours or official, not ${variant}`);
}
const client = await makeClient();
const calls = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await client.chat.completions.create(CHAT_BODY);
};
const drain = (): Promise<unknown> => Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);

await calls(3000);
await drain();
// A patch that silently did nothing (the official one is an optional definition.patch?.() on an
// aliased openai) would measure the plain client under the variant's name: one span per call.
if (exportedSpans !== (variant === 'plain' ? 0 : 3000))
  throw new Error(`peer-memory ${variant}: ${exportedSpans} spans for 3,000 calls`);
// Collections that ran: heapUsed growth is what was allocated only in a window without one.
let collections = 0;
new PerformanceObserver((list) => {
  collections += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));
const allocated: number[] = [];
for (let k = 0; k < 5; k++) {
  gc();
  gc();
  await settle(); // the observer's entries for the forced collections arrive first
  const seen = collections;
  const before = process.memoryUsage().heapUsed;
  await calls(N);
  const grown = process.memoryUsage().heapUsed - before;
  await settle();
  if (collections !== seen)
    throw new Error(
      'peer-memory: a collection ran in the window; run with --min-semi-space-size=512 --max-semi-space-size=512',
    );
  allocated.push(grown / N);
  await drain();
}
allocated.sort((a, b) => a - b);
await drain();
gc();
gc();
const before = process.memoryUsage().heapUsed;
await calls(N);
gc();
gc();
const kept = (process.memoryUsage().heapUsed - before) / N;
process.stdout.write(
  `${variant}: allocated ${((allocated[2] as number) / 1024).toFixed(1)} KiB/call (five windows ${allocated.map((x) => (x / 1024).toFixed(1)).join(', ')}); kept until export ${kept.toFixed(0)} bytes/call\n`,
);
process.exit(0);
