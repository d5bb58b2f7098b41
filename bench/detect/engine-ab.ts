// Two engines A/B in one process, on the replay mix (`npx node --conditions=@llmsec/source
// bench/detect/engine-ab.ts BEFORE_DIR [--quick] [--rounds=N] [--request-rules] [--users=N]
// [--updates] [--interleave[=N]] [--same-strings]`): BEFORE_DIR is another checkout of the
// repository (e.g. `mkdir /tmp/before && git archive <rev> packages/detect packages/core | tar -x -C /tmp/before && ln -s
// "$PWD/node_modules" /tmp/before/node_modules`); its packages/detect/src/engine.ts runs against
// this tree's, rounds alternating (before, after, after, before, ...), default rules, the same
// 1 M events per user count, CPU time of the main thread per event. A round is one fresh engine
// over all the events, flushed. The machine is shared: the ratio of the medians in one run is
// the figure, not the nanoseconds.
// `--request-rules`: only the default rules that read request_completed (the slab's share);
// `--users=N`: one user count instead of 1,000 / 100,000 / 200,000; `--updates`: both engines
// take updates of open incidents (onUpdate, so they build them, in the timed rounds too).
// After the table, each user count's first to third quartile of the rounds, per side and of the
// per-round ratio (the two runs of a round ran back to back).
// "alerts same": after the timed rounds, one more untimed round per side hashes (SHA-256) the
// JSON of every alert line in delivery order, firing and resolved, and of every update
// (none are delivered without `--updates`), each tagged with its kind; "yes" only if both
// digests are equal and every timed round delivered as many alerts and updates. The timed
// rounds only count, so the digest costs nothing in the measured section.
// `--interleave[=N]`: both engines live at once and take the events in turns of N (default
// 20,000), the order of each turn's two chunks alternating; a round is then the two engines
// side by side over all the events. Each turn's two chunks run within a few milliseconds of
// each other, so a change of load (other processes on the shared cores) hits both sides alike
// instead of whichever round it fell in; the per-turn before/after ratios (50 a round with
// 1 M events) are printed as a median and q1-q3 beside the rounds' ratio. Both engines' state
// shares the heap and the caches: the nanoseconds are not those of one engine alone (each turn
// begins with the other engine's lines in cache), the ratio is the figure.
// User ids: by default each event's user id is a new string, made outside the timed part just
// before the engine takes the event (fresh-ids.ts: real input, decoded or posted between threads,
// brings a new string per event; each side of an interleaved turn gets its own copies);
// `--same-strings`: the generator's one string per user on every event, as before issue 13's
// sixteenth round (the engine finds it by identity: cheaper than real input). The events go in
// chunks of 20,000 (the turns with --interleave), the CPU time summed over the chunks.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { Alert } from '@llmsec/core';
import { DetectionEngine, defaultRules } from '@llmsec/detect';
import { median } from '../report.ts';
import { FreshUserIds, ingestChunks } from './fresh-ids.ts';
import { TrafficGenerator } from './gen.ts';

type EngineClass = typeof DetectionEngine;

const dir = process.argv[2];
if (dir === undefined || dir.startsWith('--')) {
  console.error(
    'usage: engine-ab.ts BEFORE_DIR [--quick] [--rounds=N] [--request-rules] [--users=N] [--updates] [--interleave[=N]] [--same-strings]',
  );
  process.exit(2);
}
const QUICK = process.argv.includes('--quick');
const interleaveArg = process.argv.find((a) => a === '--interleave' || a.startsWith('--interleave='));
const TURN = interleaveArg === undefined ? 0 : Number(interleaveArg.slice(13) || 20_000);
if (interleaveArg !== undefined && !(TURN >= 1)) {
  console.error(`--interleave=N: N events a turn, at least 1 (got ${interleaveArg})`);
  process.exit(2);
}
const UPDATES = process.argv.includes('--updates');
const SAME_STRINGS = process.argv.includes('--same-strings');
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 4);
const before = (
  (await import(pathToFileURL(resolve(dir, 'packages/detect/src/engine.ts')).href)) as {
    DetectionEngine: EngineClass;
  }
).DetectionEngine;
const engines: Record<'before' | 'after', EngineClass> = { before, after: DetectionEngine };
const rules = process.argv.includes('--request-rules')
  ? defaultRules().filter((r) => r.match.categories.includes('request_completed'))
  : undefined;
const usersArg = process.argv.find((a) => a.startsWith('--users='))?.slice(8);
const userCounts = usersArg !== undefined ? [Number(usersArg)] : [1_000, 100_000, 200_000];

type Side = 'before' | 'after';
type Events = ReturnType<TrafficGenerator['chunk']>;

/** One untimed round: the SHA-256 of each alert line's and update's JSON, in delivery order. */
function contentDigest(
  which: Side,
  events: Events,
  ids: FreshUserIds | undefined,
): { alerts: number; updates: number; digest: string } {
  const hash = createHash('sha256');
  let alerts = 0;
  let updates = 0;
  const take = (kind: string) => (a: Alert) => {
    hash.update(`${kind} ${JSON.stringify(a)}\n`);
  };
  const onAlert = take('alert');
  const onUpdate = take('update');
  const engine = new engines[which]({
    ...(rules ? { rules } : {}),
    onAlert: (a) => {
      alerts++;
      onAlert(a);
    },
    ...(UPDATES
      ? {
          onUpdate: (a: Alert) => {
            updates++;
            onUpdate(a);
          },
        }
      : {}),
  });
  ingestChunks(engine, events, ids, true);
  return { alerts, updates, digest: hash.digest('hex').slice(0, 16) };
}

/** A fresh engine of one side that counts what it delivers into `counts`. */
function makeEngine(which: Side, counts: { fired: number; updated: number }): DetectionEngine {
  return new engines[which]({
    ...(rules ? { rules } : {}),
    onAlert: () => {
      counts.fired++;
    },
    ...(UPDATES
      ? {
          onUpdate: () => {
            counts.updated++;
          },
        }
      : {}),
  });
}

/**
 * One interleaved round (--interleave): both engines over all the events in turns of TURN
 * events, the order within a turn alternating. Returns each side's CPU ns per event, the
 * per-turn before/after ratios and what each side delivered ("alerts/updates").
 */
function interleavedRound(
  events: Events,
  ids: FreshUserIds | undefined,
  r: number,
): { ns: Record<Side, number>; ratios: number[]; counts: Record<Side, string> } {
  const delivered = { before: { fired: 0, updated: 0 }, after: { fired: 0, updated: 0 } };
  const engine = {
    before: makeEngine('before', delivered.before),
    after: makeEngine('after', delivered.after),
  };
  const spent = { before: 0, after: 0 };
  const ratios: number[] = [];
  for (let from = 0, turn = 0; from < events.length; from += TURN, turn++) {
    const to = Math.min(events.length, from + TURN);
    const last = to === events.length;
    const order = (r + turn) % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    const took = { before: 0, after: 0 };
    // Both engines are done with the turn before the last (but the events their reorder buffers hold).
    ids?.restore(from - 2 * TURN, from - TURN);
    for (const which of order) {
      const e = engine[which];
      ids?.fresh(from, to);
      const start = process.threadCpuUsage();
      for (let i = from; i < to; i++) e.ingest(events[i]!.event, events[i]!.t);
      if (last) e.flush();
      took[which] = cpuNs(start);
      spent[which] += took[which];
    }
    ratios.push(took.before / took.after);
  }
  ids?.restore(events.length - 2 * TURN, events.length);
  return {
    ns: { before: spent.before / events.length, after: spent.after / events.length },
    ratios,
    counts: {
      before: `${delivered.before.fired}/${delivered.before.updated}`,
      after: `${delivered.after.fired}/${delivered.after.updated}`,
    },
  };
}

function cpuNs(since: NodeJS.CpuUsage): number {
  const u = process.threadCpuUsage(since);
  return (u.user + u.system) * 1000;
}

const total = QUICK ? 300_000 : 1_000_000;
console.log(
  `Engine A/B, ${rules ? 'the default request_completed rules' : 'default rules'}, replay mix, ${total.toLocaleString('en-US')} events, CPU ns per event, median of ${rounds} rounds per side (${TURN > 0 ? `interleaved, turns of ${TURN.toLocaleString('en-US')} events` : 'alternating'}), ${SAME_STRINGS ? 'the same user-id string on every event of a user (--same-strings: cheaper than real input)' : 'a fresh user-id string per event (as real input)'}`,
);
console.log(`before: ${resolve(dir)}; after: this tree`);
console.log('users      before ns  after ns  before/after  after ev per CPU s  alerts same');
/** Per user count: the quartiles of each side and of the per-round ratio, printed after the table. */
const spread: string[] = [];
for (const users of userCounts) {
  const events = new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 }).chunk(total);
  const ids = SAME_STRINGS ? undefined : new FreshUserIds(events);
  const ns: Record<Side, number[]> = { before: [], after: [] };
  // Alerts and updates of each timed round, "alerts/updates", to check against the untimed one.
  const counts: Record<Side, Set<string>> = { before: new Set(), after: new Set() };
  /** --interleave: every turn's before/after ratio, all rounds. */
  const turnRatios: number[] = [];
  for (let r = 0; r < rounds && TURN > 0; r++) {
    const round = interleavedRound(events, ids, r);
    for (const which of ['before', 'after'] as const) {
      ns[which].push(round.ns[which]);
      counts[which].add(round.counts[which]);
    }
    turnRatios.push(...round.ratios);
  }
  for (let r = 0; r < rounds && TURN === 0; r++) {
    const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) {
      const delivered = { fired: 0, updated: 0 };
      const engine = makeEngine(which, delivered);
      const spent = ingestChunks(engine, events, ids, true);
      ns[which].push(spent / total);
      counts[which].add(`${delivered.fired}/${delivered.updated}`);
    }
  }
  const content = {
    before: contentDigest('before', events, ids),
    after: contentDigest('after', events, ids),
  };
  const line = (which: Side) => {
    const c = content[which];
    const timed = [...counts[which]];
    const steady = timed.length === 1 && timed[0] === `${c.alerts}/${c.updates}`;
    return `${c.alerts}/${c.updates}:${c.digest}${steady ? '' : ` timed ${timed.join(',')}`}`;
  };
  const same = line('before') === line('after') && !line('before').includes(' timed ');
  const b = median(ns.before);
  const a = median(ns.after);
  // Each round's two runs ran back to back (in either order): their ratio is steadier than the
  // ratio of the medians when the load moves between rounds.
  const paired = ns.before.map((x, i) => x / ns.after[i]!);
  spread.push(
    `${users.toLocaleString('en-US').padEnd(10)} before ${range(ns.before, 0)} ns, after ${range(ns.after, 0)} ns, paired before/after median ${median(paired).toFixed(2)}x, q1-q3 ${range(paired, 2)}` +
      (TURN > 0
        ? `; turns of ${TURN.toLocaleString('en-US')} (${turnRatios.length}): median ${median(turnRatios).toFixed(3)}x, q1-q3 ${range(turnRatios, 3)}`
        : ''),
  );
  console.log(
    `${users.toLocaleString('en-US').padEnd(10)} ${b.toFixed(0).padStart(9)}  ${a.toFixed(0).padStart(8)}  ${(b / a).toFixed(2).padStart(11)}x  ${Math.round(
      1e9 / a,
    )
      .toLocaleString('en-US')
      .padStart(18)}  ${same ? 'yes' : `NO (${line('before')} vs ${line('after')})`}`,
  );
}
console.log('first to third quartile of the rounds:');
for (const line of spread) console.log(line);

/** The first and third quartiles (linear interpolation), as "q1-q3". */
function range(xs: number[], digits: number): string {
  const sorted = [...xs].sort((x, y) => x - y);
  const at = (f: number) => {
    const i = (sorted.length - 1) * f;
    const lo = Math.floor(i);
    return sorted[lo]! + (sorted[Math.ceil(i)]! - sorted[lo]!) * (i - lo);
  };
  return `${at(0.25).toFixed(digits)}-${at(0.75).toFixed(digits)}`;
}
