/**
 * Our instrumentation beside its peers, as rows of `npm run bench:instrumentation`:
 * `@opentelemetry/instrumentation-openai`, `@traceloop/instrumentation-openai` (both need
 * openai < 7: they run on `openai-v6`, an npm alias of openai 6) and
 * `@arizeai/openinference-instrumentation-openai` (openai 7). The peers patch the client's
 * prototypes for a whole process, so every variant runs in its own child process
 * (peer-child.ts), one after another, in a new random order each round; each is compared
 * with the plain client of the same openai major measured in the same round (paired median
 * of the differences). Same call as the in-process table: chat with a canned `fetch`, real
 * OTel SDK providers with batch processors; non-streaming, and with `stream: true` (10 SSE
 * chunks read to the end). Ours runs on openai 6 too, so that its added time and the official
 * instrumentation's are measured on the same client: the last line compares the two per round.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BASELINE, VARIANTS, type ChildResult, type Variant } from './peer-variants.ts';
import { median } from '../report.ts';

const CHILD = fileURLToPath(new URL('./peer-child.ts', import.meta.url));

const WHAT: Record<Variant, string> = {
  'openai 7, plain': 'nothing',
  'llmsec, no guards': 'span, request_completed (span event + log record), llmsec + GenAI metrics',
  'llmsec, default guards': 'as above + 4 guards (input and output) and their duration metric',
  'openinference 4.2.7': 'span with input/output values (content on by default)',
  'openai 6, plain': 'nothing',
  'llmsec, no guards (openai 6)': 'as llmsec, no guards',
  'otel instrumentation-openai 0.22.0': 'span, GenAI event log records, GenAI metrics',
  'traceloop 0.27.0': 'span with prompts and completions (content on by default)',
  'llmsec, no guards, beside guards': 'as llmsec, no guards; a guarded client called in the same process',
  'llmsec, default guards, beside no guards':
    'as llmsec, default guards; an unguarded client called in the same process',
};

/** A new random order (Fisher–Yates). */
export function shuffle<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export function runPeers(options: {
  rounds: number;
  calls: number;
  warmup: number;
  stream: boolean;
  /** Default: VARIANTS. Each variant's BASELINE must be among them. */
  variants?: readonly Variant[];
}): string[] {
  const variants = options.variants ?? VARIANTS;
  // Checked before any child runs (e.g. --peer-official-only with --peer-crosstalk, whose
  // variants are compared with openai 7), not a TypeError after the rounds.
  for (const v of variants)
    if (!variants.includes(BASELINE[v]))
      throw new Error(`runPeers: ${v} is compared with ${BASELINE[v]}, which is not among the variants`);
  const series = new Map<Variant, ChildResult[]>(variants.map((v) => [v, []]));
  const load0 = loadavg()[0] ?? 0;
  for (let r = 0; r < options.rounds; r++) {
    for (const variant of shuffle([...variants])) {
      const child = spawnSync(
        process.execPath,
        [
          ...process.execArgv,
          CHILD,
          variant,
          String(options.calls),
          String(options.warmup),
          options.stream ? 'stream' : 'plain',
        ],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.status !== 0 || !line.startsWith('{'))
        throw new Error(`peer-child ${variant} failed: ${child.stderr.slice(-2000)}`);
      series.get(variant)?.push(JSON.parse(line) as ChildResult);
    }
  }
  const lines = [
    '',
    `[peers: one process per variant, ${options.rounds} rounds in random order, ${options.calls} calls after ${options.warmup} warm-up; canned fetch${options.stream ? ', stream: true (10 chunks, read to the end)' : ', non-streaming'}; load average ${load0.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}]`,
    `  ${'variant'.padEnd(36)} ${'cpu us/call'.padStart(11)} ${'added cpu'.padStart(10)} ${'x base'.padStart(7)} ${'wall us/call'.padStart(12)} ${'added wall'.padStart(10)}  per call: spans/attrs/events, logs, metric points`,
  ];
  for (const variant of variants) {
    const mine = series.get(variant) as ChildResult[];
    const base = series.get(BASELINE[variant]) as ChildResult[];
    const cpu = median(mine.map((x) => x.cpuUs));
    const wall = median(mine.map((x) => x.wallUs));
    const addedCpu = median(mine.map((x, k) => x.cpuUs - (base[k] as ChildResult).cpuUs));
    const addedWall = median(mine.map((x, k) => x.wallUs - (base[k] as ChildResult).wallUs));
    const ratio = cpu / median(base.map((x) => x.cpuUs));
    const last = mine[mine.length - 1] as ChildResult;
    const emits = `${last.spansPerCall}/${last.spanAttributes}/${last.spanEvents}, ${last.logsPerCall}, ${last.metricPoints} (${WHAT[variant]})`;
    const isBase = BASELINE[variant] === variant;
    lines.push(
      `  ${variant.padEnd(36)} ${cpu.toFixed(1).padStart(11)} ${(isBase ? 'base' : addedCpu.toFixed(1)).padStart(10)} ${(isBase ? '' : `x${ratio.toFixed(2)}`).padStart(7)} ${wall.toFixed(1).padStart(12)} ${(isBase ? 'base' : addedWall.toFixed(1)).padStart(10)}  ${emits}`,
    );
  }
  lines.push(...guardLines(series));
  if (series.has('otel instrumentation-openai 0.22.0')) lines.push(sameClientLine(series));
  return lines;
}

/** Median and quartiles of `a - b`, round by round, in process CPU and in the main thread's CPU. */
function paired(a: ChildResult[], b: ChildResult[]): string {
  const one = (f: (x: ChildResult) => number): string => {
    const d = a.map((x, k) => f(x) - f(b[k] as ChildResult)).sort((p, q) => p - q);
    const q = (p: number): number => d[Math.floor((d.length - 1) * p)] as number;
    return `${median(d).toFixed(1)} us (IQR ${q(0.25).toFixed(1)} .. ${q(0.75).toFixed(1)})`;
  };
  return `median ${one((x) => x.cpuUs)}; main thread ${one((x) => x.mainCpuUs)}`;
}

/**
 * What the default guards add on top of llmsec without guards, paired per round: the issue's
 * aim. The rows above give each variant's median against plain; the difference of two medians
 * is not the median of the differences. With --peer-crosstalk, the same pair where both
 * configurations share a process (as in the in-process benches).
 */
function guardLines(series: Map<Variant, ChildResult[]>): string[] {
  const out: string[] = [];
  const pair = (a: Variant, b: Variant, label: string): void => {
    const x = series.get(a);
    const y = series.get(b);
    if (x !== undefined && y !== undefined) out.push(`  ${label}: ${paired(x, y)}`);
  };
  pair(
    'llmsec, default guards',
    'llmsec, no guards',
    'default guards on top of no guards, one configuration per process, paired per round',
  );
  pair(
    'llmsec, default guards, beside no guards',
    'llmsec, no guards, beside guards',
    'the same, both configurations in each process (as in-process benches)',
  );
  pair(
    'llmsec, no guards, beside guards',
    'llmsec, no guards',
    'no guards: beside a guarded client minus alone',
  );
  pair(
    'llmsec, default guards, beside no guards',
    'llmsec, default guards',
    'default guards: beside an unguarded client minus alone',
  );
  return out;
}

/**
 * Ours and the official instrumentation on the same client (openai 6): the difference of their
 * CPU per call, round by round, in process CPU and in the main thread's (where the calls run;
 * process CPU also carries the JIT's and GC's helper threads).
 */
function sameClientLine(series: Map<Variant, ChildResult[]>): string {
  const ours = series.get('llmsec, no guards (openai 6)') as ChildResult[];
  const official = series.get('otel instrumentation-openai 0.22.0') as ChildResult[];
  const plain = series.get('openai 6, plain') as ChildResult[];
  const added = (xs: ChildResult[]): number =>
    median(xs.map((x, k) => x.cpuUs - (plain[k] as ChildResult).cpuUs));
  return `  same client (openai 6): llmsec no guards adds ${added(ours).toFixed(1)} us CPU, the official instrumentation ${added(official).toFixed(1)} (x${(added(ours) / added(official)).toFixed(2)}); ours minus official, paired per round: ${paired(ours, official)}`;
}
