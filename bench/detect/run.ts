// Detection benchmark (`npm run bench:detect`, or `./node_modules/.bin/node --expose-gc
// bench/detect/run.ts [--quick] [--same-strings]`): engine ingest rate as per-user history
// grows, the seed design on the same events in the same run, replay lines per second on a large
// file, and memory per active user. Prints one table per measurement. The engine's events bring
// a fresh user-id string each, as real input does (`--same-strings`: the generator's one string
// per user, which the engine finds by identity, cheaper: fresh-ids.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeEvent, type SecurityEvent } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { OBJECT_STATE_ONLY } from '../../packages/detect/src/engine.ts';
import { FreshUserIds } from './fresh-ids.ts';
import { BENCH_T0, TrafficGenerator, type Timed } from './gen.ts';
import { SeedDetector } from './seed.ts';
import { fmt, table } from '../report.ts';

const QUICK = process.argv.includes('--quick');
const SAME_STRINGS = process.argv.includes('--same-strings');
const IDS = SAME_STRINGS
  ? 'one user-id string per user (--same-strings)'
  : 'a fresh user-id string per event';
const USERS = 2;
const CHUNK = 100_000;

setFlagsFromString('--expose-gc');
const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as () => void);

interface Run {
  /** Wall-clock seconds spent in the measured calls. */
  seconds: number;
  /** CPU seconds (user + system, this process) over the same calls. */
  cpu: number;
  events: number;
  alerts: number;
}

/** The machine is shared: take the fastest of `n` runs (wall clock), as benchmarks usually do. */
function best(n: number, run: () => Run): Run {
  let top: Run | undefined;
  for (let i = 0; i < n; i++) {
    gc();
    const r = run();
    if (top === undefined || r.seconds < top.seconds) top = r;
  }
  return top!;
}

/** CPU time of this thread alone: the machine is shared, and GC helper threads are not the engine. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.threadCpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/** Feeds `total` generated events; only ingest() is timed (generation happens between chunks). */
/** One attacker and one benign user, one event a second between them. */
const perUserTraffic = () =>
  new TrafficGenerator({ seed: 42, users: USERS, stepMs: 1_000, attackerEvery: 2 });

function timeEngine(total: number, traffic: () => TrafficGenerator = perUserTraffic): Run {
  const gen = traffic();
  let alerts = 0;
  const engine = new DetectionEngine({ onAlert: () => void alerts++ });
  let seconds = 0;
  let cpu = 0;
  for (let done = 0; done < total;) {
    const chunk = gen.chunk(Math.min(CHUNK, total - done));
    if (!SAME_STRINGS) new FreshUserIds(chunk).fresh(0, chunk.length);
    const cpuStart = process.threadCpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < chunk.length; i++) engine.ingest(chunk[i]!.event, chunk[i]!.t);
    if (done + chunk.length >= total) engine.flush();
    seconds += Number(process.hrtime.bigint() - start) / 1e9;
    cpu += cpuSeconds(cpuStart);
    done += chunk.length;
  }
  return { seconds, cpu, events: total, alerts };
}

function timeSeed(total: number): Run {
  const seed = new SeedDetector();
  const events = perUserTraffic().chunk(total);
  const cpuStart = process.threadCpuUsage();
  const start = process.hrtime.bigint();
  for (const { event, t } of events) seed.ingest(event, t);
  return {
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    cpu: cpuSeconds(cpuStart),
    events: total,
    alerts: seed.alerts,
  };
}

// --- 1. ingest rate as per-user history grows -------------------------------------------------
const levels = QUICK ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000];
const seedLevels = QUICK ? [1_000] : [1_000, 10_000];
console.log(
  `Engine ingest, default rules, ${USERS} users (one attacker, one benign), N events per user, in order, lateness 5s, ${IDS}`,
);
console.log('(best of 3 by wall clock; "per CPU s" divides by this thread\'s CPU time over the same calls)');
const rows: (string | number)[][] = [];
timeEngine(300_000); // warm-up: let the JIT settle before anything is measured
for (const perUser of levels) {
  const total = perUser * USERS;
  // Small histories are replayed on fresh engines until 200,000 events have been timed, so
  // the figure is not a few milliseconds of noise; the history per user stays N.
  const reps = Math.max(1, Math.ceil(200_000 / total));
  const e = best(perUser >= 1_000_000 ? 1 : 3, () => {
    const runs = Array.from({ length: reps }, () => timeEngine(total));
    return runs.reduce((a, r) => ({
      seconds: a.seconds + r.seconds,
      cpu: a.cpu + r.cpu,
      events: a.events + r.events,
      alerts: r.alerts,
    }));
  });
  let seedCell = 'not run (quadratic)';
  let ratio = '';
  if (seedLevels.includes(perUser)) {
    const s = best(1, () => timeSeed(total));
    seedCell = `${fmt(s.events / s.seconds)} ev/s, ${fmt(s.alerts)} alerts`;
    ratio = `${(e.events / e.seconds / (s.events / s.seconds)).toFixed(0)}x`;
  }
  rows.push([
    fmt(perUser),
    fmt(e.events / e.seconds),
    ((e.seconds / e.events) * 1e9).toFixed(0),
    fmt(e.events / e.cpu),
    fmt(e.alerts),
    seedCell,
    ratio,
  ]);
}
table(
  [
    'events/user',
    'engine ev/s',
    'ns/event',
    'ev per CPU s',
    'engine alerts',
    'seed (same events)',
    'engine/seed',
  ],
  rows,
);

// --- 1b. many users: per-group state no longer stays in the CPU caches -----------------------
{
  const total = QUICK ? 200_000 : 1_000_000;
  console.log(
    `Engine ingest, default rules, the replay mix (1 in 20 an attacker, an event every 50 ms), ${fmt(total)} events, ${IDS}`,
  );
  const rows: (string | number)[][] = [];
  for (const users of [1_000, 100_000]) {
    const traffic = () => new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 });
    const e = best(3, () => timeEngine(total, traffic));
    rows.push([
      fmt(users),
      fmt(e.events / e.seconds),
      ((e.seconds / e.events) * 1e9).toFixed(0),
      fmt(e.events / e.cpu),
      fmt(e.alerts),
    ]);
  }
  table(['users', 'engine ev/s', 'ns/event', 'ev per CPU s', 'engine alerts'], rows);
}

// --- 2. one incident, one alert ----------------------------------------------------------------
{
  const blocks: SecurityEvent[] = Array.from({ length: 1000 }, (_, i) => ({
    event_id: `b${i}`,
    timestamp: new Date(BENCH_T0 + i * 1000).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: 'attacker',
    metadata: { guardrail_layer: 'injection', block_reason: 'x' },
  }));
  let engineAlerts = 0;
  const engine = new DetectionEngine({
    onAlert: (a) => void (a.rule === 'rapid_guardrail_blocks' && a.status === 'firing' && engineAlerts++),
  });
  const seed = new SeedDetector();
  blocks.forEach((b, i) => {
    engine.ingest(b, BENCH_T0 + i * 1000);
    seed.ingest(b, BENCH_T0 + i * 1000);
  });
  engine.flush();
  let slowEngine = 0;
  const slow = new DetectionEngine({
    onAlert: (a) => void (a.rule === 'rapid_guardrail_blocks' && slowEngine++),
  });
  const slowSeed = new SeedDetector();
  blocks.forEach((b, i) => {
    slow.ingest(b, BENCH_T0 + i * 11 * 60_000);
    slowSeed.ingest(b, BENCH_T0 + i * 11 * 60_000);
  });
  console.log('rapid_guardrail_blocks alerts');
  table(
    ['stream', 'engine', 'seed'],
    [
      ['1,000 blocks, one per second', engineAlerts, seed.byRule.get('rapid_guardrail_blocks') ?? 0],
      ['1,000 blocks, one per 11 minutes', slowEngine, slowSeed.byRule.get('rapid_guardrail_blocks') ?? 0],
    ],
  );
}

// --- 3. memory per active user -----------------------------------------------------------------
{
  const users = QUICK ? 20_000 : 100_000;
  const perUser = 5;
  /** Heap growth per user, after GC, of what `feed` keeps; the events themselves are dropped. */
  const measure = (feed: (events: Timed[]) => unknown): { bytes: number; held: unknown } => {
    gc();
    const before = process.memoryUsage().heapUsed;
    let events: Timed[] | undefined = new TrafficGenerator({
      seed: 7,
      users,
      stepMs: 1,
      attackerEvery: 20,
      userPrefix: 'mem',
    }).chunk(users * perUser);
    const held = feed(events);
    events = undefined;
    gc();
    return { bytes: (process.memoryUsage().heapUsed - before) / users, held };
  };
  const engineWith = (objectOnly: boolean) =>
    measure((events) => {
      const e = new DetectionEngine({
        maxGroupsPerRule: users * 2,
        ...(objectOnly ? { [OBJECT_STATE_ONLY]: true } : {}),
      });
      for (const { event, t } of events) e.ingest(event, t);
      e.flush();
      return e;
    });
  const objectEngine = engineWith(true);
  const engine = engineWith(false);
  const seed = measure((events) => {
    // The seed's per-user histories only (its rules are too slow to run over 500,000 events).
    const s = new SeedDetector();
    for (const x of events) {
      const h = s.history.get(x.event.user_id);
      if (h) h.push(x);
      else s.history.set(x.event.user_id, [x]);
    }
    return s;
  });
  console.log(
    `Memory per active user (${fmt(users)} users, ${perUser} events each, 1 in 20 an attacker; heap growth after GC)`,
  );
  table(
    ['', 'bytes/user', 'groups'],
    [
      [
        'engine (all rule state, ids kept as evidence)',
        fmt(engine.bytes),
        fmt((engine.held as DetectionEngine).groupCount),
      ],
      [
        'engine, every rule on object states (before the slab)',
        fmt(objectEngine.bytes),
        fmt((objectEngine.held as DetectionEngine).groupCount),
      ],
      ['seed (its event history alone)', fmt(seed.bytes), fmt((seed.held as SeedDetector).history.size)],
    ],
  );
}

// --- 4. llmsec replay on a large file ----------------------------------------------------------
{
  const lines = QUICK ? 200_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-bench-replay-'));
  const file = join(dir, 'events.jsonl');
  writeFileSync(file, '');
  const gen = new TrafficGenerator({ seed: 9, users: 1_000, stepMs: 50, attackerEvery: 20 });
  for (let done = 0; done < lines; done += CHUNK) {
    appendFileSync(
      file,
      gen
        .chunk(Math.min(CHUNK, lines - done))
        .map((x) => encodeEvent(x.event))
        .join('\n') + '\n',
    );
  }
  const start = process.hrtime.bigint();
  const run = spawnSync(
    process.execPath,
    ['--conditions=@llmsec/source', 'packages/cli/src/bin.ts', 'replay', file],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    },
  );
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const inner = /\(([0-9]+) lines\/s\)/.exec(run.stderr)?.[1];
  const perCpu = /\(([0-9]+) lines per CPU second\)/.exec(run.stderr)?.[1];
  const alerts = /alerts: ([^\n]*)/.exec(run.stderr)?.[1];
  console.log(
    `llmsec replay, ${fmt(lines)} lines (${(statSync(file).size / 1e6).toFixed(0)} MB), alert JSONL to /dev/null`,
  );
  table(
    ['', 'lines/s'],
    [
      ['wall clock incl. process start', fmt(lines / wall)],
      [
        'as reported by replay (read+decode+detect+print)',
        inner ? fmt(Number(inner)) : `failed (exit ${run.status}): ${run.stderr.slice(0, 200)}`,
      ],
      ['per CPU second, as reported by replay', perCpu ? fmt(Number(perCpu)) : ''],
    ],
  );
  console.log(`replay summary: ${alerts ?? ''}\n`);
  rmSync(dir, { recursive: true, force: true });
}
