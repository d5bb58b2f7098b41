/**
 * What the default guards cost per call, alone (issue 13): the guard runner with the default
 * guards on the canned chat call of bench:instrumentation (input chain, output chain and, for
 * the streamed variant, the chunk checks of its 8 content deltas), with the real LlmsecMetrics
 * on a real MeterProvider, its histograms aggregated in process as under setupLlmsec
 * (local-histograms.ts). Beside it, in the same rounds (random order, CPU time per call): the
 * same with the SDK's Histogram (`[SDK histograms]`, as on a host's MeterProvider), with the
 * guard-duration records made into a no-op (their share), and six records alone of each kind
 * with a frozen two-key attribute set.
 *
 *   node --conditions=@llmsec/source bench/instrumentation/guards.ts [--base <dir>] [--rounds 21]
 *
 * `--base <dir>`: an unpacked older tree of this repository (e.g. `git archive <commit>
 * packages/sdk/src | tar -x -C <dir>`) whose guards and runner are timed beside the current
 * ones, with the same metrics class, so a change is measured against its predecessor in one run.
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { pathToFileURL } from 'node:url';
import { LlmsecMetrics } from '../../packages/sdk/src/metrics.ts';
import { LocalHistograms } from '../../packages/sdk/src/local-histograms.ts';
import { StreamText } from '../../packages/sdk/src/instrumentation/stream-text.ts';
import type {
  GuardContext,
  GuardInput,
  InputGuard,
  OutputGuard,
} from '../../packages/sdk/src/instrumentation/types.ts';
import { CANNED_TEXT, CHAT_BODY } from './canned-chat.ts';
import { median } from '../report.ts';
import { CumulativeReader } from './otel-providers.ts';

const reader = new CumulativeReader();
const meterProvider = new MeterProvider({ readers: [reader] });
if (!reader.attachLlmsecHistograms(meterProvider))
  throw new Error('guards.ts compares both paths: drop --sdk-histograms');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}
const ROUNDS = arg('rounds', 21);
const CALLS = 5000;

/** The metrics with the guard-duration record made a no-op: what the guards cost without their records. */
class NoDurationMetrics extends LlmsecMetrics {
  override recordGuardrailDuration(): void {}
}

interface Side {
  defaultGuards: (o: { allowedTools?: string[] }) => { input?: InputGuard[]; output?: OutputGuard[] };
  runInputGuards: (g: readonly InputGuard[], i: GuardInput, c: GuardContext, m: LlmsecMetrics) => unknown;
  runOutputGuards: (
    g: readonly OutputGuard[],
    o: { text: string; toolCalls: string[] },
    c: GuardContext,
    m: LlmsecMetrics,
  ) => unknown;
  runChunkGuards: (
    g: readonly OutputGuard[],
    a: string,
    d: string,
    c: GuardContext,
    m: LlmsecMetrics,
  ) => number;
  /** A call's guard context, as the instrumentation builds one (guards keep their stream state in it). */
  context: () => GuardContext;
}

type ContextClass = new (owner: object, sessionId?: string, conversationId?: string) => GuardContext;

async function load(root: string): Promise<Side> {
  const at = (p: string): string => pathToFileURL(`${root}/packages/sdk/src/${p}`).href;
  const guards = (await import(at('guards/index.ts'))) as Pick<Side, 'defaultGuards'>;
  const runner = (await import(at('instrumentation/guard-runner.ts'))) as Omit<
    Side,
    'defaultGuards' | 'context'
  >;
  const { CallGuardContext } = (await import(at('instrumentation/call-guard-context.ts'))) as {
    CallGuardContext: ContextClass;
  };
  const owner = { userId: undefined, span: undefined, guardView: () => input, emit: () => undefined };
  return { ...guards, ...runner, context: () => new CallGuardContext(owner, undefined, undefined) };
}

const input: GuardInput = {
  provider: 'openai',
  operation: 'chat',
  model: CHAT_BODY.model,
  system: CHAT_BODY.messages[0].content,
  messages: CHAT_BODY.messages.map((m) => ({ role: m.role, content: m.content })),
  tools: [],
  body: CHAT_BODY,
};
/** The 8 content deltas of bench:instrumentation's streamed answer. */
const words = CANNED_TEXT.split(/(?<= )/);
const deltas = Array.from({ length: 8 }, (_, k) =>
  words.slice((k * words.length) / 8, ((k + 1) * words.length) / 8).join(''),
);

/** One call's guard work: input chain, the chunk checks (streamed), output chain. */
function call(side: Side, metrics: LlmsecMetrics, stream: boolean): () => void {
  const g = side.defaultGuards({ allowedTools: ['get_weather'] });
  const inputGuards = g.input ?? [];
  const outputGuards = g.output ?? [];
  const chunked = outputGuards.some((x) => typeof x.checkChunk === 'function');
  return () => {
    const ctx = side.context();
    void side.runInputGuards(inputGuards, input, ctx, metrics);
    if (stream && chunked) {
      const text = new StreamText();
      for (const d of deltas) side.runChunkGuards(outputGuards, text.append(d), d, ctx, metrics);
    }
    void side.runOutputGuards(outputGuards, { text: CANNED_TEXT, toolCalls: [] }, ctx, metrics);
  };
}

// '@llmsec/sdk' is attached (local histograms); 'bench-guards' is not (the SDK's Histogram).
const meter = meterProvider.getMeter('bench-guards');
const metrics = new LlmsecMetrics({ meter: meterProvider.getMeter('@llmsec/sdk') });
const sdkMetrics = new LlmsecMetrics({ meter });
const noDurations = new NoDurationMetrics({ meter });
const current = await load(new URL('../..', import.meta.url).pathname.replace(/\/$/, ''));
const baseAt = process.argv.indexOf('--base');
const base = baseAt > 0 ? await load(process.argv[baseAt + 1] as string) : undefined;

const histogram = meter.createHistogram('bench.histogram');
const local = LocalHistograms.on(meterProvider.getMeter('@llmsec/sdk'), 'bench.histogram', { advice: {} });
const attrs = Object.freeze({ layer: 'pii', outcome: 'allow' });
let x = 0;

const cases: Record<string, () => void> = {
  'guards, one call': call(current, metrics, false),
  'guards, one streamed call': call(current, metrics, true),
  'guards, one call [SDK histograms]': call(current, sdkMetrics, false),
  'guards, one streamed call [SDK histograms]': call(current, sdkMetrics, true),
  'guards, one call, no duration records': call(current, noDurations, false),
  'guards, one streamed call, no duration records': call(current, noDurations, true),
  'SDK Histogram.record x6 (frozen 2-key set)': () => {
    for (let i = 0; i < 6; i++) histogram.record((x = (x + 1) % 100) / 1e5, attrs);
  },
  'LocalHistogram.record x6 (frozen 2-key set)': () => {
    for (let i = 0; i < 6; i++) local?.record((x = (x + 1) % 100) / 1e5, attrs);
  },
};
if (base !== undefined) {
  cases['[base] guards, one call'] = call(base, metrics, false);
  cases['[base] guards, one streamed call'] = call(base, metrics, true);
}

function cpu(fn: () => void, n: number): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const names = Object.keys(cases);
for (const name of names) cpu(cases[name] as () => void, 4 * CALLS);
const series: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const name of [...names].sort(() => Math.random() - 0.5))
    series[name]?.push(cpu(cases[name] as () => void, CALLS));
}
const ref = series['guards, one call'] as number[];
const lines = [
  `default guards alone, node ${process.version}: ${ROUNDS} rounds x ${CALLS} per case, random order; CPU us (median), x = median of per-round ratios to "guards, one call"`,
];
for (const name of names) {
  const s = series[name] as number[];
  const ratio = median(s.map((v, k) => v / (ref[k] as number)));
  lines.push(`  ${name.padEnd(48)} ${median(s).toFixed(2).padStart(6)} us   x${ratio.toFixed(3)}`);
}
const pairs: [string, string][] = [
  ['guards, one call', 'guards, one call [SDK histograms]'],
  ['guards, one streamed call', 'guards, one streamed call [SDK histograms]'],
];
if (base !== undefined)
  pairs.push(
    ['guards, one call', '[base] guards, one call'],
    ['guards, one streamed call', '[base] guards, one streamed call'],
  );
for (const [now, other] of pairs) {
  const a = series[now] as number[];
  const b = series[other] as number[];
  lines.push(
    `  ${now} / ${other} = x${median(a.map((v, k) => v / (b[k] as number))).toFixed(3)}, difference ${median(a.map((v, k) => v - (b[k] as number))).toFixed(2)} us (medians per round)`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
await meterProvider.shutdown();
