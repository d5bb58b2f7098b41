/**
 * One variant of the peer comparison (peers.ts), alone in its process: the peers patch the
 * `openai` prototypes for the whole process, so each runs where nothing else is patched.
 * Real OTel SDK providers (batch processors, counting exporters that discard); a canned
 * `fetch` (no socket), so the difference between variants is instrumentation CPU.
 *
 *   node bench/instrumentation/peer-child.ts <variant> <calls> <warmup> [stream]
 *
 * With `stream`, every call is `stream: true` (the canned answer as 10 SSE chunks) read to the end.
 * The crosstalk variants (peer-variants.ts) build llmsec's client without and with the default
 * guards in this one process and call both, in alternating batches, timing one (warm-up too).
 *
 * Prints one JSON line: wall and CPU µs per call, and what one call emitted (spans, span
 * attributes, span events, log records, metric data points).
 */
import { context, logs, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';

import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
import { CROSSTALK_VARIANTS, VARIANTS, type ChildResult, type Variant } from './peer-variants.ts';
import { CumulativeReader } from './otel-providers.ts';

interface ChatClient {
  chat: { completions: { create(body: unknown): Promise<unknown> } };
}
const STREAM_BODY = { ...CHAT_BODY, stream: true };

async function main(): Promise<void> {
  const [variant, callsArg, warmupArg, mode] = process.argv.slice(2) as [
    Variant,
    string,
    string,
    string | undefined,
  ];
  const stream = mode === 'stream';
  if (
    !(VARIANTS as readonly string[]).includes(variant) &&
    !(CROSSTALK_VARIANTS as readonly string[]).includes(variant)
  )
    throw new Error(`unknown variant ${variant}`);
  const calls = Number(callsArg);
  const warmup = Number(warmupArg);

  let spans: ReadableSpan[] = [];
  let logCount = 0;
  const spanExporter: SpanExporter = {
    export: (s, done) => {
      if (spans.length < 10) spans = spans.concat(s.slice(0, 10));
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const logExporter: LogRecordExporter = {
    export: (l, done) => {
      logCount += l.length;
      done({ code: 0 });
    },
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: spanExporter })],
  });
  const loggerProvider = new LoggerProvider({
    processors: [new BatchLogRecordProcessor({ exporter: logExporter })],
  });
  const reader = new CumulativeReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  reader.attachLlmsecHistograms(meterProvider); // as setupLlmsec does (otel-providers.ts)
  trace.setGlobalTracerProvider(tracerProvider);
  logs.setGlobalLoggerProvider(loggerProvider);
  metrics.setGlobalMeterProvider(meterProvider);

  const { client, beside } = await makeClient(
    variant,
    { tracerProvider, meterProvider, loggerProvider },
    stream,
  );
  const callMany = async (c: ChatClient, n: number): Promise<void> => {
    if (stream) {
      // Read to the end, as an application does: the span ends with the stream.
      for (let i = 0; i < n; i++)
        for await (const _ of (await c.chat.completions.create(STREAM_BODY)) as AsyncIterable<unknown>);
    } else {
      for (let i = 0; i < n; i++) await c.chat.completions.create(CHAT_BODY);
    }
  };
  // CPU of the process (every thread: the JIT's compiler threads and the GC's helpers too) and
  // of the main thread alone, where the calls run: the difference is background work.
  type Timing = { wall: number; cpu: number; mainCpu: number };
  const timeCalls = async (n: number): Promise<Timing> => {
    if (beside !== undefined) return timeBeside(n, beside);
    const cpu0 = process.cpuUsage();
    const main0 = process.threadCpuUsage();
    const start = process.hrtime.bigint();
    await callMany(client, n);
    const cpu = process.cpuUsage(cpu0);
    const main = process.threadCpuUsage(main0);
    return {
      wall: Number(process.hrtime.bigint() - start) / 1000 / n,
      cpu: (cpu.user + cpu.system) / n,
      mainCpu: (main.user + main.system) / n,
    };
  };
  // The crosstalk variants: batches of BATCH calls of the other client between batches of this
  // one (as the in-process benches alternate their clients); only this one's batches are timed.
  const BATCH = 100;
  const timeBeside = async (n: number, other: ChatClient): Promise<Timing> => {
    let cpuUs = 0;
    let mainUs = 0;
    let wallNs = 0n;
    for (let done = 0; done < n; done += BATCH) {
      await callMany(other, BATCH);
      const k = Math.min(BATCH, n - done);
      const cpu0 = process.cpuUsage();
      const main0 = process.threadCpuUsage();
      const start = process.hrtime.bigint();
      await callMany(client, k);
      const cpu = process.cpuUsage(cpu0);
      const main = process.threadCpuUsage(main0);
      wallNs += process.hrtime.bigint() - start;
      cpuUs += cpu.user + cpu.system;
      mainUs += main.user + main.system;
    }
    return { wall: Number(wallNs) / 1000 / n, cpu: cpuUs / n, mainCpu: mainUs / n };
  };
  await timeCalls(warmup);
  await Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);
  const spansBefore = spans.length;
  const logsBefore = logCount;
  // What one call emits, measured on one call after the warm-up.
  spans = [];
  logCount = 0;
  await callMany(client, 1); // this client alone, also in the crosstalk variants
  await Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);
  const oneCall = {
    spans: spans.length,
    logs: logCount,
    attrs: spans.reduce((n, s) => n + Object.keys(s.attributes).length, 0),
    events: spans.reduce((n, s) => n + s.events.length, 0),
  };
  void spansBefore;
  void logsBefore;
  // A variant whose patch or wrapper silently did nothing (a peer's hook missing a renamed
  // export, our wrapper declining a client) would time as the plain client: its added time read
  // as a saving. Every instrumented variant records a span per call; the plain ones record none.
  const plain = variant === 'openai 7, plain' || variant === 'openai 6, plain';
  if (oneCall.spans !== (plain ? 0 : 1))
    throw new Error(`peer-child ${variant}: ${oneCall.spans} spans for one call, expected ${plain ? 0 : 1}`);
  const t = await timeCalls(calls);
  const { resourceMetrics } = await reader.collect();
  const metricData = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const result: ChildResult = {
    variant,
    wallUs: t.wall,
    cpuUs: t.cpu,
    mainCpuUs: t.mainCpu,
    spansPerCall: oneCall.spans,
    spanAttributes: oneCall.attrs,
    spanEvents: oneCall.events,
    logsPerCall: oneCall.logs,
    metricPoints: metricData.reduce((n, m) => n + m.dataPoints.length, 0),
    metricNames: metricData.filter((m) => m.dataPoints.length > 0).map((m) => m.descriptor.name),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown(), meterProvider.shutdown()]);
}

interface Providers {
  tracerProvider: TracerProvider;
  meterProvider: MeterProvider;
  loggerProvider: LoggerProvider;
}

/** The client to time, and for the crosstalk variants the other configuration, called between its batches. */
async function makeClient(
  variant: Variant,
  p: Providers,
  stream: boolean,
): Promise<{ client: ChatClient; beside?: ChatClient }> {
  if (variant === 'llmsec, no guards, beside guards')
    return {
      client: await makeOne('llmsec, no guards', p, stream),
      beside: await makeOne('llmsec, default guards', p, stream),
    };
  if (variant === 'llmsec, default guards, beside no guards')
    return {
      client: await makeOne('llmsec, default guards', p, stream),
      beside: await makeOne('llmsec, no guards', p, stream),
    };
  return { client: await makeOne(variant, p, stream) };
}

async function makeOne(variant: Variant, p: Providers, stream: boolean): Promise<ChatClient> {
  const options = {
    apiKey: 'bench',
    baseURL: 'http://127.0.0.1:9/v1',
    maxRetries: 0,
    fetch: stream ? cannedStreamFetch : cannedFetch,
  };
  switch (variant) {
    case 'openai 7, plain': {
      const { default: OpenAI } = await import('openai');
      return new OpenAI(options);
    }
    case 'llmsec, no guards':
    case 'llmsec, default guards': {
      const { default: OpenAI } = await import('openai');
      const { instrumentClient } = await import('../../packages/sdk/src/instrumentation/index.ts');
      const { defaultGuards } = await import('../../packages/sdk/src/guards/index.ts');
      const { SecurityEvents } = await import('../../packages/sdk/src/security-events.ts');
      const events = new SecurityEvents();
      const guards =
        variant === 'llmsec, default guards'
          ? { guards: defaultGuards({ allowedTools: ['get_weather'] }) }
          : {};
      return instrumentClient(new OpenAI(options), { events, ...guards });
    }
    case 'openinference 4.2.7': {
      const openai = await import('openai');
      const { OpenAIInstrumentation } = await import('@arizeai/openinference-instrumentation-openai');
      const inst = new OpenAIInstrumentation();
      inst.setTracerProvider(p.tracerProvider);
      inst.manuallyInstrument(openai as never);
      return new openai.default(options);
    }
    case 'llmsec, no guards (openai 6)': {
      const { default: OpenAI } = await import('openai-v6');
      const { instrumentClient } = await import('../../packages/sdk/src/instrumentation/index.ts');
      const { SecurityEvents } = await import('../../packages/sdk/src/security-events.ts');
      return instrumentClient(new OpenAI(options), { events: new SecurityEvents() }) as unknown as ChatClient;
    }
    case 'openai 6, plain': {
      const { default: OpenAI } = await import('openai-v6');
      return new OpenAI(options) as unknown as ChatClient;
    }
    case 'otel instrumentation-openai 0.22.0': {
      const openai = await import('openai-v6');
      const { OpenAIInstrumentation } = await import('@opentelemetry/instrumentation-openai');
      const inst = new OpenAIInstrumentation();
      inst.setTracerProvider(p.tracerProvider);
      inst.setMeterProvider(p.meterProvider);
      inst.setLoggerProvider?.(p.loggerProvider);
      // Loaded under an alias, the module hook does not see it: apply the instrumentation's own patch.
      const definition = inst.getModuleDefinitions()[0] as {
        patch?: (exports: unknown, version?: string) => unknown;
      };
      definition.patch?.(openai, '6.30.1');
      return new openai.default(options) as unknown as ChatClient;
    }
    case 'traceloop 0.27.0': {
      const openai = await import('openai-v6');
      const { OpenAIInstrumentation } = await import('@traceloop/instrumentation-openai');
      const inst = new OpenAIInstrumentation();
      inst.setTracerProvider(p.tracerProvider);
      inst.manuallyInstrument(openai.default as never);
      return new openai.default(options) as unknown as ChatClient;
    }
    default:
      throw new Error(`makeOne: ${variant} is built by makeClient`);
  }
}

await main();
