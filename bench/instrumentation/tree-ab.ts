/**
 * A/B (and A/A) of the instrumented call between two source trees in one process (issue 13):
 *
 *   node --conditions=@llmsec/source bench/instrumentation/tree-ab.ts --b <dir> [--a <dir>] [--rounds 60] [--calls 400] [--stream] [--guards]
 *
 * `--a` (default: this checkout) and `--b` are trees of this repository (`git archive <rev>`
 * unpacked, with this node_modules linked and its own `@llmsec/*` links, as /tmp/basec4); each
 * side is that tree's `instrumentClient` and `SecurityEvents` with its own core, its local
 * histograms attached as setupLlmsec attaches them (otel-providers.ts), no guards (`--guards`:
 * that tree's defaultGuards(), for changes to the guards or their plumbing). Plain, A and
 * B are timed back to back in a new random order each round; printed per round, paired: A
 * minus B (median and IQR, CPU µs per call) and A / B, in process CPU and in the main thread's
 * CPU (process CPU also counts the JIT's and GC's helper threads).
 *
 * Why A/A: the side loaded first was favoured in 2026-12-05 runs (the same tree as A and B:
 * main thread A − B −4.3, −1.0, −0.9 and −1.0 µs, 60 rounds of 400 calls, load 7–13), which is
 * as large as the changes one wants to see. Run A/B both ways (`--a base --b ours` too) and an A/A beside
 * it; profile-driver.ts `ab --base` loads the current tree first, the same way.
 */
import OpenAI from 'openai';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { instrumentClient as InstrumentClient } from '../../packages/sdk/src/instrumentation/index.ts';
import type { SecurityEvents as Events } from '../../packages/sdk/src/security-events.ts';
import type { LocalHistograms as Histograms } from '../../packages/sdk/src/local-histograms.ts';
import type { defaultGuards as DefaultGuards } from '../../packages/sdk/src/guards/index.ts';
import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
import { installDiscardingProviders } from './otel-providers.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string', default: fileURLToPath(new URL('../..', import.meta.url)) },
    b: { type: 'string' },
    rounds: { type: 'string', default: '60' },
    calls: { type: 'string', default: '400' },
    stream: { type: 'boolean', default: false },
    guards: { type: 'boolean', default: false },
  },
});
if (values.b === undefined) throw new Error('tree-ab: --b <tree> is required');
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const stream = values.stream;

interface Tree {
  instrumentClient: typeof InstrumentClient;
  SecurityEvents: typeof Events;
  LocalHistograms: typeof Histograms;
  defaultGuards: typeof DefaultGuards;
}
async function load(dir: string): Promise<Tree> {
  const at = async <T>(file: string): Promise<T> =>
    (await import(pathToFileURL(`${dir}/packages/sdk/src/${file}`).href)) as T;
  return {
    ...(await at<{ instrumentClient: typeof InstrumentClient }>('instrumentation/index.ts')),
    ...(await at<{ SecurityEvents: typeof Events }>('security-events.ts')),
    ...(await at<{ LocalHistograms: typeof Histograms }>('local-histograms.ts')),
    ...(await at<{ defaultGuards: typeof DefaultGuards }>('guards/index.ts')),
  };
}
const a = await load(values.a);
const b = await load(values.b);
installDiscardingProviders(a.LocalHistograms, b.LocalHistograms);

const make = (): OpenAI =>
  new OpenAI({
    apiKey: 'bench',
    baseURL: 'http://127.0.0.1:9/v1',
    maxRetries: 0,
    fetch: stream ? cannedStreamFetch : cannedFetch,
  });
const clients: Record<'plain' | 'A' | 'B', OpenAI> = {
  plain: make(),
  A: a.instrumentClient(make(), {
    events: new a.SecurityEvents(),
    ...(values.guards ? { guards: a.defaultGuards() } : {}),
  }),
  B: b.instrumentClient(make(), {
    events: new b.SecurityEvents(),
    ...(values.guards ? { guards: b.defaultGuards() } : {}),
  }),
};
type Name = keyof typeof clients;
const names: Name[] = ['plain', 'A', 'B'];

/** CPU µs per call: [process, main thread]. */
async function time(client: OpenAI, n: number): Promise<[number, number]> {
  const p0 = process.cpuUsage();
  const t0 = process.threadCpuUsage();
  if (stream)
    for (let i = 0; i < n; i++)
      for await (const _ of await client.chat.completions.create({ ...CHAT_BODY, stream: true }));
  else for (let i = 0; i < n; i++) await client.chat.completions.create(CHAT_BODY);
  const p = process.cpuUsage(p0);
  const t = process.threadCpuUsage(t0);
  // Let the batch processors' timers and exports run, as in a server.
  await new Promise(setImmediate);
  return [(p.user + p.system) / n, (t.user + t.system) / n];
}

for (const name of names) await time(clients[name], 3000);
const series: Record<Name, Array<[number, number]>> = { plain: [], A: [], B: [] };
for (let r = 0; r < rounds; r++) {
  const order = [...names].sort(() => Math.random() - 0.5);
  for (const name of order) series[name].push(await time(clients[name], calls));
}

function quartiles(xs: number[]): string {
  const s = [...xs].sort((x, y) => x - y);
  const at = (q: number): string => (s[Math.floor(q * (s.length - 1))] as number).toFixed(2);
  return `${at(0.5)} (IQR ${at(0.25)}..${at(0.75)})`;
}
process.stdout.write(
  `A ${values.a}\nB ${values.b}\n${rounds} rounds x ${calls} calls${stream ? ', streamed' : ''}${values.guards ? ', default guards' : ''}\n`,
);
for (const [k, label] of [
  [0, 'process'],
  [1, 'main thread'],
] as const) {
  const v = (name: Name): number[] => series[name].map((x) => x[k]);
  const minus = (x: number[], y: number[]): number[] => x.map((xi, i) => xi - (y[i] as number));
  process.stdout.write(
    `${label}: plain ${quartiles(v('plain'))}; A added ${quartiles(minus(v('A'), v('plain')))}; ` +
      `B added ${quartiles(minus(v('B'), v('plain')))}; A - B ${quartiles(minus(v('A'), v('B')))}; ` +
      `A / B ${quartiles(v('A').map((x, i) => x / (v('B')[i] as number)))}\n`,
  );
}
process.exit(0);
