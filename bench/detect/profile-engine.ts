// The engine alone on the replay mix, for a CPU profile:
//   npx node --conditions=@llmsec/source --cpu-prof --cpu-prof-dir=/tmp/prof bench/detect/profile-engine.ts --users=100000 [--object]
// (`--object`: every rule on object states, the engine before the slab; `--read-ahead=off|always`:
// the group read-ahead off, or on whatever the tables' sizes, instead of on from
// PREFETCH_MIN_GROUPS groups; `--request-rules`: only the default rules that read
// request_completed, as engine-ab.ts; `--same-strings`: the generator's one user-id string per
// user on every event instead of a fresh string per event as real input brings, fresh-ids.ts).
// Prints CPU ns per event (the ids' making left out; in the profile it is FreshUserIds.fresh).
import { DetectionEngine, defaultRules } from '@llmsec/detect';
import { OBJECT_STATE_ONLY } from '../../packages/detect/src/engine.ts';
import { NO_PREFETCH, PREFETCH_ALWAYS } from '../../packages/detect/src/group-prefetch.ts';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { FreshUserIds, ingestChunks } from './fresh-ids.ts';
import { TrafficGenerator } from './gen.ts';

/** Garbage collection pauses (ms) while a run is measured. */
let gcMs = 0;
let measuring = false;
new PerformanceObserver((list) => {
  if (measuring) for (const e of list.getEntries() as PerformanceEntry[]) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const users = Number(arg('users') ?? 100_000);
const total = Number(arg('events') ?? 1_000_000);
const object = process.argv.includes('--object');
const readAhead = arg('read-ahead') ?? 'auto';
if (!['auto', 'off', 'always'].includes(readAhead))
  throw new Error(`--read-ahead=off|always, got ${readAhead}`);
const readAheadOption =
  readAhead === 'off' ? { [NO_PREFETCH]: true } : readAhead === 'always' ? { [PREFETCH_ALWAYS]: true } : {};
const rules = process.argv.includes('--request-rules')
  ? defaultRules().filter((r) => r.match.categories.includes('request_completed'))
  : undefined;
const events = new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 }).chunk(total);
const sameStrings = process.argv.includes('--same-strings');
const ids = sameStrings ? undefined : new FreshUserIds(events);
for (let r = 0; r < 3; r++) {
  const engine = new DetectionEngine({
    ...(rules ? { rules } : {}),
    onAlert: () => {},
    ...(object ? { [OBJECT_STATE_ONLY]: true } : {}),
    ...readAheadOption,
  });
  gcMs = 0;
  measuring = true;
  const ns = ingestChunks(engine, events, ids, true);
  // GC entries are delivered asynchronously: let them arrive before reading the sum.
  await new Promise((resolve) => setTimeout(resolve, 50));
  measuring = false;
  console.log(
    `${object ? 'object' : 'slab'} read-ahead ${readAhead} ${users} users, ${sameStrings ? 'same' : 'fresh'} id strings: ${(ns / total).toFixed(0)} CPU ns/event, GC pauses ${((gcMs * 1e6) / total).toFixed(0)} ns/event`,
  );
}
