/**
 * Event ids: CPU per `eventId()` of core's crypto-backed generator against the one it replaced
 * (a new `randomBytes(2048)` per 341 ids, copied here as it was at 76b59a7), in one process,
 * alternating rounds in a random order (issue 13, fourth round; bench/events/README.md):
 *
 *   npx node --conditions=@llmsec/source bench/events/ids.ts [--rounds 30]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createIdGenerator } from '@llmsec/core';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '30' } } });
const ROUNDS = Number(values.rounds);
const IDS_PER_ROUND = 200_000;

/** The generator before: a 2,048-byte randomBytes per refill. */
function before(): () => string {
  let pool = '';
  let at = 0;
  const hex = (n: number): string => {
    if (pool.length - at < n) {
      pool = randomBytes(Math.max(2048, n)).toString('hex');
      at = 0;
    }
    at += n;
    return pool.slice(at - n, at);
  };
  return () => `EVT-${hex(12)}`;
}

const now = createIdGenerator();
const CASES: Record<string, () => string> = { before: before(), now: () => now.eventId() };
const names = Object.keys(CASES);
let sink = '';
function measure(next: () => string): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < IDS_PER_ROUND; i++) sink = next();
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / IDS_PER_ROUND;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const results = new Map<string, number[]>(names.map((n) => [n, []]));
for (const n of names) for (let k = 0; k < 3; k++) measure(CASES[n]!);
for (let r = 0; r < ROUNDS; r++) {
  const order = Math.random() < 0.5 ? names : [...names].reverse();
  for (const n of order) results.get(n)!.push(measure(CASES[n]!));
}
const base = results.get('before')!;
console.log(
  `${ROUNDS} rounds x ${IDS_PER_ROUND} ids; CPU ns per id, and now / before (median of per-round ratios)`,
);
for (const n of names) {
  const xs = results.get(n)!;
  console.log(
    `${n.padEnd(8)} ${median(xs).toFixed(1).padStart(6)} ns  ${median(xs.map((x, k) => x / base[k]!)).toFixed(2)}x`,
  );
}
if (!/^EVT-[0-9a-f]{12}$/.test(sink)) throw new Error(`unexpected id ${sink}`);
