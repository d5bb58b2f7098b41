// Where the engine's time goes with many users: new groups against held ones
// (`npx node --conditions=@llmsec/source --expose-gc bench/detect/first-touch.ts [--users=N] [--rounds=N]
// [--same-strings]`; user ids as fresh strings per event unless `--same-strings`: fresh-ids.ts).
// A fresh engine (default rules) takes 1 M events of the replay mix (phase "new": with 100,000
// users nearly every user's group is created in it, its rows and pages first written), then
// 1 M more of the same users ("held": the tables full, the same random order of users, so the
// same cache misses per event but no group created). Per phase: main-thread CPU ns per event
// and the process's minor page faults per 1,000 events (memory first touched: the kernel
// zeroes, and in a VM the host backs, each 4 KB page). Then the difference new - held per
// round (the price of creating the groups), the heap the groups hold, the slab's share of a
// group (SlabStore strides) and what a page first touched costs on this machine (64 MB written
// a page at a time). The machine is shared: medians of the rounds, load printed.
import { loadavg } from 'node:os';
import { DetectionEngine } from '@llmsec/detect';
import type { GroupTable } from '../../packages/detect/src/group-table.ts';
import { fmt, median, table } from '../report.ts';
import { FreshUserIds, ingestChunks } from './fresh-ids.ts';
import { TrafficGenerator } from './gen.ts';

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const users = Number(arg('users') ?? 100_000);
const rounds = Number(arg('rounds') ?? 3);
const PHASE = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;

const gen = new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 });
const sameStrings = process.argv.includes('--same-strings');
const phases = [
  { name: 'new', events: gen.chunk(PHASE) },
  { name: 'held', events: gen.chunk(PHASE) },
].map((p) => ({ ...p, ids: sameStrings ? undefined : new FreshUserIds(p.events) }));

interface PhaseFigures {
  ns: number[];
  faultsPer1k: number[];
}
const figures = phases.map((): PhaseFigures => ({ ns: [], faultsPer1k: [] }));
const heapPerGroup: number[] = [];
let groups = 0;
let slab = '';
const load: number[] = [];

// Outside the loop, emptied before each round's collection: a loop-scoped engine may still be
// held by a stack slot there, and the heap measured before a round would count it.
let engine: DetectionEngine | undefined;
for (let r = 0; r < rounds; r++) {
  engine = undefined;
  gc?.();
  load.push(loadavg()[0]!);
  const heapBefore = process.memoryUsage().heapUsed;
  engine = new DetectionEngine({ onAlert: () => {} });
  for (const [i, { events, ids }] of phases.entries()) {
    const faults = process.resourceUsage().minorPageFault;
    figures[i]!.ns.push(ingestChunks(engine, events, ids, false) / events.length);
    figures[i]!.faultsPer1k.push(((process.resourceUsage().minorPageFault - faults) * 1000) / events.length);
    if (i === 0) {
      gc?.();
      groups = engine.groupCount;
      heapPerGroup.push((process.memoryUsage().heapUsed - heapBefore) / groups);
      const tables = (engine as unknown as { tables: GroupTable[] }).tables;
      const store = tables.find((t) => t.slab !== undefined)?.slab;
      if (store !== undefined) {
        const rows = (lanes: typeof store.lanes): string =>
          lanes.map((l) => `${l.stride} doubles (${l.rows} rows)`).join(', ');
        slab = `lanes of ${rows(store.lanes)}; rings apart of ${rows(store.rings)}; ${store.strStride} string slots a group`;
      }
    }
  }
  engine.flush();
}

const pageUs = firstTouchUsPerPage();
console.log(
  `Engine, default rules, replay mix, ${fmt(users)} users (${sameStrings ? 'the same' : 'a fresh'} id string per event): ${fmt(PHASE)} events creating the groups, then ${fmt(PHASE)} more on them; median of ${rounds} rounds, load ${load.map((l) => l.toFixed(1)).join(', ')}`,
);
table(
  ['phase', 'CPU ns/event', 'page faults per 1k events'],
  phases.map(({ name }, i) => [
    name,
    fmt(median(figures[i]!.ns)),
    median(figures[i]!.faultsPer1k).toFixed(1),
  ]),
);
const paired = figures[0]!.ns.map((ns, i) => ns - figures[1]!.ns[i]!);
console.log(
  `new - held, paired by round: median ${fmt(median(paired))} ns/event (${paired.map(fmt).join(', ')})`,
);
console.log(
  `groups held after "new": ${fmt(groups)}; heap per group ${fmt(median(heapPerGroup))} B (all tables); user table slab: ${slab}`,
);
// Process-wide faults and CPU (GC helper threads fault too), so an order of magnitude for the
// faults above, not a part of the main thread's ns to subtract.
console.log(
  `a 4 KB page first touched costs ${pageUs.toFixed(1)} µs of CPU here (64 MB written a page at a time)`,
);

/** CPU µs per page of memory first touched (fresh buffers, one write per 4 KB page). */
function firstTouchUsPerPage(): number {
  const pages = 16_384;
  const start = process.cpuUsage();
  const faults = process.resourceUsage().minorPageFault;
  const held: Buffer[] = [];
  for (let i = 0; i < pages / 256; i++) {
    const b = Buffer.allocUnsafeSlow(256 * 4096);
    for (let j = 0; j < b.length; j += 4096) b[j] = 1;
    held.push(b);
  }
  const cpu = process.cpuUsage(start);
  const touched = Math.max(1, process.resourceUsage().minorPageFault - faults);
  return (cpu.user + cpu.system) / touched;
}
