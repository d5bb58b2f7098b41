// Shared detection state benchmark (`npm run bench:detect:redis [-- --quick]`): one local
// redis-server started here; events per second through DetectionEngine on the Redis state at
// 1, 1,000 and 100,000 active groups (users), next to the in-memory engine on the same events
// and next to the raw EVALSHA ceiling of a trivial one-key script on the same Redis and client
// (pipelined the same way, one call per event); Redis bytes per active user. All in one run, so
// the ratios compare like with like on a shared machine. BENCH_BATCH=N changes the batch size
// (events per flush, and calls in flight for the ceiling; default 2,000). Each cell runs the
// state twice on the same events: as shipped (a step that only adds pending events is appended
// to the group) and with every step written whole (the code before appended steps, kept as an
// internal switch for this in-run baseline).
import { loadavg, cpus } from 'node:os';
import { Redis } from 'ioredis';
import { DetectionEngine, RedisDetectionState } from '@llmsec/detect';
import { writeStepsWhole } from '../../packages/detect/src/state/redis-state.ts';
import { startRedis } from '../../test/support/redis.ts';
import { TrafficGenerator, type Timed } from './gen.ts';
import { fmt, table } from '../report.ts';

const QUICK = process.argv.includes('--quick');
const BATCH = Number(process.env.BENCH_BATCH ?? 2_000);
const APPEND_FIRST = process.env.BENCH_APPEND_FIRST === '1';
// BENCH_ONLY=append (or whole) runs one writer (for a --cpu-prof of it; no comparison printed).
const ONLY = process.env.BENCH_ONLY;
const REPS = Number(process.env.BENCH_REPS ?? 2);
// BENCH_STEP_MS: mean event-time gap between events (default 20: a batch of 2,000 spans 40 s of
// event time, eight times the 5 s lateness, so most events are processed in the step that
// brings them). 1 is closer to live traffic: a batch spans 2 s, every event waits pending for
// the watermark and is written twice (added, then released).
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 20);

function events(users: number, total: number): Timed[] {
  const gen = new TrafficGenerator({
    seed: 5,
    users,
    stepMs: STEP_MS,
    attackerEvery: 20,
    userPrefix: 'bench-user',
  });
  return Array.from({ length: total }, () => gen.next());
}

function memoryRate(stream: Timed[]): number {
  const engine = new DetectionEngine({ onAlert: () => {} });
  const start = performance.now();
  for (const { event, t } of stream) engine.ingest(event, t);
  engine.flush();
  return stream.length / ((performance.now() - start) / 1000);
}

async function redisRate(
  redis: Redis,
  stream: Timed[],
  ruleset: string,
  whole: boolean,
): Promise<{
  rate: number;
  conflicts: number;
  cpuUs: number;
  alerts: number;
  calls: GroupCalls;
  /** Bytes sent to Redis per event (set by the caller). */
  sentBytes: number;
}> {
  const state = new RedisDetectionState({
    redis,
    ruleset,
    batchSize: BATCH,
    commandTimeoutMs: 5_000,
    ...(process.env.BENCH_CACHE_MB !== undefined
      ? { cacheBytes: Number(process.env.BENCH_CACHE_MB) * 2 ** 20 }
      : {}),
  });
  writeStepsWhole(state, whole);
  const calls = countGroupCalls(state);
  let alerts = 0;
  const engine = new DetectionEngine({ onAlert: () => alerts++, state });
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  // Fed as a service would be: a batch's worth at a time, the flusher shipping in between.
  for (let i = 0; i < stream.length; i += BATCH) {
    for (let k = i; k < Math.min(i + BATCH, stream.length); k++)
      engine.ingest(stream[k]!.event, stream[k]!.t);
    await engine.forceFlush();
  }
  engine.flush();
  await engine.forceFlush();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = engine.stats;
  await engine.shutdown();
  if (stats.state?.mode !== 'shared')
    throw new Error(`the engine went ${stats.state?.mode}: the figures would be local`);
  // This process's CPU per event (user + system): on a loaded shared machine wall-clock rates
  // swing run to run; the CPU the engine spends per event is the steadier A/B figure.
  return {
    rate: stream.length / seconds,
    conflicts: stats.state.conflicts,
    cpuUs: (cpu.user + cpu.system) / stream.length,
    alerts,
    calls,
    sentBytes: 0,
  };
}

/** Group-state calls by kind (a counter around each: the same small cost for both writers). */
interface GroupCalls {
  whole: number;
  appended: number;
  reads: number;
  /** Writes whose version check failed (a guess at an uncached group, or a conflict). */
  lost: number;
}

function countGroupCalls(state: RedisDetectionState): GroupCalls {
  const calls: GroupCalls = { whole: 0, appended: 0, reads: 0, lost: 0 };
  const cas = state.cas.bind(state);
  const append = state.append.bind(state);
  state.cas = async (key, expected, body, ttl) => {
    const reply = await cas(key, expected, body, ttl);
    if (expected < 0) calls.reads++;
    else if (reply[0] === 1) calls.whole++;
    else calls.lost++;
    return reply;
  };
  state.append = async (key, expected, delta, ttl) => {
    const reply = await append(key, expected, delta, ttl);
    if (reply[0] === 1) calls.appended++;
    else calls.lost++;
    return reply;
  };
  return calls;
}

function perEvent(c: GroupCalls, events: number): string {
  const f = (n: number) => (n / events).toFixed(2);
  return `${f(c.whole)} whole writes, ${f(c.appended)} appends, ${f(c.reads)} reads, ${f(c.lost)} failed writes per event`;
}

/** The ceiling: a trivial one-key script by EVALSHA, BATCH calls in flight at a time, keys spread like groups. */
async function evalshaCeiling(
  redis: Redis,
  calls: number,
  keys: number,
): Promise<{ rate: number; cpuUs: number }> {
  const client = redis as Redis & { benchTrivial(key: string, arg: string): Promise<number> };
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < calls; i += BATCH) {
    const batch: Promise<number>[] = [];
    for (let k = i; k < Math.min(i + BATCH, calls); k++)
      batch.push(client.benchTrivial(`bench:{g${k % keys}}`, '1'));
    await Promise.all(batch);
  }
  const cpu = process.cpuUsage(cpu0);
  return { rate: calls / ((performance.now() - start) / 1000), cpuUs: (cpu.user + cpu.system) / calls };
}

/** Bytes Redis has read from its clients (INFO stats): what the writers send, independent of the machine's load. */
async function netInput(redis: Redis): Promise<number> {
  return Number(/total_net_input_bytes:(\d+)/.exec(await redis.info('stats'))![1]);
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

const server = await startRedis();
// Auto-pipelining: the commands of one flush go out in one socket write per tick (both contenders share the client).
const redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableAutoPipelining: true });
redis.defineCommand('benchTrivial', { numberOfKeys: 1, lua: 'return 1' });
try {
  const info = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  const cells = QUICK
    ? [
        { groups: 1, total: 20_000 },
        { groups: 1_000, total: 20_000 },
        { groups: 100_000, total: 100_000 },
      ]
    : [
        { groups: 1, total: 100_000 },
        { groups: 1_000, total: 100_000 },
        { groups: 100_000, total: 300_000 },
      ];
  console.log(
    `bench:detect:redis: redis-server ${info} on 127.0.0.1 (started here), node ${process.version}, ${cpus().length} CPUs, ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(
          ' ',
        )} at start; default rules, batches of ${BATCH}, ${STEP_MS} ms of event time per event${QUICK ? ', --quick' : ''}\n`,
  );
  // BENCH_GROUPS=1000 runs that cell only (for a --cpu-prof of one shape).
  if (process.env.BENCH_GROUPS !== undefined) {
    const only = Number(process.env.BENCH_GROUPS);
    cells.splice(0, cells.length, ...cells.filter((c) => c.groups === only));
  }
  const rows: (string | number)[][] = [];
  let bytesPerUser = [0, 0];
  for (const { groups, total } of cells) {
    const stream = events(groups, total);
    const active = new Set(stream.map((e) => e.event.user_id)).size;
    const mem = memoryRate(stream);
    // Whole writes and appended steps, each on an empty Redis (its own bytes per user), in the
    // order whole, appended, appended, whole (appended first with BENCH_APPEND_FIRST=1), so the
    // JIT warming up and load drifting during the cell favour neither; per writer, the run with
    // the least CPU per event is kept (BENCH_REPS=1: one run each).
    const order = APPEND_FIRST ? [false, true, true, false] : [true, false, false, true];
    const runs = new Map<boolean, { shared: Awaited<ReturnType<typeof redisRate>>; bytes: number }>();
    for (const whole of order.slice(0, REPS === 1 ? 2 : 4)) {
      if (ONLY !== undefined && (ONLY === 'whole') !== whole) continue;
      await redis.flushall();
      const memBefore = await usedMemory(redis);
      const netBefore = await netInput(redis);
      const shared = await redisRate(redis, stream, `bench-${groups}-${whole ? 'w' : 'a'}`, whole);
      shared.sentBytes = ((await netInput(redis)) - netBefore) / total;
      const prev = runs.get(whole);
      if (prev === undefined || shared.cpuUs < prev.shared.cpuUs)
        runs.set(whole, { shared, bytes: ((await usedMemory(redis)) - memBefore) / active });
    }
    if (ONLY !== undefined) {
      const { shared } = [...runs.values()][0]!;
      console.log(
        `${fmt(active)} groups, ${ONLY}: ${fmt(shared.rate)} ev/s, ${shared.cpuUs.toFixed(1)} us CPU/ev`,
      );
      continue;
    }
    const [before, after] = [runs.get(true)!, runs.get(false)!];
    if (before.shared.alerts !== after.shared.alerts)
      throw new Error(`alerts differ: ${before.shared.alerts} whole, ${after.shared.alerts} appended`);
    if (groups === cells[cells.length - 1]!.groups) bytesPerUser = [before.bytes, after.bytes];
    const ceiling = await evalshaCeiling(redis, total, active);
    for (const [label, { shared }] of [
      ['whole writes', before],
      ['appended steps', after],
    ] as const) {
      rows.push([
        `${fmt(active)} groups, ${label}`,
        fmt(total),
        fmt(mem),
        fmt(shared.rate),
        fmt(ceiling.rate),
        (shared.rate / ceiling.rate).toFixed(2),
        (shared.rate / mem).toFixed(3),
        shared.cpuUs.toFixed(1),
        ceiling.cpuUs.toFixed(1),
        fmt(shared.conflicts),
      ]);
    }
    console.log(
      `${fmt(active)} groups, group calls: whole ${perEvent(before.shared.calls, total)}; appended ${perEvent(after.shared.calls, total)}; ` +
        `bytes sent to Redis per event: ${fmt(before.shared.sentBytes)} whole, ${fmt(after.shared.sentBytes)} appended`,
    );
    console.log(
      `${fmt(active)} groups: appended / whole CPU per event ${(after.shared.cpuUs / before.shared.cpuUs).toFixed(2)}, ` +
        `events/s ${(after.shared.rate / before.shared.rate).toFixed(2)}x; ${fmt(after.shared.alerts)} alerts either way`,
    );
  }
  table(
    [
      'cell',
      'events',
      'memory ev/s',
      'redis state ev/s',
      'EVALSHA ceiling calls/s',
      'state / ceiling',
      'state / memory',
      'state CPU us/ev',
      'ceiling CPU us/call',
      'conflicts',
    ],
    rows,
  );
  console.log(
    `Redis bytes per active user (used_memory delta / distinct users, ${fmt(cells[cells.length - 1]!.groups)}-group cell): ` +
      `${fmt(bytesPerUser[0]!)} whole writes, ${fmt(bytesPerUser[1]!)} appended steps`,
  );
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at end`,
  );
} finally {
  redis.disconnect();
  await server.stop();
}
