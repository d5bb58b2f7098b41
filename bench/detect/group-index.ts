// A group table's key lookup alone: Map<string, number> against GroupIndex (group-index.ts),
// as the group read-ahead asks, 16 keys a batch, each a fresh string made outside the timed
// part (fresh-ids.ts: real input brings a new string per event). `npx node
// --conditions=@llmsec/source bench/detect/group-index.ts [--keys=N] [--uuid]`: N keys held
// (default 100,000), `--uuid`: ids of 36 characters instead of `user-<n>`. Prints the CPU ns
// per lookup, median of 7 rounds per way (the ways in turn, their order alternating): `map`
// (Map.get per key), `index` (GroupIndex in the read-ahead's steps: every key's hash, then
// every first slot, then every compare), `index one by one` (hash and find per key), and `hash`
// (the hashing alone).
import { GroupIndex } from '../../packages/detect/src/group-index.ts';
import { median } from '../report.ts';

const N = Number(process.argv.find((a) => a.startsWith('--keys='))?.slice(7) ?? 100_000);
const UUID = process.argv.includes('--uuid');
const BATCH = 16;
const LOOKUPS = 1_000_000;
const CHUNK = 20_000;

function idOf(i: number): string {
  if (!UUID) return `user-${i}`;
  const h = Math.imul(i, 0x9e3779b1) >>> 0;
  return `${h.toString(16).padStart(8, '0')}-1234-4abc-8def-${i.toString(16).padStart(12, '0')}`;
}
/** A new string of the same text (latin1 both ways: the ids are ASCII). */
const fresh = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

// The tables' own keys are fresh copies too (as the first event of each user leaves them).
const keys = Array.from({ length: N }, (_, i) => fresh(idOf(i)));
const map = new Map<string, number>();
keys.forEach((k, i) => map.set(k, i));
const index = new GroupIndex(keys);
keys.forEach((k, i) => index.insert(index.hash(k), i));

let state = 12345;
const which = Array.from({ length: LOOKUPS }, () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return Math.floor((state / 2 ** 32) * N);
});
const shared = Array.from({ length: N }, (_, i) => idOf(i));
let expected = 0;
for (const w of which) expected += w;

type Way = 'map' | 'index' | 'index one by one' | 'hash';
const hashes = new Int32Array(BATCH);
const batch: string[] = new Array<string>(BATCH).fill('');

function run(way: Way): number {
  let spent = 0;
  let check = 0;
  let sink = 0;
  const strings: string[] = new Array<string>(CHUNK);
  for (let from = 0; from < LOOKUPS; from += CHUNK) {
    for (let i = 0; i < CHUNK; i++) strings[i] = fresh(shared[which[from + i]!]!);
    const start = process.threadCpuUsage();
    for (let b = 0; b < CHUNK; b += BATCH) {
      if (way === 'map') {
        for (let k = 0; k < BATCH; k++) check += map.get(strings[b + k]!)!;
      } else if (way === 'hash') {
        for (let k = 0; k < BATCH; k++) sink ^= index.hash(strings[b + k]!);
      } else if (way === 'index one by one') {
        for (let k = 0; k < BATCH; k++) {
          const key = strings[b + k]!;
          check += index.find(key, index.hash(key));
        }
      } else {
        for (let k = 0; k < BATCH; k++) {
          batch[k] = strings[b + k]!;
          hashes[k] = index.hash(batch[k]);
        }
        for (let k = 0; k < BATCH; k++) sink += index.peek(hashes[k]!);
        for (let k = 0; k < BATCH; k++) check += index.find(batch[k]!, hashes[k]!);
      }
    }
    const u = process.threadCpuUsage(start);
    spent += (u.user + u.system) * 1000;
  }
  if (way !== 'hash' && check !== expected) throw new Error(`${way}: wrong rows`);
  if (sink === 0.5) console.log(sink);
  return spent / LOOKUPS;
}

const ways: Way[] = ['map', 'index', 'index one by one', 'hash'];
const ns = new Map<Way, number[]>(ways.map((w) => [w, []]));
for (let r = 0; r < 7; r++) {
  for (const way of r % 2 === 0 ? ways : [...ways].reverse()) ns.get(way)!.push(run(way));
}
console.log(
  `${N.toLocaleString('en-US')} keys (${UUID ? '36-character ids' : 'user-<n>'}), ${BATCH} lookups a batch, fresh strings: CPU ns per lookup, median of 7 rounds`,
);
const mapNs = median(ns.get('map')!);
for (const way of ways) {
  const m = median(ns.get(way)!);
  console.log(`${way.padEnd(18)} ${m.toFixed(0).padStart(5)} ns   map / this ${(mapNs / m).toFixed(2)}x`);
}
