/**
 * A small driver for CPU profiles and quick A/B checks of the instrumented call (issue 13):
 *
 *   node --conditions=@llmsec/source [--cpu-prof] bench/instrumentation/profile-driver.ts <mode> [calls] [--stream] [--base <dir>]
 *
 * mode: `plain`, `inst` (no guards), `guards` (default guards), `breakdown` (plain, ours, ours
 * with no-op events, with no-op events and metrics, and with a non-recording span too), or `ab`: plain, ours and, with
 * `--base <dir>` (an unpacked older tree of this repository sharing this node_modules), the
 * older instrumentation (its histograms aggregated in process too, by its own LocalHistograms),
 * timed in alternating rounds in a random order, CPU µs per call; or
 * `hist`: plain, ours and ours with the default guards, each with llmsec's histograms
 * aggregated in process (as under setupLlmsec) and with the SDK's Histogram (`[SDK hist]`).
 * `--sdk-histograms`: every variant records into the SDK's Histogram (otel-providers.ts).
 */
import OpenAI from 'openai';
import { createNoopMeter, INVALID_SPAN_CONTEXT, trace, type Tracer } from '@opentelemetry/api';
import type { SecurityEvent, SecurityEventEmitter } from '@llmsec/core';
import { pathToFileURL } from 'node:url';
import { defaultGuards } from '../../packages/sdk/src/guards/index.ts';
import { instrumentClient } from '../../packages/sdk/src/instrumentation/index.ts';
import { SecurityEvents } from '../../packages/sdk/src/security-events.ts';
import { LlmsecMetrics } from '../../packages/sdk/src/metrics.ts';
import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
import { median } from '../report.ts';
import { installDiscardingProviders } from './otel-providers.ts';
import { LocalHistograms } from '../../packages/sdk/src/local-histograms.ts';

const baseAt = process.argv.indexOf('--base');
const baseDir = baseAt > 0 ? (process.argv[baseAt + 1] as string) : undefined;
// The older tree's own LocalHistograms attached too, so that both record their histograms in process.
const { meterProvider } = installDiscardingProviders(
  LocalHistograms,
  ...(baseDir === undefined
    ? []
    : [
        (
          (await import(pathToFileURL(`${baseDir}/packages/sdk/src/local-histograms.ts`).href)) as {
            LocalHistograms: typeof LocalHistograms;
          }
        ).LocalHistograms,
      ]),
);

const mode = process.argv[2] ?? 'inst';
const calls = Number(process.argv[3] ?? 20_000);
const stream = process.argv.includes('--stream');
const make = (): OpenAI =>
  new OpenAI({
    apiKey: 'bench',
    baseURL: 'http://127.0.0.1:9/v1',
    maxRetries: 0,
    fetch: stream ? cannedStreamFetch : cannedFetch,
  });
const guards = (): ReturnType<typeof defaultGuards> => defaultGuards({ allowedTools: ['get_weather'] });

const clients: Record<string, OpenAI> = {};
if (mode === 'plain' || mode === 'ab') clients.plain = make();
if (mode === 'inst' || mode === 'ab')
  clients.ours = instrumentClient(make(), { events: new SecurityEvents() });
if (mode === 'breakdown') {
  // What the events (span event, log record, llmsec counters) and then also the metrics cost: recorded nowhere.
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
  clients.plain = make();
  clients.ours = instrumentClient(make(), { events: new SecurityEvents() });
  clients['no-op events'] = instrumentClient(make(), { events: noopEvents });
  clients['no-op ev+metr'] = instrumentClient(make(), {
    events: noopEvents,
    meterProvider: { getMeter: () => createNoopMeter() },
  });
  // And the span a non-recording one: what is left is the call's own code, its context and promises.
  const noopTracer = { startSpan: () => trace.wrapSpanContext(INVALID_SPAN_CONTEXT) } as unknown as Tracer;
  clients['no-op all'] = instrumentClient(make(), {
    events: noopEvents,
    meterProvider: { getMeter: () => createNoopMeter() },
    tracerProvider: { getTracer: () => noopTracer },
  });
}
if (mode === 'hist') {
  // A meter the local histograms are not attached to: the SDK's Histogram, as on a host's provider.
  const sdkEvents = new SecurityEvents({
    metrics: new LlmsecMetrics({ meter: meterProvider.getMeter('bench-sdk-histograms') }),
  });
  clients.plain = make();
  clients.ours = instrumentClient(make(), { events: new SecurityEvents() });
  clients['ours [SDK hist]'] = instrumentClient(make(), { events: sdkEvents });
  clients['guards'] = instrumentClient(make(), { events: new SecurityEvents(), guards: guards() });
  clients['guards [SDK hist]'] = instrumentClient(make(), { events: sdkEvents, guards: guards() });
}
if (mode === 'guards')
  clients['ours, guards'] = instrumentClient(make(), { events: new SecurityEvents(), guards: guards() });
if (mode === 'ab' && baseDir !== undefined) {
  const dir = baseDir;
  const older = (await import(pathToFileURL(`${dir}/packages/sdk/src/instrumentation/index.ts`).href)) as {
    instrumentClient: typeof instrumentClient;
  };
  const olderEvents = (await import(pathToFileURL(`${dir}/packages/sdk/src/security-events.ts`).href)) as {
    SecurityEvents: typeof SecurityEvents;
  };
  clients.base = older.instrumentClient(make(), { events: new olderEvents.SecurityEvents() });
}

async function time(client: OpenAI, n: number): Promise<number> {
  const c0 = process.cpuUsage();
  if (stream)
    for (let i = 0; i < n; i++)
      for await (const _ of await client.chat.completions.create({ ...CHAT_BODY, stream: true }));
  else for (let i = 0; i < n; i++) await client.chat.completions.create(CHAT_BODY);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const names = Object.keys(clients);
for (const name of names) await time(clients[name] as OpenAI, 3000);
const rounds = 20;
const series: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < rounds; r++) {
  const order = [...names].sort(() => Math.random() - 0.5);
  for (const name of order)
    series[name]?.push(await time(clients[name] as OpenAI, Math.max(1, Math.floor(calls / rounds))));
}
const plain = series.plain;
for (const name of names) {
  const s = series[name] as number[];
  const added =
    plain === undefined || name === 'plain'
      ? ''
      : `  added ${median(s.map((x, k) => x - (plain[k] as number))).toFixed(1)}`;
  process.stdout.write(`${name.padEnd(14)} cpu ${median(s).toFixed(1)} us/call${added}\n`);
}
if (mode === 'hist') {
  // Paired per round: what the guards add on top of no guards, and local minus SDK histograms.
  const pair = (a: string, b: string): string =>
    median((series[a] as number[]).map((x, k) => x - ((series[b] as number[])[k] as number))).toFixed(1);
  process.stdout.write(
    `guards on top: ${pair('guards', 'ours')} us (SDK hist: ${pair('guards [SDK hist]', 'ours [SDK hist]')}); ` +
      `local minus SDK hist: no guards ${pair('ours', 'ours [SDK hist]')}, guards ${pair('guards', 'guards [SDK hist]')} us\n`,
  );
}
process.exit(0);
