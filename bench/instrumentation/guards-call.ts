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
 *   node --conditions=@llmsec/source bench/instrumentation/guards-call.ts [--stream] [--base <dir>] [--rounds 40] [--calls 100] [--pii redact]
 *
 * `--pii <detect|block|redact>`: piiGuard's mode in the default guards (theirs: detect); block and
 * redact also check every streamed delta, redact rewrites the items it delivers.
 *
 * `--base <dir>`: an unpacked older tree (`git archive <commit> packages/sdk/src | tar -x -C <dir>`,
 * a node_modules link to this one's) whose instrumentation and guards are timed in the same rounds.
 *
 * `--warm <n>` (default 2000): calls of each client before the rounds. At the default the guards'
 * functions run as Maglev code: V8 moves them to TurboFan only after tens of thousands of calls
 * (guards.ts runs them >100,000 times, so its figure is TurboFan's). `--warm 40000` reads the call
 * as a long-running process would.
 *
 * The guards' own time: the last lines time each guard's check (clock reads around it, so
 * comparable with each other, not with CPU time) in three settings, in the same rounds: inside
 * the instrumented call (a client of its own, `default guards, timed`, not used for the lines
 * above), alone back to back (the runner and guards as in guards.ts), and alone with a plain
 * client call before each run. Same guards, same code, same input: what moves between the first
 * two is the state the rest of the call leaves in the caches and predictors; the third shows how
 * much of that a plain client call alone leaves.
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
import { CANNED_TEXT, CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
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
/** `--pii <detect|block|redact>`: piiGuard's mode in the default guards (default: theirs, detect). */
const piiAt = process.argv.indexOf('--pii');
const pii = piiAt > 0 ? process.argv[piiAt + 1] : undefined;
if (pii !== undefined && pii !== 'detect' && pii !== 'block' && pii !== 'redact')
  throw new Error('--pii must be detect, block or redact');
const guardOptions = { allowedTools: ['get_weather'], ...(pii !== undefined ? { pii } : {}) };
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
  SecurityEvents: new (o?: object) => { metrics: object };
  LlmsecMetrics: new (o?: object) => { recordGuardrailDuration(i: object): void };
  defaultGuards: (o: object) => { input?: Guard[]; output?: Guard[] };
  runInputGuards: (g: Guard[], i: object, c: object, m: object) => unknown;
  runOutputGuards: (g: Guard[], o: object, c: object, m: object) => unknown;
  runChunkGuards: (g: Guard[], a: string, d: string, c: object, m: object) => number;
  CallGuardContext: new (owner: object, s?: string, c?: string) => object;
  StreamText: new () => { append(d: string): string };
}

async function load(root: string): Promise<Tree> {
  const at = (p: string): string => pathToFileURL(`${root}/packages/sdk/src/${p}`).href;
  return {
    ...((await import(at('instrumentation/index.ts'))) as Pick<Tree, 'instrumentClient'>),
    ...((await import(at('security-events.ts'))) as Pick<Tree, 'SecurityEvents'>),
    ...((await import(at('metrics.ts'))) as Pick<Tree, 'LlmsecMetrics'>),
    ...((await import(at('guards/index.ts'))) as Pick<Tree, 'defaultGuards'>),
    ...((await import(at('instrumentation/guard-runner.ts'))) as Pick<
      Tree,
      'runInputGuards' | 'runOutputGuards' | 'runChunkGuards'
    >),
    ...((await import(at('instrumentation/call-guard-context.ts'))) as Pick<Tree, 'CallGuardContext'>),
    ...((await import(at('instrumentation/stream-text.ts'))) as Pick<Tree, 'StreamText'>),
  };
}

/** Milliseconds spent in the timed guards' checks since the last reset, by setting. */
const guardMs: Record<string, number> = {};
let timing = '';
/** Copies of the default guards whose checks add their clock time to guardMs[timing]. */
function timedGuards(t: Tree): { input: Guard[]; output: Guard[] } {
  const g = t.defaultGuards(guardOptions);
  const wrap = (x: Guard): Guard => {
    const copy: Guard = { ...x };
    for (const m of ['check', 'checkResponse', 'checkChunk']) {
      const f = x[m];
      if (typeof f !== 'function') continue;
      copy[m] = (...a: unknown[]): unknown => {
        const t0 = performance.now();
        try {
          return (f as (...b: unknown[]) => unknown).apply(x, a);
        } finally {
          guardMs[timing] = (guardMs[timing] ?? 0) + performance.now() - t0;
        }
      };
    }
    return copy;
  };
  return { input: (g.input ?? []).map(wrap), output: (g.output ?? []).map(wrap) };
}

const clients: Record<string, OpenAI> = {};
function add(tag: string, t: Tree, extra: boolean): void {
  const guards = (): ReturnType<Tree['defaultGuards']> => t.defaultGuards(guardOptions);
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
const tree = await load(new URL('../..', import.meta.url).pathname.replace(/\/$/, ''));
add('', tree, true);
const base = baseDir !== undefined ? await load(baseDir) : undefined;
if (base !== undefined) add('[base] ', base, false);

// The guards' own time (see the header): in a call, alone, alone after a plain client call.
const timedClient = tree.instrumentClient(make(), {
  events: new tree.SecurityEvents(),
  guards: timedGuards(tree),
});
const plainClient = make();
const alone = timedGuards(tree);
const aloneMetrics = new tree.SecurityEvents().metrics;
const aloneInput = {
  provider: 'openai',
  operation: 'chat',
  model: CHAT_BODY.model,
  system: CHAT_BODY.messages[0].content,
  messages: CHAT_BODY.messages.map((m) => ({ role: m.role, content: m.content })),
  tools: [],
  body: CHAT_BODY,
};
const answerWords = CANNED_TEXT.split(/(?<= )/);
/** The streamed answer's 8 content deltas (canned-chat.ts cuts them so). */
const deltas = Array.from({ length: 8 }, (_, k) =>
  answerWords.slice((k * answerWords.length) / 8, ((k + 1) * answerWords.length) / 8).join(''),
);
const aloneOwner = { userId: undefined, span: undefined, guardView: () => aloneInput, emit: () => undefined };
function guardsAlone(): void {
  const ctx = new tree.CallGuardContext(aloneOwner, undefined, undefined);
  void tree.runInputGuards(alone.input, aloneInput, ctx, aloneMetrics);
  if (stream) {
    const text = new tree.StreamText();
    for (const d of deltas) tree.runChunkGuards(alone.output, text.append(d), d, ctx, aloneMetrics);
  }
  void tree.runOutputGuards(alone.output, { text: CANNED_TEXT, toolCalls: [] }, ctx, aloneMetrics);
}
async function oneCall(c: OpenAI): Promise<void> {
  if (stream) for await (const _ of await c.chat.completions.create({ ...CHAT_BODY, stream: true }));
  else await c.chat.completions.create(CHAT_BODY);
}
const settings: Record<string, (n: number) => Promise<void>> = {
  'in the instrumented call': async (n) => {
    for (let i = 0; i < n; i++) await oneCall(timedClient);
  },
  'alone, back to back': async (n) => {
    for (let i = 0; i < n; i++) guardsAlone();
  },
  'alone, after a plain client call each': async (n) => {
    for (let i = 0; i < n; i++) {
      timing = '';
      await oneCall(plainClient);
      timing = 'alone, after a plain client call each';
      guardsAlone();
    }
  },
};
if (base !== undefined) {
  // The older tree's guards timed in its own instrumented call: an A/B of the guards' own code
  // in the call, with the clock's small spread rather than the call's.
  const timedBase = base.instrumentClient(make(), {
    events: new base.SecurityEvents(),
    guards: timedGuards(base),
  });
  settings['[base] in the instrumented call'] = async (n) => {
    for (let i = 0; i < n; i++) await oneCall(timedBase);
  };
}
/** Runs a setting n times and returns its guards' clock time per run, in microseconds. */
async function guardTime(name: string, n: number): Promise<number> {
  timing = name;
  guardMs[name] = 0;
  await (settings[name] as (k: number) => Promise<void>)(n);
  timing = '';
  return ((guardMs[name] as number) * 1000) / n;
}

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

const WARM = arg('warm', 2000);
const names = Object.keys(clients);
const settingNames = Object.keys(settings);
for (const n of names) await time(clients[n] as OpenAI, WARM);
for (const s of settingNames) await guardTime(s, WARM);
const series: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const mainSeries: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const guardSeries: Record<string, number[]> = Object.fromEntries(settingNames.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const n of [...names, ...settingNames].sort(() => Math.random() - 0.5)) {
    if (n in settings) {
      guardSeries[n]?.push(await guardTime(n, CALLS));
      continue;
    }
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
  `default guards in the instrumented call${stream ? ', stream: true (8 content deltas)' : ''}, node ${process.version}: ${WARM} calls of warm-up, ${ROUNDS} rounds x ${CALLS} calls, random order, CPU per call`,
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
/** Per round: (default guards - no guards) of the tree minus the same of [base], with its IQR. */
const changed = (of: Record<string, number[]>): string => {
  const at = (n: string, k: number): number => (of[n] as number[])[k] as number;
  const d = (of['default guards'] as number[])
    .map(
      (_, k) =>
        at('default guards', k) -
        at('no guards', k) -
        (at('[base] default guards', k) - at('[base] no guards', k)),
    )
    .sort((p, q) => p - q);
  const q = (f: number): number => d[Math.floor((d.length - 1) * f)] as number;
  return `${median(d).toFixed(1).padStart(6)} us (IQR ${q(0.25).toFixed(1)} .. ${q(0.75).toFixed(1)})`;
};
if (baseAt > 0)
  lines.push(
    `  [base] added by the default guards:       ${added('[base] default guards', '[base] no guards')}`,
    `  [base] ... main thread only:               ${added('[base] default guards', '[base] no guards', mainSeries)}`,
    `  added, tree minus [base], paired per round: ${changed(series)}; main thread ${changed(mainSeries)}`,
  );
const spread = (x: number[]): string => {
  const d = [...x].sort((p, q) => p - q);
  const q = (f: number): number => d[Math.floor((d.length - 1) * f)] as number;
  return `${median(d).toFixed(2).padStart(6)} us (IQR ${q(0.25).toFixed(2)} .. ${q(0.75).toFixed(2)})`;
};
lines.push(`  the guards' own checks, clock time per call (median of rounds):`);
for (const s of settingNames) lines.push(`    ${s.padEnd(38)} ${spread(guardSeries[s] as number[])}`);
if (base !== undefined) {
  const a = guardSeries['in the instrumented call'] as number[];
  const b = guardSeries['[base] in the instrumented call'] as number[];
  lines.push(`    in the call, tree minus [base], paired   ${spread(a.map((v, k) => v - (b[k] as number)))}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
