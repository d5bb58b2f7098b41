// Shared detection state benchmark (`npm run bench:detect:redis [-- --quick]`): one local
// redis-server started here; events per second through DetectionEngine on the Redis state at
// 1, 1,000 and 100,000 active groups (users), next to the in-memory engine on the same events
// and next to the raw EVALSHA ceiling of a trivial one-key script on the same Redis and client
// (pipelined the same way, one call per event); Redis bytes per active user, bytes sent to
// Redis per event, group calls per event by kind. All in one run, so the ratios compare like
// with like on a shared machine. BENCH_BATCH=N changes the batch size (events per flush, and
// calls in flight for the ceiling; default 2,000); BENCH_REPS=N runs the state and the ceiling
// N times each per cell, alternating, and keeps each one's run with the least CPU per event
// (default 2; 1 for a --cpu-prof); BENCH_GROUPS=N runs one cell; BENCH_CACHE_MB sets the
// state's cache; BENCH_STEP_MS the event-time gap (below).
import { loadavg, cpus } from 'node:os';
import { Redis } from 'ioredis';
import { DetectionEngine, RedisDetectionState } from '@llmsec/detect';
import { startRedis } from '../../test/support/redis.ts';
import { TrafficGenerator, type Timed } from './gen.ts';
import { fmt, table } from '../report.ts';

const QUICK = process.argv.includes('--quick');
const BATCH = Number(process.env.BENCH_BATCH ?? 2_000);
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 2));
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

function memoryRate(stream: Timed[]): { rate: number; alerts: number } {
  let alerts = 0;
  const engine = new DetectionEngine({ onAlert: () => alerts++ });
  const start = performance.now();
  for (const { event, t } of stream) engine.ingest(event, t);
  engine.flush();
  return { rate: stream.length / ((performance.now() - start) / 1000), alerts };
}

async function redisRate(
  redis: Redis,
  stream: Timed[],
  ruleset: string,
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

/** Group-state calls by kind (a counter around each call: a small cost, counted in the CPU figure). */
interface GroupCalls {
  /** Compare-and-sets that wrote the group. */
  whole: number;
  /** Reads (a compare-and-set with version -1, which never writes). */
  reads: number;
  /** Writes whose version check failed (a guess at an uncached group, or a conflict): a second round trip. */
  lost: number;
}

function countGroupCalls(state: RedisDetectionState): GroupCalls {
  const calls: GroupCalls = { whole: 0, reads: 0, lost: 0 };
  const cas = state.cas.bind(state);
  state.cas = async (key, expected, body, ttl) => {
    const reply = await cas(key, expected, body, ttl);
    if (expected < 0) calls.reads++;
    else if (reply[0] === 1) calls.whole++;
    else calls.lost++;
    return reply;
  };
  return calls;
}

function perEvent(c: GroupCalls, events: number): string {
  const f = (n: number) => (n / events).toFixed(2);
  return `${f(c.whole)} writes, ${f(c.reads)} reads, ${f(c.lost)} failed writes per event`;
}

/** The ceiling: a trivial one-key script by EVALSHA, BATCH calls in flight at a time, keys spread like groups. */
async function evalshaCeiling(
  redis: Redis,
  calls: number,
  keys: number,
): Promise<{ rate: number; cpuUs: number; sentBytes: number }> {
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
  return {
    rate: calls / ((performance.now() - start) / 1000),
    cpuUs: (cpu.user + cpu.system) / calls,
    sentBytes: 0,
  };
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
  let bytesPerUser = 0;
  for (const { groups, total } of cells) {
    const stream = events(groups, total);
    const active = new Set(stream.map((e) => e.event.user_id)).size;
    const mem = memoryRate(stream);
    // The state (each run on an empty Redis) and the ceiling, alternating (state, ceiling,
    // ceiling, state, ...) so the JIT warming up and load drifting favour neither; each keeps
    // its run with the least CPU per event.
    let shared: Awaited<ReturnType<typeof redisRate>> | undefined;
    let ceiling: Awaited<ReturnType<typeof evalshaCeiling>> | undefined;
    for (let rep = 0; rep < REPS; rep++) {
      for (const which of rep % 2 === 0 ? ['state', 'ceiling'] : ['ceiling', 'state']) {
        await redis.flushall();
        const memBefore = await usedMemory(redis);
        const netBefore = await netInput(redis);
        if (which === 'state') {
          const run = await redisRate(redis, stream, `bench-${groups}-${rep}`);
          run.sentBytes = ((await netInput(redis)) - netBefore) / total;
          if (shared === undefined || run.cpuUs < shared.cpuUs) {
            shared = run;
            if (groups === cells[cells.length - 1]!.groups)
              bytesPerUser = ((await usedMemory(redis)) - memBefore) / active;
          }
        } else {
          const run = await evalshaCeiling(redis, total, active);
          run.sentBytes = ((await netInput(redis)) - netBefore) / total;
          if (ceiling === undefined || run.cpuUs < ceiling.cpuUs) ceiling = run;
        }
      }
    }
    rows.push([
      `${fmt(active)} active groups`,
      fmt(total),
      fmt(mem.rate),
      fmt(shared!.rate),
      fmt(ceiling!.rate),
      (shared!.rate / ceiling!.rate).toFixed(2),
      (ceiling!.cpuUs / shared!.cpuUs).toFixed(2),
      (shared!.rate / mem.rate).toFixed(3),
      shared!.cpuUs.toFixed(1),
      ceiling!.cpuUs.toFixed(1),
      fmt(shared!.conflicts),
    ]);
    console.log(
      `${fmt(active)} groups: group calls ${perEvent(shared!.calls, total)}; bytes sent to Redis ` +
        `${fmt(shared!.sentBytes)} per event (ceiling ${fmt(ceiling!.sentBytes)} per call); ` +
        `alerts ${fmt(shared!.alerts)} on the state, ${fmt(mem.alerts)} in memory`,
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
      'state / ceiling by CPU',
      'state / memory',
      'state CPU us/ev',
      'ceiling CPU us/call',
      'conflicts',
    ],
    rows,
  );
  console.log(
    `Redis bytes per active user (used_memory delta / distinct users, ${fmt(cells[cells.length - 1]!.groups)}-group cell): ${fmt(bytesPerUser)}`,
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
