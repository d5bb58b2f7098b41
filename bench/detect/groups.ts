// Group table benchmark (`npm run bench:detect:groups`, `-- --only=tables|incidents|engine`
// for one section): the per-group state table with more users than its cap (a flood of user
// ids), A/B in one process: the previous table (eviction by deleting the Map's first entry,
// bench/detect/group-table-v1.ts) and the current one alternate round by round on the same
// key sequence; the same for one rule's open incidents past maxOpenIncidentsPerRule (the
// previous Map order in bench/detect/open-incidents-v1.ts); then the whole engine at 1,000,
// 100,000 and 200,000 users (the default cap is 100,000 groups per rule), CPU per event.
import { DetectionEngine } from '@llmsec/detect';
import { OBJECT_STATE_ONLY } from '../../packages/detect/src/engine.ts';
import { NO_PREFETCH } from '../../packages/detect/src/group-prefetch.ts';
import { GroupTable } from '../../packages/detect/src/group-table.ts';
import { GroupTableV1 } from './group-table-v1.ts';
import { compileRule } from '../../packages/detect/src/compile.ts';
import { Incident } from '../../packages/detect/src/incident.ts';
import { OpenIncidents } from '../../packages/detect/src/open-incidents.ts';
import { OpenIncidentsV1 } from './open-incidents-v1.ts';
import { TrafficGenerator } from './gen.ts';

const QUICK = process.argv.includes('--quick');
/** `--only=tables|incidents|engine`: one section (all by default). */
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const wanted = (section: string): boolean => ONLY === undefined || ONLY === section;
const CAP = 100_000;

function cpuNs(since: NodeJS.CpuUsage): number {
  const u = process.threadCpuUsage(since);
  return (u.user + u.system) * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** A table under test: touch the key and write the first rule's state. */
type Touch = (key: string, value: number) => void;

/** CPU ns per touch over `keys` on a fresh table (10 rule slots per group, as with the 10 default rules). */
function timeTable(
  make: () => { touch: Touch; evicted: () => number },
  keys: string[],
): { ns: number; evicted: number } {
  const table = make();
  const start = process.threadCpuUsage();
  for (let i = 0; i < keys.length; i++) table.touch(keys[i]!, i);
  return { ns: cpuNs(start) / keys.length, evicted: table.evicted() };
}

function previous(): { touch: Touch; evicted: () => number } {
  const t = new GroupTableV1('user_id', CAP, 10);
  return { touch: (key, value) => void (t.touch(key)[0] = value), evicted: () => t.evicted };
}

function current(): { touch: Touch; evicted: () => number } {
  const t = new GroupTable('user_id', CAP, 10);
  return { touch: (key, value) => void (t.stateRow(t.touch(key))[0] = value), evicted: () => t.evicted };
}

const touches = QUICK ? 300_000 : 600_000;
const rounds = 3;
if (wanted('tables')) {
  console.log(
    `GroupTable, cap ${CAP.toLocaleString('en-US')} groups, ${touches.toLocaleString('en-US')} touches of uniformly random users, CPU ns per touch`,
  );
  console.log(`(median of ${rounds} alternating rounds; "previous" is the table before issue 13)`);
  console.log('users      previous ns  current ns  previous/current  evictions');
  for (const users of [50_000, 200_000, 1_000_000]) {
    const names = Array.from({ length: users }, (_, i) => `user-${i}`);
    let x = 12345;
    const keys = Array.from({ length: touches }, () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return names[(x >>> 8) % users]!;
    });
    const prev: number[] = [];
    const cur: number[] = [];
    let evicted = 0;
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['prev', 'cur'] : ['cur', 'prev'];
      for (const which of order) {
        const res = which === 'prev' ? timeTable(previous, keys) : timeTable(current, keys);
        (which === 'prev' ? prev : cur).push(res.ns);
        evicted = res.evicted;
      }
    }
    const p = median(prev);
    const c = median(cur);
    console.log(
      `${users.toLocaleString('en-US').padEnd(10)} ${p.toFixed(0).padStart(11)}  ${c.toFixed(0).padStart(10)}  ${(p / c).toFixed(1).padStart(15)}x  ${evicted.toLocaleString('en-US').padStart(9)}`,
    );
  }
}

console.log('');
// --- open incidents past maxOpenIncidentsPerRule ----------------------------------------------
// What the engine does per event of a rule that holds (e.g. system_prompt_leakage): extend the
// group's open incident, or evict the one quiet longest when at the cap and open a new one.
// The incidents are made up front, so the figure is the bookkeeping alone.
if (wanted('incidents')) {
  const cap = 10_000;
  const rule = compileRule(
    {
      id: 'r',
      title: 'r',
      severity: 'warning',
      match: { categories: ['c'] },
      group_by: 'user_id',
      window_ms: 60_000,
      condition: { kind: 'single' },
    },
    0,
    { maxEventsPerWindow: 1_000, maxDistinctValues: 1_000 },
  );
  const events = QUICK ? 200_000 : 600_000;
  console.log(
    `Open incidents of one rule, cap ${cap.toLocaleString('en-US')} (the default), ${events.toLocaleString('en-US')} events from users in turn, CPU ns per event`,
  );
  console.log(
    `(median of ${rounds} alternating rounds; "previous" is the Map in insertion order before issue 13)`,
  );
  console.log('users      previous ns  current ns  previous/current  evictions');
  for (const users of [5_000, 20_000, 100_000]) {
    const incidents = Array.from({ length: users }, (_, i) => new Incident(rule, `user-${i}`, 0, 'd', 10));
    const run = (list: OpenIncidents | OpenIncidentsV1): { ns: number; evicted: number } => {
      let evicted = 0;
      const start = process.threadCpuUsage();
      for (let i = 0; i < events; i++) {
        const inc = incidents[i % users]!;
        const open = list.get(inc.key);
        if (open !== undefined) {
          list.extended(open);
          continue;
        }
        if (list.size >= cap) {
          list.remove(list.first()!);
          evicted++;
        }
        list.add(inc);
      }
      return { ns: cpuNs(start) / events, evicted };
    };
    const prev: number[] = [];
    const cur: number[] = [];
    let evicted = 0;
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['prev', 'cur'] : ['cur', 'prev'];
      for (const which of order) {
        // Fresh incidents per run: OpenIncidents links through them.
        for (const inc of incidents) inc.older = inc.newer = undefined;
        const res = which === 'prev' ? run(new OpenIncidentsV1()) : run(new OpenIncidents());
        (which === 'prev' ? prev : cur).push(res.ns);
        evicted = res.evicted;
      }
    }
    const p = median(prev);
    const c = median(cur);
    console.log(
      `${users.toLocaleString('en-US').padEnd(10)} ${p.toFixed(0).padStart(11)}  ${c.toFixed(0).padStart(10)}  ${(p / c).toFixed(1).padStart(15)}x  ${evicted.toLocaleString('en-US').padStart(9)}`,
    );
  }
}

console.log('');
if (wanted('engine')) {
  const total = QUICK ? 300_000 : 1_000_000;
  console.log(
    `Engine, default rules, the replay mix (1 in 20 an attacker), ${total.toLocaleString('en-US')} events, CPU ns per event (best of 3 alternating rounds)`,
  );
  console.log(
    '("object" is every rule on object states, the engine before the slab; "slab" the default: ratio, identical, monotonic, baseline in the table\'s slab)',
  );
  console.log(
    '("lookup" is the floor of any per-group state behind a Map: the same events, each only touching its user\'s row of a GroupTable)',
  );
  console.log(
    '("no read-ahead" is the slab engine with its group read-ahead off, src/group-prefetch.ts; "slab" has it on)',
  );
  console.log(
    'users      object ns  no read-ahead ns  slab ns  object/slab  no read-ahead/slab  slab ev per CPU s  lookup ns  groups evicted',
  );
  for (const users of [1_000, 100_000, 200_000]) {
    const events = new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 }).chunk(total);
    const best = {
      object: Number.POSITIVE_INFINITY,
      noReadAhead: Number.POSITIVE_INFINITY,
      slab: Number.POSITIVE_INFINITY,
      lookup: Number.POSITIVE_INFINITY,
    };
    let evicted = 0;
    for (let r = 0; r < 3; r++) {
      const rotations = [
        ['object', 'noReadAhead', 'slab'],
        ['slab', 'object', 'noReadAhead'],
        ['noReadAhead', 'slab', 'object'],
      ] as const;
      const order = rotations[r % 3]!;
      const table = new GroupTable('user_id', CAP, 1);
      const lookupStart = process.threadCpuUsage();
      for (let i = 0; i < events.length; i++) table.stateRow(table.touch(events[i]!.event.user_id))[0] = i;
      best.lookup = Math.min(best.lookup, cpuNs(lookupStart) / total);
      for (const which of order) {
        const engine = new DetectionEngine({
          onAlert: () => {},
          ...(which === 'object' ? { [OBJECT_STATE_ONLY]: true, [NO_PREFETCH]: true } : {}),
          ...(which === 'noReadAhead' ? { [NO_PREFETCH]: true } : {}),
        });
        const start = process.threadCpuUsage();
        for (let i = 0; i < events.length; i++) engine.ingest(events[i]!.event, events[i]!.t);
        engine.flush();
        best[which] = Math.min(best[which], cpuNs(start) / total);
        evicted = engine.stats.groupsEvicted;
      }
    }
    console.log(
      `${users.toLocaleString('en-US').padEnd(10)} ${best.object.toFixed(0).padStart(9)}  ${best.noReadAhead.toFixed(0).padStart(16)}  ${best.slab.toFixed(0).padStart(7)}  ${(best.object / best.slab).toFixed(2).padStart(10)}x  ${(best.noReadAhead / best.slab).toFixed(2).padStart(17)}x  ${Math.round(
        1e9 / best.slab,
      )
        .toLocaleString('en-US')
        .padStart(
          17,
        )}  ${best.lookup.toFixed(0).padStart(9)}  ${evicted.toLocaleString('en-US').padStart(14)}`,
    );
  }
}
