/**
 * Instrumentation overhead: the same non-streaming chat call through the real `openai` client,
 * uninstrumented and instrumented (instrumentClient; real OTel SDK providers with batch
 * processors and discarding exporters; SecurityEvents), in the same process and run.
 *
 *   npm run bench:instrumentation [-- --calls 100 --rounds 30 --peer-rounds 8 --peer-calls 2000 --peer-warmup 2000 --no-peers --no-peer-stream --only-peers --ab --peer-llmsec-only --peer-official-only --peer-crosstalk]
 *
 * `--ab` adds, for the canned-fetch transports, the instrumented variants with llmsec's
 * histograms recorded into the SDK's Histogram (`[SDK histograms]`: LlmsecMetrics on a meter
 * the local histograms are not attached to, as on a host's MeterProvider), beside the default
 * variants, whose histograms are aggregated in process as under setupLlmsec
 * (otel-providers.ts; `--sdk-histograms` turns that off for every variant). The A/B of the
 * counters (sdk-counter-metrics.ts) is in bench:events.
 *
 * Then the peers (peers.ts): @opentelemetry/instrumentation-openai, @traceloop/instrumentation-
 * openai and @arizeai/openinference-instrumentation-openai beside ours, one process each,
 * non-streaming and then streamed (`--no-peer-stream`: non-streaming only; `--only-peers`:
 * skip the in-process table; `--peer-llmsec-only`: only the openai 7 plain and llmsec rows;
 * `--peer-official-only`: only openai 6 plain, llmsec on it and the official instrumentation;
 * `--peer-crosstalk`: also llmsec without and with guards each sharing its process with the
 * other configuration, peer-variants.ts). The default guards' added time is reported paired
 * per round, one configuration per process (what an application with one configuration pays),
 * in process CPU and in the main thread's CPU: the process figure also carries the JIT's and
 * the GC's background threads, which vary from process to process by more than the guards
 * cost (see docs/performance/sdk.md, "Why the peer table's guard figure is larger").
 *
 * Three transports:
 * - `fake server`: HTTP to the local fake LLM server (in-process, loopback): what the issue asks.
 * - `canned fetch`: the client's `fetch` option returns a canned Response: no socket, so the
 *   machine's network and scheduling noise is out and the difference is our CPU cost.
 * - `canned fetch, stream: true`: the same answer as 10 SSE chunks, read to the end.
 * Variants per transport: plain, instrumented without guards, instrumented with the default
 * guards. Both wall time and process CPU time (user + system, all threads) per call are
 * reported: on a shared machine CPU time is the steadier measure of what the code costs. Rounds are paired (each round times every variant back to back, in a new random
 * order, so that no variant always pays its predecessor's garbage collection); the reported overhead is the median of the per-round differences, which cancels
 * most of the drift of a shared machine.
 *
 * `--breakdown` adds, for the canned-fetch transport only, the default-guard variant with the
 * security events and then also the llmsec metrics replaced by no-ops: what is left is the
 * span, the context, the guards and the wrapper, so the difference shows what the events
 * (request_completed: span event, log record, counters) and the metric records cost.
 */
import OpenAI from 'openai';
import { createNoopMeter } from '@opentelemetry/api';
import type { SecurityEvent, SecurityEventEmitter } from '@llmsec/core';
import { defaultGuards } from '../../packages/sdk/src/guards/index.ts';
import { instrumentClient } from '../../packages/sdk/src/instrumentation/index.ts';
import { SecurityEvents } from '../../packages/sdk/src/security-events.ts';
import { LlmsecMetrics } from '../../packages/sdk/src/metrics.ts';
import { startFakeLlm } from '../../examples/fake-llm/server.ts';
import { runPeers, shuffle } from './peers.ts';
import { CROSSTALK_VARIANTS, LLMSEC_VARIANTS, OFFICIAL_VARIANTS, VARIANTS } from './peer-variants.ts';
import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
import { median } from '../report.ts';
import { SDK_HISTOGRAMS, installDiscardingProviders } from './otel-providers.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}
const CALLS = arg('calls', 100);
const BREAKDOWN = process.argv.includes('--breakdown');
/** A/B of issue 13's changes in this run: the same variants with the previous code paths (sdk-counter-metrics.ts). */
const AB = process.argv.includes('--ab');
const ROUNDS = arg('rounds', 30);
const WARMUP = 300;

const providers = installDiscardingProviders();
const { meterProvider } = providers;

const fake = await startFakeLlm();
const events = new SecurityEvents();
/** For --breakdown: an emitter and a meter that record nothing (guard and GenAI metrics then go to the global meter or nowhere). */
const noopEvents: SecurityEventEmitter = {
  emit: (category) =>
    ({
      event_id: 'EVT-000000000000',
      timestamp: '',
      category,
      severity: 'info',
      user_id: 'anonymous',
    }) as SecurityEvent,
};
const noopMeterProvider = { getMeter: () => createNoopMeter() };
type Transport = 'fake server' | 'canned fetch' | 'canned fetch, stream: true';
function variants(transport: Transport): Record<string, OpenAI> {
  const make = (): OpenAI =>
    transport === 'fake server'
      ? new OpenAI({ apiKey: 'bench', baseURL: fake.openaiBaseURL, maxRetries: 0 })
      : new OpenAI({
          apiKey: 'bench',
          baseURL: 'http://127.0.0.1:9/v1',
          maxRetries: 0,
          fetch: transport === 'canned fetch' ? cannedFetch : cannedStreamFetch,
        });
  const guards = (): ReturnType<typeof defaultGuards> => defaultGuards({ allowedTools: ['get_weather'] });
  const out: Record<string, OpenAI> = {
    plain: make(),
    'instrumented, no guards': instrumentClient(make(), { events }),
    'instrumented, default guards': instrumentClient(make(), { events, guards: guards() }),
  };
  if (AB && transport !== 'fake server') {
    const before = new LlmsecMetrics({ meter: meterProvider.getMeter('bench-sdk-histograms') });
    // The runtime takes its metrics from the events' (runtime.ts), so both sides use `before`.
    const beforeEvents = new SecurityEvents({ metrics: before });
    out['no guards [SDK histograms]'] = instrumentClient(make(), { events: beforeEvents });
    out['default guards [SDK histograms]'] = instrumentClient(make(), {
      events: beforeEvents,
      guards: guards(),
    });
  }
  if (BREAKDOWN && transport === 'canned fetch') {
    out['guards, no-op events'] = instrumentClient(make(), { events: noopEvents, guards: guards() });
    out['guards, no-op events+metrics'] = instrumentClient(make(), {
      events: noopEvents,
      meterProvider: noopMeterProvider,
      guards: guards(),
    });
  }
  return out;
}

/** Wall time and process CPU time (user + system) per call, in µs. */
async function timeCalls(client: OpenAI, n: number, stream: boolean): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  if (stream) {
    // Read to the end, as an application does: the span ends with the stream.
    for (let i = 0; i < n; i++)
      for await (const _ of await client.chat.completions.create({ ...CHAT_BODY, stream: true }));
  } else {
    for (let i = 0; i < n; i++) await client.chat.completions.create(CHAT_BODY);
  }
  const wall = Number(process.hrtime.bigint() - start) / 1000 / n;
  const cpu = process.cpuUsage(cpu0);
  return { wall, cpu: (cpu.user + cpu.system) / n };
}

const quart = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)] as number;
const fmt = (x: number): string => x.toFixed(1).padStart(7);

const lines: string[] = [
  `instrumentation overhead, node ${process.version}: ${ROUNDS} paired rounds x ${CALLS} sequential non-streaming chat.completions.create calls per variant`,
  `llmsec histograms: ${SDK_HISTOGRAMS ? "the SDK's Histogram (--sdk-histograms)" : 'aggregated in process, as under setupLlmsec'}`,
  'default guards: prompt-injection patterns, PII/secrets detect (input and output), system-prompt leakage, tool allowlist',
];
const TRANSPORTS = process.argv.includes('--only-peers')
  ? []
  : (['fake server', 'canned fetch', 'canned fetch, stream: true'] as const);
for (const transport of TRANSPORTS) {
  const stream = transport === 'canned fetch, stream: true';
  const clients = variants(transport);
  const names = Object.keys(clients);
  for (const c of Object.values(clients)) await timeCalls(c, WARMUP, stream);
  const wall: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = shuffle(names);
    for (const name of order) {
      const t = await timeCalls(clients[name] as OpenAI, CALLS, stream);
      wall[name]?.push(t.wall);
      cpu[name]?.push(t.cpu);
    }
  }
  lines.push(`\n[${transport}]`);
  for (const [label, series] of [
    ['wall', wall],
    ['cpu ', cpu],
  ] as const) {
    const base = series.plain as number[];
    lines.push(`  ${label} ${'plain'.padEnd(30)} median ${fmt(median(base))} us/call`);
    for (const name of names.slice(1)) {
      const t = series[name] as number[];
      const diffs = t.map((x, k) => x - (base[k] as number));
      lines.push(
        `  ${label} ${name.padEnd(30)} median ${fmt(median(t))} us/call   added ${fmt(median(diffs))} us/call (paired median; IQR ${quart(diffs, 0.25).toFixed(1)} .. ${quart(diffs, 0.75).toFixed(1)}); x${(median(t) / median(base)).toFixed(3)}`,
      );
    }
  }
}
// A fresh process per variant: a long warm-up so that JIT and GC settle before timing.
if (!process.argv.includes('--no-peers')) {
  const peerOptions = {
    rounds: arg('peer-rounds', 8),
    calls: arg('peer-calls', 2000),
    warmup: arg('peer-warmup', 2000),
    variants: [
      ...(process.argv.includes('--peer-llmsec-only')
        ? LLMSEC_VARIANTS
        : process.argv.includes('--peer-official-only')
          ? OFFICIAL_VARIANTS
          : VARIANTS),
      ...(process.argv.includes('--peer-crosstalk') ? CROSSTALK_VARIANTS : []),
    ],
  };
  lines.push(...runPeers({ ...peerOptions, stream: false }));
  if (!process.argv.includes('--no-peer-stream')) lines.push(...runPeers({ ...peerOptions, stream: true }));
}
process.stdout.write(`${lines.join('\n')}\n`);
await fake.close();
await providers.shutdown();
