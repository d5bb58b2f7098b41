/**
 * The default guards' added time per call read window by window, beside the speed of the plain
 * client in the same window (issue 13):
 *
 *   node --conditions=@llmsec/source bench/instrumentation/guards-windows.ts [--stream] [--windows 24] [--calls 1000] [--prompt-words 12]
 *
 * Three clients, interleaved call by call in a new random order each time as in
 * guards-call-parts.ts: the plain openai client, ours without guards and ours with the
 * default guards, each call timed alone (wall clock), the canned chat call of
 * bench:instrumentation. Each window of `--calls` calls per client prints the per-call median
 * of each and the guards' added time (guards minus no guards); no warm-up is left out, the
 * first windows show it. `--prompt-words N`: a system prompt of N words (canned-client.ts
 * chatBody; the default, 12, is the canned call's own, so earlier figures stay comparable; a
 * usual application's is 100-500 words, and the leakage guard's work grows with it).
 *
 * Why: guards-call-parts.ts reads one window after a fixed warm-up, and on this shared
 * machine its figure followed how fast the machine ran in that window, not only the code
 * (2026-12-06, load 8-10, one run of this bench: windows where the plain call read 36-41 µs
 * had the guards add 6-9 µs non-streamed, windows where it read 47-86 µs 11-22; docs/performance/sdk.md,
 * 'The figure follows the machine's speed'). The
 * summary therefore also gives the added time in the quietest third of the windows (ranked
 * by the plain client's median, from the fourth window on) and the added time as a share of
 * the plain call, which moved less than the microseconds did.
 */
import OpenAI from 'openai';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { cannedCall, cannedClient, chatBody } from './canned-client.ts';
import { median } from '../report.ts';
import { installDiscardingProviders } from './otel-providers.ts';
import { LocalHistograms } from '../../packages/sdk/src/local-histograms.ts';
import { SecurityEvents } from '../../packages/sdk/src/security-events.ts';
import { instrumentClient } from '../../packages/sdk/src/instrumentation/index.ts';
import { defaultGuards } from '../../packages/sdk/src/guards/index.ts';

const { values } = parseArgs({
  options: {
    stream: { type: 'boolean', default: false },
    windows: { type: 'string', default: '24' },
    calls: { type: 'string', default: '1000' },
    'prompt-words': { type: 'string', default: '12' },
  },
});
const stream = values.stream;
const windows = Number(values.windows);
const calls = Number(values.calls);
if (!Number.isInteger(windows) || windows < 4) throw new Error('--windows must be an integer >= 4');
if (!Number.isInteger(calls) || calls < 1) throw new Error('--calls must be a positive integer');
const promptWords = Number(values['prompt-words']);
if (!Number.isInteger(promptWords) || promptWords < 12)
  throw new Error('--prompt-words must be an integer >= 12 (the canned prompt has 12)');
const body = chatBody(promptWords);

installDiscardingProviders(LocalHistograms);

const make = (): OpenAI => cannedClient(stream);
const call = (c: OpenAI): Promise<void> => cannedCall(c, stream, body);

const clients = {
  plain: make(),
  none: instrumentClient(make(), { events: new SecurityEvents() }),
  guards: instrumentClient(make(), {
    events: new SecurityEvents(),
    guards: defaultGuards({ allowedTools: ['get_weather'] }),
  }),
};
type Name = keyof typeof clients;
const names = Object.keys(clients) as Name[];

interface Window {
  plain: number;
  none: number;
  guards: number;
}
const rows: Window[] = [];
const f = (n: number): string => n.toFixed(1);
process.stdout.write(
  `default guards window by window${stream ? ', stream: true (8 content deltas)' : ''}, ` +
    `system prompt ${promptWords} words, node ${process.version}, ` +
    `${calls} calls per client a window; per-call medians (us)\n`,
);
for (let w = 0; w < windows; w++) {
  const per: Record<Name, number[]> = { plain: [], none: [], guards: [] };
  for (let i = 0; i < calls; i++) {
    for (const n of [...names].sort(() => Math.random() - 0.5)) {
      const t0 = performance.now();
      await call(clients[n]);
      per[n].push((performance.now() - t0) * 1000);
    }
  }
  const row = { plain: median(per.plain), none: median(per.none), guards: median(per.guards) };
  rows.push(row);
  process.stdout.write(
    `  window ${String(w + 1).padStart(2)}  plain ${f(row.plain).padStart(6)}  no guards ${f(row.none).padStart(6)}  ` +
      `default guards ${f(row.guards).padStart(6)}  added ${f(row.guards - row.none).padStart(5)}  load ${(loadavg()[0] ?? 0).toFixed(1)}\n`,
  );
}

// The first three windows hold the warm-up (JIT tiers, heap growth): left out of the summary.
const settled = rows.slice(3);
const added = (r: Window): number => r.guards - r.none;
const byPlain = [...settled].sort((a, b) => a.plain - b.plain);
const quiet = byPlain.slice(0, Math.max(1, Math.floor(byPlain.length / 3)));
const range = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `${f(median(s))} (${f(s[0] as number)} .. ${f(s[s.length - 1] as number)})`;
};
process.stdout.write(
  `windows 4..${windows}: added ${range(settled.map(added))} us, ` +
    `plain ${range(settled.map((r) => r.plain))} us, added / plain ${range(settled.map((r) => (100 * added(r)) / r.plain))} %\n` +
    `quietest third (${quiet.length} windows by the plain median): added ${range(quiet.map(added))} us, ` +
    `plain ${range(quiet.map((r) => r.plain))} us\n`,
);
process.exit(0);
