/**
 * What the default guards add to an instrumented call (issue 13): the canned chat call of
 * bench:instrumentation through the real openai client and real OTel SDK providers, instrumented
 * without guards and with the default guards, in the same process, in rounds of random order;
 * CPU time per call (the process's, and the main thread's: without the JIT's and the GC's
 * background threads); "added" is the median over rounds of (with guards - without) in that round.
 * Beside them, to show where the added time goes: the default guards with the guard-duration
 * records made a no-op (both rows of that pair use the same metrics class), and for streams the
 * default guards without chunk checks (the output checks then run only at the end).
 *
 *   node --conditions=@llmsec/source bench/instrumentation/guards-call.ts [--stream] [--base <dir>] [--rounds 40] [--calls 100]
 *
 * `--base <dir>`: an unpacked older tree (`git archive <commit> packages/sdk/src | tar -x -C <dir>`,
 * a node_modules link to this one's) whose instrumentation and guards are timed in the same rounds.
 *
 * `--only <client>` (e.g. `--only 'default guards'`, `--only '[base] no guards'`): makes `--calls`
 * calls of that one client and nothing else (no warm-up, no rounds), for instruction counts
 * under valgrind, which the shared machine's load does not move:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=<file> node_modules/node/bin/node --conditions=@llmsec/source \
 *     bench/instrumentation/guards-call.ts --stream --only 'default guards' --calls 1500 [--base <dir>]
 *
 * Run it for two counts (1,500 and 3,000) and divide the difference of the totals by the
 * difference of the counts: start-up and JIT warm-up cancel out (most of it is over by 1,500).
 */
import OpenAI from 'openai';
import { pathToFileURL } from 'node:url';
import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
import { median } from '../report.ts';
import { installDiscardingProviders } from './otel-providers.ts';
import { LocalHistograms } from '../../packages/sdk/src/local-histograms.ts';

const baseAt = process.argv.indexOf('--base');
const baseDir = baseAt > 0 ? (process.argv[baseAt + 1] as string) : undefined;
// The older tree's own LocalHistograms attached too (each SDK copy has its own registry of
// attached meters): without it, the [base] copy recorded its guard durations into the SDK's
// Histogram (~0.45 us each, 6 per call), and its "added by the default guards" carried that.
installDiscardingProviders(
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

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}
const stream = process.argv.includes('--stream');
const ROUNDS = arg('rounds', 40);
const CALLS = arg('calls', stream ? 60 : 100);
const make = (): OpenAI =>
  new OpenAI({
    apiKey: 'bench',
    baseURL: 'http://127.0.0.1:9/v1',
    maxRetries: 0,
    fetch: stream ? cannedStreamFetch : cannedFetch,
  });

interface Guard {
  name: string;
  layer: string;
  checkChunk?: unknown;
  [k: string]: unknown;
}
interface Tree {
  instrumentClient: (c: OpenAI, o: object) => OpenAI;
  SecurityEvents: new (o?: object) => object;
  LlmsecMetrics: new (o?: object) => { recordGuardrailDuration(i: object): void };
  defaultGuards: (o: object) => { input?: Guard[]; output?: Guard[] };
}

async function load(root: string): Promise<Tree> {
  const at = (p: string): string => pathToFileURL(`${root}/packages/sdk/src/${p}`).href;
  return {
    ...((await import(at('instrumentation/index.ts'))) as Pick<Tree, 'instrumentClient'>),
    ...((await import(at('security-events.ts'))) as Pick<Tree, 'SecurityEvents'>),
    ...((await import(at('metrics.ts'))) as Pick<Tree, 'LlmsecMetrics'>),
    ...((await import(at('guards/index.ts'))) as Pick<Tree, 'defaultGuards'>),
  };
}

const clients: Record<string, OpenAI> = {};
function add(tag: string, t: Tree, extra: boolean): void {
  const guards = (): ReturnType<Tree['defaultGuards']> => t.defaultGuards({ allowedTools: ['get_weather'] });
  clients[`${tag}no guards`] = t.instrumentClient(make(), { events: new t.SecurityEvents() });
  clients[`${tag}default guards`] = t.instrumentClient(make(), {
    events: new t.SecurityEvents(),
    guards: guards(),
  });
  if (!extra) return;
  // The runtime takes its metrics from the events' (runtime.ts).
  const NoDurations = class extends t.LlmsecMetrics {
    override recordGuardrailDuration(): void {}
  };
  clients['no guards, same metrics class'] = t.instrumentClient(make(), {
    events: new t.SecurityEvents({ metrics: new NoDurations() }),
  });
  clients['default guards, no duration records'] = t.instrumentClient(make(), {
    events: new t.SecurityEvents({ metrics: new NoDurations() }),
    guards: guards(),
  });
  if (stream) {
    const g = guards();
    // The same guards without their chunk checks (a copy of each guard object without checkChunk).
    g.output = (g.output ?? []).map(
      (x) => Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'checkChunk')) as Guard,
    );
    clients['default guards, no chunk checks'] = t.instrumentClient(make(), {
      events: new t.SecurityEvents(),
      guards: g,
    });
  }
}
add('', await load(new URL('../..', import.meta.url).pathname.replace(/\/$/, '')), true);
if (baseDir !== undefined) add('[base] ', await load(baseDir), false);

/** The main thread's CPU per call of the last time() (the process's less the JIT's and GC's background threads). */
let lastMain = 0;
async function time(c: OpenAI, n: number): Promise<number> {
  const c0 = process.cpuUsage();
  const m0 = process.threadCpuUsage();
  if (stream)
    for (let i = 0; i < n; i++)
      for await (const _ of await c.chat.completions.create({ ...CHAT_BODY, stream: true }));
  else for (let i = 0; i < n; i++) await c.chat.completions.create(CHAT_BODY);
  const c1 = process.cpuUsage(c0);
  const m1 = process.threadCpuUsage(m0);
  lastMain = (m1.user + m1.system) / n;
  return (c1.user + c1.system) / n;
}

const onlyAt = process.argv.indexOf('--only');
if (onlyAt > 0) {
  const only = clients[process.argv[onlyAt + 1] as string];
  if (only === undefined) throw new Error(`--only: one of ${Object.keys(clients).join(', ')}`);
  await time(only, CALLS);
  process.exit(0);
}

const names = Object.keys(clients);
for (const n of names) await time(clients[n] as OpenAI, 2000);
const series: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const mainSeries: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const n of [...names].sort(() => Math.random() - 0.5)) {
    series[n]?.push(await time(clients[n] as OpenAI, CALLS));
    mainSeries[n]?.push(lastMain);
  }
}
const added = (a: string, b: string, of = series): string => {
  const x = of[a] as number[];
  const y = of[b] as number[];
  const d = x.map((v, k) => v - (y[k] as number)).sort((p, q) => p - q);
  const q = (f: number): number => d[Math.floor((d.length - 1) * f)] as number;
  return `${median(d).toFixed(1).padStart(6)} us (IQR ${q(0.25).toFixed(1)} .. ${q(0.75).toFixed(1)})`;
};
const lines = [
  `default guards in the instrumented call${stream ? ', stream: true (8 content deltas)' : ''}, node ${process.version}: ${ROUNDS} rounds x ${CALLS} calls, random order, CPU per call`,
];
for (const n of names)
  lines.push(
    `  ${n.padEnd(40)} ${median(series[n] as number[])
      .toFixed(1)
      .padStart(7)} us`,
  );
lines.push(`  added by the default guards:              ${added('default guards', 'no guards')}`);
lines.push(
  `  ... main thread only:                      ${added('default guards', 'no guards', mainSeries)}`,
);
lines.push(
  `  ... without their duration records:       ${added('default guards, no duration records', 'no guards, same metrics class')}`,
);
if (stream)
  lines.push(
    `  ... without chunk checks:                 ${added('default guards, no chunk checks', 'no guards')}`,
  );
if (baseAt > 0)
  lines.push(
    `  [base] added by the default guards:       ${added('[base] default guards', '[base] no guards')}`,
    `  [base] ... main thread only:               ${added('[base] default guards', '[base] no guards', mainSeries)}`,
  );
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
