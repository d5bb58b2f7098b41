/**
 * What the default guards' added time in the instrumented call is made of (issue 13), one
 * part at a time: the canned chat call of bench:instrumentation (`--stream`: its 8 content
 * deltas streamed) through the real openai client and real OTel SDK providers, instrumented
 * with guard sets that each add one part of what the default guards do, in one process.
 *
 *   node --conditions=@llmsec/source bench/instrumentation/guards-call-parts.ts [--stream] [--calls 2400] [--warm 2000] [--parts] [--probes] [--leakage] [--defaults-only] [--base <dir>] [--prompt-words 12]
 *
 * How it is timed, and why: each call alone (wall clock; a canned call is all CPU on the main
 * thread, no I/O), the clients interleaved call by call in a new random order each time, and
 * the median per call of each client reported, with its difference from `no guards`. Timed in
 * rounds of 60-200 calls (guards-call.ts), the paired per-round differences spread by ±20-50 us
 * at load 6-12 (scheduler slices and GC pauses land in whole rounds); the per-call median
 * leaves those calls out and repeats within ~1 us from run to run at the same load. It leaves
 * the GC's share out too: this bench reads the code path; guards-call.ts and the peers read
 * the whole cost. (process.threadCpuUsage is tick-based here: too coarse for one call.)
 *
 * Rows (each with the default input guards unless said):
 * - `input guards only`: the default input guards, no output guards;
 * - `+ no-op output guards, end only`: three output guards with the default layers whose
 *   checkResponse allows (the output chain and its three records);
 * - `+ no-op chunk check` (streams): the same with a chunk check on one of them that allows
 *   (the chunk runner per delta, StreamText);
 * - `+ no-op chunk check holding as the default`: that check asks to hold what the default
 *   leakage guard holds on this answer (the stream observer's held-item path);
 * - `default guards, no chunk checks` and `default guards`.
 * `--parts` adds: one and three no-op input guards, with and without their duration records
 * (a metrics class whose recordGuardrailDuration does nothing; `no guards, no-record metrics`
 * is its control), and each default guard real with the others no-op. `--probes` adds output
 * guards that only run one operation on the answer: detectSensitive, one regex test (the PII
 * triggers as one alternation), a character loop over it, ten `includes`. `--base <dir>` adds
 * `[base] no guards` and `[base] default guards` from an older tree (a second copy of the SDK
 * in the process: its rows read ~10-30 us slower whatever the code, so compare its added time
 * only with care; separate processes per tree, alternated, are the fairer A/B).
 * `--leakage` (streams) adds the system-prompt leakage guard's parts, each with the default
 * input guards and the other output guards no-op: its chunk checks only (end check a no-op),
 * the same with their holds dropped (the observer then holds nothing), its end check only (no
 * chunk checks: the whole-text check), and both. With the default input guards because the
 * `--parts` rows have none: there an output guard that reads `ctx.input` (the leakage guard
 * does, for the system prompt) builds the call's request view itself, which in the default set
 * the input guards have built already (~2-4 us of its `--parts` row at load 11-16).
 * `--prompt-words N`: the call's system prompt of N words (default 12, the canned call's own).
 */
import OpenAI from 'openai';
import { pathToFileURL } from 'node:url';
import { cannedCall, cannedClient, chatBody } from './canned-client.ts';
import { median } from '../report.ts';
import { installDiscardingProviders } from './otel-providers.ts';
import { LocalHistograms } from '../../packages/sdk/src/local-histograms.ts';
import { LlmsecMetrics } from '../../packages/sdk/src/metrics.ts';
import { SecurityEvents } from '../../packages/sdk/src/security-events.ts';
import { instrumentClient } from '../../packages/sdk/src/instrumentation/index.ts';
import { defaultGuards } from '../../packages/sdk/src/guards/index.ts';
import { detectSensitive } from '../../packages/core/src/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}
const has = (flag: string): boolean => process.argv.includes(`--${flag}`);
const CALLS = arg('calls', 2400);
const WARM = arg('warm', 2000);
const stream = has('stream');
// A system prompt of this many words (canned-client.ts chatBody; 12, the default, is the canned
// call's own, so earlier figures stay comparable; a usual application's is 100-500 words).
const body = chatBody(has('prompt-words') ? arg('prompt-words', 12) : undefined);
const baseAt = process.argv.indexOf('--base');
const baseDir = baseAt > 0 ? (process.argv[baseAt + 1] as string) : undefined;
const baseUrl = (p: string): string => pathToFileURL(`${baseDir}/packages/sdk/src/${p}`).href;

// The older tree's own LocalHistograms attached too (each SDK copy has its own registry).
installDiscardingProviders(
  LocalHistograms,
  ...(baseDir === undefined
    ? []
    : [
        ((await import(baseUrl('local-histograms.ts'))) as { LocalHistograms: typeof LocalHistograms })
          .LocalHistograms,
      ]),
);

interface Guard {
  name: string;
  layer: string;
  [k: string]: unknown;
}
type GuardSet = { input?: Guard[]; output?: Guard[] };
const make = (): OpenAI => cannedClient(stream);
const call = (c: OpenAI): Promise<void> => cannedCall(c, stream, body);

const defaults = (): Required<GuardSet> => {
  const g = defaultGuards({ allowedTools: ['get_weather'] }) as GuardSet;
  return { input: g.input ?? [], output: g.output ?? [] };
};
const allow = (): { action: 'allow' } => ({ action: 'allow' });
const noopInput = (): Guard[] =>
  defaults().input.map((g) => ({ name: g.name, layer: g.layer, check: allow }));
/** What the default leakage guard holds after each delta (text length -> characters), found by running it once. */
const HOLDS = new Map<number, number>();
const noopOutput = (chunk?: 'allow' | 'hold'): Guard[] =>
  defaults().output.map((g, k) => {
    const copy: Guard = { name: g.name, layer: g.layer, checkResponse: allow };
    if (chunk !== undefined && k === 1)
      copy.checkChunk =
        chunk === 'allow'
          ? allow
          : (acc: string): object => {
              const hold = HOLDS.get(acc.length) ?? 0;
              return hold > 0 ? { action: 'allow', holdChars: hold } : { action: 'allow' };
            };
    return copy;
  });
if (stream) {
  const leak = defaults().output.find((g) => g.layer === 'system_prompt_leakage') as Guard;
  const check = leak.checkChunk as (a: string, d: string, c: object) => { holdChars?: number };
  const spy: Guard = {
    ...leak,
    checkChunk: (acc: string, delta: string, ctx: object): unknown => {
      const d = check(acc, delta, ctx);
      HOLDS.set(acc.length, d.holdChars ?? 0);
      return d;
    },
  };
  await call(instrumentClient(make(), { events: new SecurityEvents(), guards: { output: [spy] } as never }));
}

class NoDurations extends LlmsecMetrics {
  override recordGuardrailDuration(): void {}
}
const TRIGGERS =
  /PRIVATE KEY-----|eyJ|sk-|gh[pousr]_|github_pat_|xox|AIza|AKIA|ASIA|bearer|@|\+|\d|ssn|social security/i;
const NEEDLES = ['PRIVATE KEY-----', 'eyJ', 'sk-ant-', 'sk-', 'xox', 'AIza', 'AKIA', '@', '+', ':'];
let sink = 0;
const PROBES: Record<string, (t: string) => void> = {
  detectSensitive: (t) => {
    sink += detectSensitive(t, { piiMaxChars: 65536 }).length;
  },
  'one regex test': (t) => {
    sink += TRIGGERS.test(t) ? 1 : 0;
  },
  'a character loop': (t) => {
    let m = 0;
    for (let i = 0; i < t.length; i++) m |= 1 << (t.charCodeAt(i) & 31);
    sink += m;
  },
  'ten includes': (t) => {
    for (const n of NEEDLES) sink += t.includes(n) ? 1 : 0;
  },
};

/** Name -> guards (undefined: none) and whether the duration records are no-ops. */
const configs: Record<string, { guards?: GuardSet; noRecords?: boolean }> = { 'no guards': {} };
if (has('parts')) {
  configs['no guards, no-record metrics'] = { noRecords: true };
  configs['one no-op input guard'] = { guards: { input: noopInput().slice(0, 1) } };
  configs['no-op input guards'] = { guards: { input: noopInput() } };
  configs['no-op input guards, no records'] = { guards: { input: noopInput() }, noRecords: true };
  configs['no-op output guards'] = { guards: { output: noopOutput() } };
  for (const k of [0, 1, 2]) {
    const i = defaults().input[k] as Guard;
    configs[`real input ${i.name}, others no-op`] = {
      guards: { input: noopInput().map((g, j) => (j === k ? i : g)) },
    };
    const o = defaults().output[k] as Guard;
    configs[`real output ${o.name}, others no-op`] = {
      guards: { output: noopOutput().map((g, j) => (j === k ? o : g)) },
    };
  }
}
if (has('probes'))
  for (const [name, f] of Object.entries(PROBES))
    configs[`output probe: ${name}`] = {
      guards: {
        output: noopOutput().map((g, j) =>
          j === 0 ? { ...g, checkResponse: (o: { text: string }) => (f(o.text), allow()) } : g,
        ),
      },
    };
if (stream && has('leakage')) {
  const k = defaults().output.findIndex((g) => g.layer === 'system_prompt_leakage');
  const real = defaults().output[k] as Guard;
  const chunk = real.checkChunk as (a: string, d: string, c: object) => { action: string };
  const parts: Record<string, Partial<Guard>> = {
    'chunk checks only': { checkChunk: real.checkChunk },
    'chunk checks only, holds dropped': {
      checkChunk: (a: string, d: string, c: object): object => {
        const r = chunk(a, d, c);
        return r.action === 'allow' ? { action: 'allow' } : r;
      },
    },
    'end check only': { checkResponse: real.checkResponse },
    'chunk and end checks': { checkChunk: real.checkChunk, checkResponse: real.checkResponse },
  };
  for (const [name, part] of Object.entries(parts))
    configs[`leakage ${name}, inputs real`] = {
      guards: {
        input: defaults().input,
        output: noopOutput().map((g, j) => (j === k ? { ...g, ...part } : g)),
      },
    };
}
if (!has('defaults-only')) {
  configs['input guards only'] = { guards: { input: defaults().input } };
  configs['+ no-op output guards, end only'] = { guards: { input: defaults().input, output: noopOutput() } };
  if (stream) {
    configs['+ no-op chunk check'] = { guards: { input: defaults().input, output: noopOutput('allow') } };
    configs['+ no-op chunk check holding as the default'] = {
      guards: { input: defaults().input, output: noopOutput('hold') },
    };
  }
  configs['default guards, no chunk checks'] = {
    guards: {
      input: defaults().input,
      output: defaults().output.map(
        (x) => Object.fromEntries(Object.entries(x).filter(([k]) => k !== 'checkChunk')) as Guard,
      ),
    },
  };
}
configs['default guards'] = { guards: defaults() };

const clients: Record<string, OpenAI> = {};
for (const [name, { guards, noRecords }] of Object.entries(configs))
  clients[name] = instrumentClient(make(), {
    events: noRecords ? new SecurityEvents({ metrics: new NoDurations() }) : new SecurityEvents(),
    ...(guards === undefined ? {} : { guards: guards as never }),
  });
if (baseDir !== undefined) {
  const b = {
    ...((await import(baseUrl('instrumentation/index.ts'))) as { instrumentClient: typeof instrumentClient }),
    ...((await import(baseUrl('security-events.ts'))) as { SecurityEvents: typeof SecurityEvents }),
    ...((await import(baseUrl('guards/index.ts'))) as { defaultGuards: typeof defaultGuards }),
  };
  clients['[base] no guards'] = b.instrumentClient(make(), { events: new b.SecurityEvents() });
  clients['[base] default guards'] = b.instrumentClient(make(), {
    events: new b.SecurityEvents(),
    guards: b.defaultGuards({ allowedTools: ['get_weather'] }),
  });
}

const names = Object.keys(clients);
for (let i = 0; i < WARM; i++) for (const n of names) await call(clients[n] as OpenAI);
const per: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < CALLS; r++)
  for (const n of [...names].sort(() => Math.random() - 0.5)) {
    const t0 = performance.now();
    await call(clients[n] as OpenAI);
    per[n]?.push((performance.now() - t0) * 1000);
  }
const q = (d: number[], f: number): number => d[Math.floor((d.length - 1) * f)] as number;
const none = median(per['no guards'] as number[]);
const lines = [
  `the guards in the instrumented call by part${stream ? ', stream: true (8 content deltas)' : ''}, node ${process.version}: ${WARM} calls of warm-up each, ${CALLS} calls each timed alone, interleaved; wall clock per call (us): median (q1 .. q3), median minus no guards'`,
];
for (const n of names) {
  const d = [...(per[n] as number[])].sort((a, b) => a - b);
  lines.push(
    `  ${n.padEnd(48)} ${median(d).toFixed(1).padStart(7)} (${q(d, 0.25).toFixed(1)} .. ${q(d, 0.75).toFixed(1)})  ${(median(d) - none >= 0 ? '+' : '') + (median(d) - none).toFixed(1)}`,
  );
}
if (stream)
  lines.push(`  held by the default leakage guard (text length, characters): ${JSON.stringify([...HOLDS])}`);
process.stdout.write(`${lines.join('\n')}\n${sink === -1 ? '' : ''}`);
process.exit(0);
