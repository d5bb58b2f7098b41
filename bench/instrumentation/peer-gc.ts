/**
 * What one instrumented call leaves for the young-generation collector to promote (issue 13):
 * ours (no guards) and the official instrumentation on openai 6, real providers with batch
 * processors, a canned fetch, calls one after another.
 *
 *   npx node --conditions=@llmsec/source bench/instrumentation/peer-gc.ts <ours|official|plain> \
 *     [--calls 24000] [--log-batch 512] [--span-batch 512] [--no-log] [--noop events|metrics|span] \
 *     [--snapshot file.heapsnapshot]
 *
 * Runs itself again under `--trace-gc-nvp` and sums V8's own account of each scavenge: bytes
 * promoted and survived per call, the scavenges, the new space's sizes, the full collections,
 * and the child's process CPU per call (cold start included: compare like with like).
 * - `--log-batch` / `--span-batch`: the batch processors' export batch (1 exports at once): what
 *   of the promotion is the records' wait in the queues.
 * - `--no-log`: ours with a logger that drops the record.
 * - `--noop events`: an emitter that records nothing; `metrics`: also a no-op meter; `span`: also
 *   a non-recording span (what is left is the call path's own objects).
 * - `--snapshot`: a heap snapshot half-way (what is reachable then; a snapshot collects the rest).
 */
import {
  context,
  createNoopMeter,
  INVALID_SPAN_CONTEXT,
  logs,
  metrics,
  trace,
  type Logger,
  type Tracer,
} from '@opentelemetry/api';
import type { SecurityEvent, SecurityEventEmitter } from '@llmsec/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { CHAT_BODY, cannedFetch } from './canned-chat.ts';
import { CumulativeReader } from './otel-providers.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    calls: { type: 'string', default: '24000' },
    'log-batch': { type: 'string', default: '512' },
    'span-batch': { type: 'string', default: '512' },
    'no-log': { type: 'boolean', default: false },
    snapshot: { type: 'string' },
    noop: { type: 'string' },
  },
});
const variant = positionals[0] ?? 'ours';
// An unknown --noop would run as `events` and be read as the asked-for configuration.
if (values.noop !== undefined && !['events', 'metrics', 'span'].includes(values.noop))
  throw new Error(`peer-gc: --noop events, metrics or span, not ${values.noop}`);
if (process.env.LLMSEC_PEER_GC_CHILD !== '1') {
  // The parent: run the same command under --trace-gc-nvp and sum what the scavenges report.
  const run = spawnSync(
    process.execPath,
    ['--trace-gc-nvp', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { encoding: 'utf8', env: { ...process.env, LLMSEC_PEER_GC_CHILD: '1' }, maxBuffer: 256 * 1024 * 1024 },
  );
  if (run.status !== 0) throw new Error(`peer-gc child failed: ${run.stderr}`);
  process.stdout.write(`${summarise(run.stdout, Number(values.calls))}\n`);
  process.exit(0);
}

/** V8's `--trace-gc-nvp` lines summed: per call promoted and survived bytes of the scavenges. */
function summarise(out: string, n: number): string {
  let promoted = 0;
  let survived = 0;
  let scavenges = 0;
  let full = 0;
  const newSpace = new Set<number>();
  let own = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('peer-gc ')) own = line;
    const kind = / gc=(\w+) /.exec(line)?.[1];
    if (kind === undefined) continue;
    if (kind !== 's') {
      full++;
      continue;
    }
    scavenges++;
    promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
    survived += Number(/ new_space_survived=(\d+)/.exec(line)?.[1] ?? 0);
    newSpace.add(Number(/ new_space_capacity=(\d+)/.exec(line)?.[1] ?? 0) / 2 ** 20);
  }
  return `${own} | promoted ${(promoted / n).toFixed(0)} B/call, survived ${(survived / n).toFixed(0)} B/call, ${scavenges} scavenges, new space ${[...newSpace].join('/')} MiB, ${full} full collections`;
}
const calls = Number(values.calls);
const logBatch = Number(values['log-batch']);
const spanBatch = Number(values['span-batch']);

let spans = 0;
const spanExporter: SpanExporter = {
  export: (s, done) => {
    spans += s.length;
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
  spanProcessors: [new BatchSpanProcessor({ exporter: spanExporter, maxExportBatchSize: spanBatch })],
});
const loggerProvider = new LoggerProvider({
  processors: [new BatchLogRecordProcessor({ exporter: logExporter, maxExportBatchSize: logBatch })],
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
const dropping = { emit: () => {}, enabled: () => false } as unknown as Logger;

async function makeClient(): Promise<ChatClient> {
  const openai = await import('openai-v6');
  if (variant === 'plain') return new openai.default(options) as unknown as ChatClient;
  if (variant === 'ours') {
    const { instrumentClient } = await import('../../packages/sdk/src/instrumentation/index.ts');
    const { SecurityEvents } = await import('../../packages/sdk/src/security-events.ts');
    const noop = values.noop ?? '';
    // `--noop events`: an emitter recording nothing; `metrics`: that and a no-op meter; `span`: those
    // and a non-recording span (what is left is the call's own code, context and promises).
    const events: SecurityEventEmitter =
      noop === ''
        ? new SecurityEvents(values['no-log'] ? { logger: dropping } : {})
        : {
            emit: (category) =>
              ({
                event_id: 'EVT-000000000000',
                timestamp: '',
                category,
                severity: 'info',
                user_id: 'anonymous',
              }) as SecurityEvent,
          };
    const noopTracer = { startSpan: () => trace.wrapSpanContext(INVALID_SPAN_CONTEXT) } as unknown as Tracer;
    return instrumentClient(new openai.default(options), {
      events,
      ...(noop === 'metrics' || noop === 'span'
        ? { meterProvider: { getMeter: () => createNoopMeter() } }
        : {}),
      ...(noop === 'span' ? { tracerProvider: { getTracer: () => noopTracer } } : {}),
    }) as unknown as ChatClient;
  }
  if (variant === 'official') {
    const { OpenAIInstrumentation } = await import('@opentelemetry/instrumentation-openai');
    const inst = new OpenAIInstrumentation();
    inst.setTracerProvider(tracerProvider);
    inst.setMeterProvider(meterProvider);
    inst.setLoggerProvider(loggerProvider);
    const definition = inst.getModuleDefinitions()[0] as { patch?: (e: unknown, v?: string) => unknown };
    definition.patch?.(openai, '6.30.1');
    return new openai.default(options) as unknown as ChatClient;
  }
  throw new Error(`peer-gc: variant plain, ours or official, not ${variant}`);
}
const client = await makeClient();
const cpu0 = process.cpuUsage();
for (let i = 0; i < calls; i++) {
  await client.chat.completions.create(CHAT_BODY);
  // Mid-run, what is reachable (a snapshot collects the rest first): what the scavenges copy.
  if (values.snapshot !== undefined && i === calls >> 1) writeHeapSnapshot(values.snapshot);
}
const cpu = process.cpuUsage(cpu0);
await Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);
if (spans !== (variant === 'plain' || values.noop === 'span' ? 0 : calls))
  throw new Error(`peer-gc ${variant}: ${spans} spans for ${calls} calls`);
process.stdout.write(`peer-gc ${variant}: CPU ${((cpu.user + cpu.system) / calls).toFixed(1)} µs/call\n`);
await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);
