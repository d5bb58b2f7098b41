// The middleware's token estimate, two trees A/B in one process (`npx node
// --conditions=@llmsec/source bench/ratelimit/estimate-ab.ts BEFORE_DIR [--rounds=N]`):
// BEFORE_DIR is another checkout (e.g. `git archive <rev> | tar -x -C /tmp/before` with
// node_modules linked); its packages/ratelimit/src/estimate/tokens.ts runs against this tree's.
// Two figures per body, each side's median over the rounds (alternating before/after):
// - CPU ms of one estimateTokens call (thread CPU time: the machine is shared). The same texts
//   are estimated again and again, so gpt-tokenizer's cache of pieces it has seen makes this
//   far below a first estimate's cost (~1.2 us a character unseen): it compares the two
//   sides' walk of the body, not the tokenizer;
// - the spread of the estimate: over the round's calls, the estimate / the exact count (each
//   text tokenized whole, in 4,000-character slices), as median and the 2.5th-97.5th
//   percentiles. Bodies past TOKENIZE_MAX_CHARS are sampled, so the spread is the figure that
//   says how far a reservation can be off; bodies under it are exact on both sides.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import * as after from '../../packages/ratelimit/src/estimate/tokens.ts';
import { loadEncoding } from '../../packages/ratelimit/src/estimate/tokenizer.ts';
import { drawn } from '../../packages/ratelimit/test/drawn-text.ts';
import { median } from '../report.ts';

const dir = process.argv[2];
if (dir === undefined || dir.startsWith('--')) {
  console.error('usage: estimate-ab.ts BEFORE_DIR [--rounds=N]');
  process.exit(2);
}
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 5);
const before = (await import(
  pathToFileURL(resolve(dir, 'packages/ratelimit/src/estimate/tokens.ts')).href
)) as typeof after;

const base64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const words = ['order', 'return', 'shipping', 'the', 'a', 'size', 'please', 'refund', 'when', 'my'];
const prose = (chars: number): string => {
  let text = '';
  for (let i = 0; text.length < chars; i++) text += `${words[(i * 7) % words.length]} `;
  return text.slice(0, chars);
};

const bodies: [name: string, text: string][] = [
  ['32 KiB prose (exact)', prose(32 << 10)],
  ['1 MiB prose', prose(1 << 20)],
  ['64 K dense + 400 K spaces', drawn(64_000, 7, base64) + ' '.repeat(400_000)],
  [
    '1 MiB: dense 512 every 8th piece',
    Array.from({ length: 2048 }, (_, i) => (i % 8 === 0 ? drawn(512, i + 1, base64) : ' '.repeat(512))).join(
      '',
    ),
  ],
];

const encoding = loadEncoding('o200k_base')!;
const exact = (text: string): number => {
  let total = 0;
  for (let i = 0; i < text.length; i += 4_000)
    total += encoding.countTokens(text.slice(i, i + 4_000), { disallowedSpecial: new Set() });
  return total;
};

const CALLS = 20;
function cpuMs(): number {
  const t = process.threadCpuUsage();
  return (t.user + t.system) / 1000;
}
/** One round of one side: CPU ms per call and each call's estimate / exact. */
function round(side: typeof after, text: string, truth: number): { ms: number; ratios: number[] } {
  const ratios: number[] = [];
  const t0 = cpuMs();
  for (let i = 0; i < CALLS; i++) ratios.push(side.estimateTokens(text, 'gpt-4o') / truth);
  return { ms: (cpuMs() - t0) / CALLS, ratios };
}

const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
};

console.log(`estimate A/B, ${rounds} rounds of ${CALLS} calls per side and body; ratio = after / before`);
console.log('body | CPU ms before | after | ratio | estimate/exact before (p2.5-p97.5) | after');
for (const [name, text] of bodies) {
  const truth = exact(text);
  const ms = { before: [] as number[], after: [] as number[] };
  const spread = { before: [] as number[], after: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const side of order) {
      const result = round(side === 'before' ? before : after, text, truth);
      ms[side].push(result.ms);
      spread[side].push(...result.ratios);
    }
  }
  const s = (v: number[]) =>
    `${median(v).toFixed(3)} (${pct(v, 0.025).toFixed(3)}-${pct(v, 0.975).toFixed(3)})`;
  console.log(
    `${name} | ${median(ms.before).toFixed(1)} | ${median(ms.after).toFixed(1)} | ${(median(ms.after) / median(ms.before)).toFixed(2)}x | ${s(spread.before)} | ${s(spread.after)}`,
  );
}
