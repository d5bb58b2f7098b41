/**
 * Why the default guards' added time in a streamed call reads +17-19 us as a per-call median
 * (guards-call-parts.ts --stream --defaults-only) and +40-46 us as CPU per call in the peer table
 * (issue 13): the same two clients (no guards, default guards), the same streamed canned call,
 * and every reading of it side by side in one run.
 *
 *   node --conditions=@llmsec/source --expose-gc bench/instrumentation/stream-gap.ts [--calls 4000] [--warm 2000] [--only 'no guards'|'default guards'] [--alloc] [--no-stream]
 *
 * Per client: the wall clock of each call (median, mean, p90, p99, and the mean without the
 * calls a GC ran in), the main thread's CPU summed over its calls (process.threadCpuUsage is
 * tick-based for one call, unbiased summed over thousands), and the GC time that fell inside
 * its calls (PerformanceObserver 'gc' entries, placed by their start time). Calls interleaved in
 * a new random order each round, as guards-call-parts.ts does; `--only` makes one client per
 * process, as the peer table does. `--alloc` (needs --expose-gc and a large young generation,
 * e.g. --max-semi-space-size=128): heap growth per call of each client over windows of 500
 * calls with no GC in them (a window a GC ran in is dropped), median of the windows.
 */
import OpenAI from 'openai';
import { PerformanceObserver } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { CHAT_BODY, cannedFetch, cannedStreamFetch } from './canned-chat.ts';
import { median } from '../report.ts';
import { installDiscardingProviders } from './otel-providers.ts';
import { LocalHistograms } from '../../packages/sdk/src/local-histograms.ts';
import { SecurityEvents } from '../../packages/sdk/src/security-events.ts';
import { instrumentClient } from '../../packages/sdk/src/instrumentation/index.ts';
import { defaultGuards } from '../../packages/sdk/src/guards/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}
const CALLS = arg('calls', 4000);
const WARM = arg('warm', 2000);
const stream = !process.argv.includes('--no-stream');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;

installDiscardingProviders(LocalHistograms);
const make = (guards: boolean): OpenAI =>
  instrumentClient(
    new OpenAI({
      apiKey: 'bench',
      baseURL: 'http://127.0.0.1:9/v1',
      maxRetries: 0,
      fetch: stream ? cannedStreamFetch : cannedFetch,
    }),
    {
      events: new SecurityEvents(),
      ...(guards ? { guards: defaultGuards({ allowedTools: ['get_weather'] }) } : {}),
    },
  );
async function call(c: OpenAI): Promise<void> {
  if (stream) for await (const _ of await c.chat.completions.create({ ...CHAT_BODY, stream: true }));
  else await c.chat.completions.create(CHAT_BODY);
}
const all: Record<string, OpenAI> = { 'no guards': make(false), 'default guards': make(true) };
if (only !== undefined && !(only in all)) throw new Error(`--only: one of ${Object.keys(all).join(', ')}`);
const names = only === undefined ? Object.keys(all) : [only];

const gcs: Array<{ start: number; end: number; kind: number }> = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gcs.push({
      start: e.startTime,
      end: e.startTime + e.duration,
      kind: (e as unknown as { detail: { kind: number } }).detail.kind,
    });
});
obs.observe({ entryTypes: ['gc'] });
const flushGc = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

for (let i = 0; i < WARM; i++) for (const n of names) await call(all[n] as OpenAI);

const load0 = loadavg()[0] ?? 0;
type Call = { t0: number; t1: number };
const calls: Record<string, Call[]> = Object.fromEntries(names.map((n) => [n, []]));
await flushGc();
gcs.length = 0;
const win0 = { main: process.threadCpuUsage(), proc: process.cpuUsage(), wall: performance.now() };
for (let r = 0; r < CALLS; r++)
  for (const n of [...names].sort(() => Math.random() - 0.5)) {
    const t0 = performance.now();
    await call(all[n] as OpenAI);
    calls[n]?.push({ t0, t1: performance.now() });
  }
const win = {
  main: process.threadCpuUsage(win0.main),
  proc: process.cpuUsage(win0.proc),
  wall: performance.now() - win0.wall,
};
await flushGc();
obs.disconnect();

// Each GC placed in the call it started in (calls are sequential, so a binary search by start).
const order = names
  .flatMap((n) => (calls[n] as Call[]).map((c) => ({ n, ...c })))
  .sort((a, b) => a.t0 - b.t0);
const gcIn = new Map<(typeof order)[number], { ms: number; count: number }>();
for (const g of gcs) {
  let lo = 0;
  let hi = order.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((order[mid] as Call).t0 <= g.start) lo = mid;
    else hi = mid - 1;
  }
  const c = order[lo];
  if (c === undefined || g.start < c.t0 || g.start > c.t1) continue;
  const s = gcIn.get(c) ?? { ms: 0, count: 0 };
  s.ms += g.end - g.start;
  s.count += 1;
  gcIn.set(c, s);
}
const q = (d: number[], f: number): number => d[Math.floor((d.length - 1) * f)] as number;
const mean = (d: number[]): number => d.reduce((a, b) => a + b, 0) / d.length;
const lines = [
  `stream-gap: ${stream ? 'streamed' : 'non-streamed'}, ${only === undefined ? 'both clients interleaved' : `${only} alone`}, node ${process.version}, ${WARM} warm-up + ${CALLS} timed calls each, load ${load0.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}`,
  `  ${'client'.padEnd(16)} ${'median'.padStart(7)} ${'mean'.padStart(7)} ${'p90'.padStart(7)} ${'p99'.padStart(7)} ${'mean-noGC'.padStart(9)} ${'GC us/call'.padStart(10)} ${'GCs/1k'.padStart(7)}  (wall us)`,
];
const stats: Record<string, number[]> = {};
const W = [7, 7, 7, 7, 9, 10];
for (const n of names) {
  const own = order.filter((c) => c.n === n);
  const d = own.map((c) => (c.t1 - c.t0) * 1000).sort((a, b) => a - b);
  const noGc = own.filter((c) => !gcIn.has(c)).map((c) => (c.t1 - c.t0) * 1000);
  let gcMs = 0;
  let gcN = 0;
  for (const c of own) {
    const s = gcIn.get(c);
    if (s !== undefined) {
      gcMs += s.ms;
      gcN += s.count;
    }
  }
  const row = [
    median(d),
    mean(d),
    q(d, 0.9),
    q(d, 0.99),
    mean(noGc),
    (gcMs * 1000) / own.length,
    (gcN * 1000) / own.length,
  ];
  stats[n] = row;
  lines.push(
    `  ${n.padEnd(16)} ${row
      .slice(0, 6)
      .map((v, k) => v.toFixed(1).padStart(W[k] as number))
      .join(' ')} ${(row[6] as number).toFixed(1).padStart(7)}`,
  );
}
{
  // Every GC of the timed window by kind (1 scavenge, 2 minor mark-sweep, 4 mark-compact, 8 incremental
  // marking, 16 weak callbacks), wall ms: under load a pause's wall time includes preemption.
  const byKind = new Map<number, { n: number; ms: number; max: number }>();
  for (const g of gcs) {
    const k = byKind.get(g.kind) ?? { n: 0, ms: 0, max: 0 };
    k.n += 1;
    k.ms += g.end - g.start;
    k.max = Math.max(k.max, g.end - g.start);
    byKind.set(g.kind, k);
  }
  lines.push(
    `  GCs in the window: ${[...byKind].map(([k, v]) => `kind ${k}: ${v.n}, ${v.ms.toFixed(1)} ms (max ${v.max.toFixed(1)})`).join('; ')}`,
  );
}
{
  // The whole timed window, per call of any client: CPU counters are tick-based, so only
  // totals over many calls are read. Process minus main thread: the GC's helper threads and
  // the JIT's compiler threads (what the peer table's process CPU counts beside the calls).
  const n = CALLS * names.length;
  const us = (c: NodeJS.CpuUsage): number => (c.user + c.system) / n;
  lines.push(
    `  window per call: wall ${((win.wall * 1000) / n).toFixed(1)}, main-thread CPU ${us(win.main).toFixed(1)}, process CPU ${us(win.proc).toFixed(1)} (other threads ${(us(win.proc) - us(win.main)).toFixed(1)}), GC pauses ${((gcs.reduce((a, g) => a + g.end - g.start, 0) * 1000) / n).toFixed(1)} us wall`,
  );
}
if (names.length === 2) {
  const [a, b] = [stats['no guards'] as number[], stats['default guards'] as number[]];
  lines.push(
    `  ${'added'.padEnd(16)} ${b
      .slice(0, 6)
      .map((v, k) =>
        ((v - (a[k] as number) >= 0 ? '+' : '') + (v - (a[k] as number)).toFixed(1)).padStart(W[k] as number),
      )
      .join(' ')} ${((b[6] as number) - (a[6] as number)).toFixed(1).padStart(7)}`,
  );
}

if (process.argv.includes('--alloc')) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('--alloc needs --expose-gc');
  const WINDOW = 500;
  const per: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const seen: number[] = [];
  const o2 = new PerformanceObserver((l) => seen.push(l.getEntries().length));
  o2.observe({ entryTypes: ['gc'] });
  for (let w = 0; w < 12; w++)
    for (const n of [...names].sort(() => Math.random() - 0.5)) {
      gc();
      await flushGc();
      seen.length = 0;
      const h0 = process.memoryUsage().heapUsed;
      for (let i = 0; i < WINDOW; i++) await call(all[n] as OpenAI);
      const h1 = process.memoryUsage().heapUsed;
      await flushGc();
      if (seen.length === 0) per[n]?.push((h1 - h0) / WINDOW);
    }
  o2.disconnect();
  for (const n of names) {
    const d = per[n] as number[];
    lines.push(
      `  heap growth per call, ${n}: ${d.length === 0 ? 'every window had a GC (raise --max-semi-space-size)' : `${(median(d) / 1024).toFixed(2)} KB (${d.length} windows without a GC)`}`,
    );
  }
}
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
