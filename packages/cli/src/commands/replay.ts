import { createReadStream } from 'node:fs';
import { getCompileCacheDir } from 'node:module';
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { isMainThread, Worker } from 'node:worker_threads';
import { encodeAlert, type Alert } from '@llmsec/core';
import {
  defaultRules,
  DetectionEngine,
  loadRulesFile,
  parseDuration,
  RedisDetectionState,
  RuleFileError,
} from '@llmsec/detect';
// Type only: ioredis is loaded when --state asks for it, not on every replay's start-up.
import type { connectRedis } from '@llmsec/ratelimit/redis';
import {
  DEFAULT_MAX_LINE_BYTES,
  decodeEventLineFast,
  forEachLine,
  formatAlertTable,
  replayFileOnTwoThreads,
  replayProjector,
} from '@llmsec/detect/replay';
import { UsageError, type CliIO, type Command } from '../io.ts';
import type { EngineThreadData, EngineThreadMessage } from './replay-engine-thread.ts';

/**
 * CPU time of this thread (the engine's), for the summary line. `process.threadCpuUsage` is Node 23.9+;
 * on Node 22 (which the package supports) this falls back to the whole process's CPU time
 * (the reader thread's included), and the summary says so.
 */
const PER_THREAD_CPU = typeof process.threadCpuUsage === 'function';
function cpuUsage(previous?: NodeJS.CpuUsage): NodeJS.CpuUsage {
  return PER_THREAD_CPU ? process.threadCpuUsage(previous) : process.cpuUsage(previous);
}

const USAGE = `usage: llmsec replay [FILE|-] [--rules FILE] [--format jsonl|table] [--allowed-lateness DURATION]
                     [--max-line-bytes N] [--threads 1|2]
                     [--state redis://HOST:PORT [--cluster] [--ruleset NAME] [--shards N]]

Runs the detection rules over security-event JSONL in event time, as if the events were
happening now, and prints the alerts: one line per firing and one per resolve (alert JSONL),
or a table. A summary goes to stderr. Use it to backtest thresholds on weeks of logs before
enabling a rule. Both line formats: https://github.com/llmsec/llmsec/blob/main/docs/formats.md

  FILE                     events JSONL; "-" or nothing reads stdin
  --rules FILE             rule file (YAML or JSON); default: the built-in rules
  --format jsonl|table     output format (default: jsonl)
  --allowed-lateness DUR   how far out of order events may come (default: 5s); later ones are
                           dropped and counted
  --max-line-bytes N       longest line read (default: 1048576); a longer line is skipped
                           without being held in memory and reported as malformed
  --threads 1|2            2 (default for a FILE on a machine with 2+ cores): one thread reads
                           and decodes the file while another runs the rules (same events,
                           order and alerts; more CPU in all, less wall time when a second
                           core is free); 1: one thread. Stdin is always read on one thread
  --state URL              keep the detection state in Redis (default: in memory). Shards of
                           one log replayed at the same time with the same --ruleset detect
                           as one replay of the whole log would
  --cluster                the --state URL is a seed node of a Redis Cluster
  --ruleset NAME           key namespace in Redis (default: a fresh one per run, printed in the
                           summary); give every shard of one replay the same name
  --shards N               this is one of N shards replayed at the same time: wait (up to 10
                           min) until all N have read their input before the final flush, and
                           until all N have flushed before counting what is still firing. Give
                           --allowed-lateness at least how far one shard may run ahead of
                           another in event time, or its events arrive late for the others

Malformed lines are reported on stderr as "line N: reason" (the first 1000; the summary
counts them all) and skipped. At the end of input,
incidents whose quiet period has passed by the last event time resolve; the others are still
firing and are counted in the summary.`;

interface ReplayArgs {
  file: string | undefined;
  rules: string | undefined;
  format: 'jsonl' | 'table';
  latenessMs: number | undefined;
  maxLineBytes: number;
  threads: 1 | 2;
  state: string | undefined;
  cluster: boolean;
  ruleset: string | undefined;
  shards: number;
}

function parse(argv: string[]): ReplayArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        rules: { type: 'string' },
        format: { type: 'string', default: 'jsonl' },
        'allowed-lateness': { type: 'string' },
        'max-line-bytes': { type: 'string' },
        threads: { type: 'string' },
        state: { type: 'string' },
        cluster: { type: 'boolean', default: false },
        ruleset: { type: 'string' },
        shards: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 1) throw new UsageError(`one input file at most\n\n${USAGE}`);
  if (values.format !== 'jsonl' && values.format !== 'table') {
    throw new UsageError(`--format must be jsonl or table, got "${values.format}"`);
  }
  let latenessMs: number | undefined;
  if (values['allowed-lateness'] !== undefined) {
    latenessMs = parseDuration(values['allowed-lateness']);
    if (Number.isNaN(latenessMs))
      throw new UsageError(`--allowed-lateness: bad duration "${values['allowed-lateness']}"`);
  }
  const maxLineBytes =
    values['max-line-bytes'] !== undefined ? Number(values['max-line-bytes']) : DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
    throw new UsageError(`--max-line-bytes must be a positive integer, got "${values['max-line-bytes']}"`);
  }
  if (values.threads !== undefined && values.threads !== '1' && values.threads !== '2') {
    throw new UsageError(`--threads must be 1 or 2, got "${values.threads}"`);
  }
  if (values.state !== undefined && !/^rediss?:\/\//.test(values.state)) {
    throw new UsageError(`--state must be a redis:// or rediss:// URL, got "${values.state}"`);
  }
  if (values.ruleset !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(values.ruleset)) {
    throw new UsageError('--ruleset must be 1-64 characters of [A-Za-z0-9_.:-]');
  }
  const shards = values.shards !== undefined ? Number(values.shards) : 1;
  if (!Number.isInteger(shards) || shards < 1 || shards > 1000) {
    throw new UsageError(`--shards must be an integer from 1 to 1000, got "${values.shards}"`);
  }
  if (shards > 1 && (values.state === undefined || values.ruleset === undefined)) {
    throw new UsageError('--shards needs --state and --ruleset (the shards meet in Redis under one ruleset)');
  }
  const file = positionals[0];
  return {
    shards,
    file: file === '-' ? undefined : file,
    rules: values.rules,
    format: values.format,
    latenessMs,
    maxLineBytes,
    // Two threads only help with a second core to run on.
    threads: values.threads === '1' || (values.threads === undefined && availableParallelism() < 2) ? 1 : 2,
    state: values.state,
    cluster: values.cluster ?? false,
    ruleset: values.ruleset,
  };
}

/** Malformed lines reported one by one; the summary counts all of them. */
const MAX_REPORTED_LINES = 1000;

/** Batches stdout writes: one write per alert would dominate a replay that alerts a lot. */
class OutBuffer {
  private parts: string[] = [];
  private bytes = 0;
  private readonly out: NodeJS.WritableStream;

  constructor(out: NodeJS.WritableStream) {
    this.out = out;
  }

  write(text: string): void {
    this.parts.push(text);
    this.bytes += text.length;
    if (this.bytes >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.out.write(this.parts.join(''));
    this.parts = [];
    this.bytes = 0;
  }
}

export const command: Command = {
  summary: 'backtest detection rules on security-event JSONL; prints alerts',
  async run(argv: string[], io: CliIO): Promise<number> {
    // Usage errors and help from this thread, as before; a file replay on two threads with the
    // state in memory then runs on a thread of its own with a capped young generation
    // (replay-engine-thread.ts says why). Not one thread: there the engine's thread also parses
    // whole lines (previews included), and with the capped young generation that garbage was
    // promoted in some runs and the old space grew to 350 MB (CPU +30%); V8's default is kept.
    const args = parse(argv);
    if (
      args !== 'help' &&
      args.file !== undefined &&
      args.threads === 2 &&
      args.state === undefined &&
      isMainThread
    ) {
      return runOnEngineThread(argv, io);
    }
    return runReplayHere(argv, io);
  },
};

/**
 * The engine's thread's young generation, MiB (V8 splits it into two semi-spaces and a large
 * object space: 24 = 8 MiB semi-spaces, as `node --max-semi-space-size=8`). V8 would grow it to
 * 64 MiB semi-spaces as user state survives scavenges: 1,000 B of RSS per active user at
 * 60,000 users (bench/replay/memory.ts); with this cap the old space holds that state instead.
 */
const ENGINE_YOUNG_GENERATION_MB = 24;

const fromSource = import.meta.url.endsWith('.ts');
const ENGINE_THREAD_URL = new URL(
  fromSource ? './replay-engine-thread.ts' : './replay-engine-thread.js',
  import.meta.url,
);

/** Runs the command on the engine's thread, writing its output to `io` in order. */
function runOnEngineThread(argv: string[], io: CliIO): Promise<number> {
  return new Promise((resolve, reject) => {
    const cacheDir = getCompileCacheDir();
    // Characters forwarded and not yet written out: the engine's thread waits above a cap
    // (replay-engine-thread.ts), as a write to a slow pipe would block it in place.
    const pendingBuffer = new SharedArrayBuffer(4);
    const pending = new Int32Array(pendingBuffer);
    const written = (chars: number) => (): void => {
      Atomics.sub(pending, 0, chars);
      Atomics.notify(pending, 0);
    };
    const worker = new Worker(ENGINE_THREAD_URL, {
      workerData: { argv, pending: pendingBuffer } satisfies EngineThreadData,
      resourceLimits: { maxYoungGenerationSizeMb: ENGINE_YOUNG_GENERATION_MB },
      // As for the reader thread (replay-pipeline.ts): the process's compile cache, and the
      // source condition where it comes from a test runner rather than the process's flags.
      ...(cacheDir !== undefined ? { env: { ...process.env, NODE_COMPILE_CACHE: cacheDir } } : {}),
      ...(fromSource && !process.execArgv.some((a) => a.includes('@llmsec/source'))
        ? { execArgv: ['--conditions=@llmsec/source'] }
        : {}),
    });
    let settled = false;
    worker.on('message', (message: EngineThreadMessage) => {
      if ('fd' in message) {
        (message.fd === 1 ? io.stdout : io.stderr).write(message.text, written(message.text.length));
      } else {
        settled = true;
        resolve(message.code);
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`replay engine thread exited with code ${code}`));
    });
  });
}

/** The command on this thread. */
export async function runReplayHere(argv: string[], io: CliIO): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let rules;
  try {
    rules = args.rules !== undefined ? loadRulesFile(args.rules) : undefined;
  } catch (err) {
    if (err instanceof RuleFileError) {
      io.stderr.write(`llmsec replay: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  let ruleset: string | undefined;
  if (args.state !== undefined) {
    try {
      const { connectRedis: connect } = await import('@llmsec/ratelimit/redis');
      redis = await connect(args.state, { cluster: args.cluster });
    } catch (err) {
      io.stderr.write(`llmsec replay: cannot connect to ${args.state}: ${(err as Error).message}\n`);
      return 1;
    }
    ruleset = args.ruleset ?? `replay-${Date.now().toString(36)}-${process.pid}`;
  }
  try {
    return await replay(args, rules, io, redis, ruleset);
  } finally {
    redis?.disconnect();
  }
}

async function replay(
  args: ReplayArgs,
  rules: ReturnType<typeof loadRulesFile> | undefined,
  io: CliIO,
  redis: Awaited<ReturnType<typeof connectRedis>> | undefined,
  ruleset: string | undefined,
): Promise<number> {
  const out = new OutBuffer(io.stdout);
  const tableRows: Alert[] = [];
  const byRule = new Map<string, { firing: number; resolved: number }>();
  const engine = new DetectionEngine({
    ...(rules !== undefined ? { rules } : {}),
    ...(args.latenessMs !== undefined ? { allowedLatenessMs: args.latenessMs } : {}),
    ...(redis !== undefined
      ? {
          // A replay feeds events faster than any round trip: the queue holds the whole
          // backlog (bounded, but generously) rather than dropping the oldest.
          state: new RedisDetectionState({
            redis,
            ...(ruleset !== undefined ? { ruleset } : {}),
            commandTimeoutMs: 5_000,
            maxQueuedEvents: 5_000_000,
          }),
        }
      : {}),
    onAlert: (alert) => {
      const counts = byRule.get(alert.rule) ?? { firing: 0, resolved: 0 };
      counts[alert.status]++;
      byRule.set(alert.rule, counts);
      if (args.format === 'jsonl') out.write(`${encodeAlert(alert)}\n`);
      else tableRows.push(alert);
    },
  });

  const started = performance.now();
  const cpuStart = cpuUsage();
  let lines = 0;
  let events = 0;
  let malformed = 0;
  // A file of garbage must not become a stderr line per input line: the first ones say it.
  const reportMalformed = (lineNumber: number, reason: string): void => {
    malformed++;
    if (malformed <= MAX_REPORTED_LINES) io.stderr.write(`line ${lineNumber}: ${reason}\n`);
    else if (malformed === MAX_REPORTED_LINES + 1) {
      io.stderr.write(`more malformed lines follow; only the first ${MAX_REPORTED_LINES} are shown\n`);
    }
  };
  // One thread: the engine gets of each event what its rules read, as on two threads, so the
  // events it holds for the allowed lateness do not keep previews and descriptions alive.
  const project = replayProjector(rules ?? defaultRules());
  const onLine = (line: string, lineNumber: number): void => {
    lines = lineNumber;
    if (line.length === 0) return;
    const first = line.charCodeAt(0);
    if ((first === 32 || first === 9) && line.trim().length === 0) return;
    try {
      const { event, timeMs } = decodeEventLineFast(line);
      events++;
      engine.ingest(project(event), timeMs);
    } catch (err) {
      reportMalformed(lineNumber, (err as Error).message);
    }
  };
  const onOverlong = (lineNumber: number, bytes: number): void => {
    lines = lineNumber;
    reportMalformed(
      lineNumber,
      `line of ${bytes} bytes is over --max-line-bytes ${args.maxLineBytes}; skipped`,
    );
  };
  let readerCpuMs: number | undefined;
  try {
    if (args.file !== undefined && args.threads === 2) {
      // The reader thread decodes exactly as onLine does and keeps of each event what the
      // rules read; the engine gets the same events in the same order.
      const read = await replayFileOnTwoThreads(
        { file: args.file, maxLineBytes: args.maxLineBytes, rules: rules ?? defaultRules() },
        {
          onEvent: (event, timeMs) => {
            events++;
            engine.ingest(event, timeMs);
          },
          onMalformed: reportMalformed,
          onOverlong,
        },
      );
      lines = read.lines;
      readerCpuMs = read.readerCpuMs;
    } else {
      // 512 KiB reads: the default 64 KiB costs a stream round trip per ~100 lines, and a chunk
      // over ~1 MB (Node's EXTERN_APEX, 0xFBEE9 bytes) decodes to an external string, memory V8
      // counts late: 1 MiB reads cost ~30-90 MB more peak RSS on a large replay, for no speed.
      const input: Readable =
        args.file !== undefined ? createReadStream(args.file, { highWaterMark: 512 << 10 }) : io.stdin;
      await forEachLine(input, onLine, { maxLineBytes: args.maxLineBytes, onOverlong });
    }
  } catch (err) {
    io.stderr.write(`llmsec replay: cannot read ${args.file ?? 'stdin'}: ${(err as Error).message}\n`);
    return 1;
  }
  if (redis !== undefined && args.shards > 1) {
    await engine.forceFlush();
    if (!(await shardBarrier(redis, `llmsec:det:{${ruleset}}:replay-read`, args.shards))) {
      io.stderr.write(
        `llmsec replay: not all ${args.shards} shards finished reading within 10 min; flushing anyway\n`,
      );
    }
  }
  engine.flush();
  // Shared state: the final flush runs against Redis; wait for it (and its alerts).
  await engine.forceFlush();
  if (redis !== undefined) await engine.shutdown();
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  if (args.format === 'table') out.write(formatAlertTable(tableRows));
  out.flush();

  // Every shard's final flush may open or resolve incidents: a shard that finished first and
  // counted at once counted fewer (or more) than the whole log. Count once all have flushed
  // (the time and CPU above are this shard's own, without the wait).
  if (
    redis !== undefined &&
    args.shards > 1 &&
    !(await shardBarrier(redis, `llmsec:det:{${ruleset}}:replay-flushed`, args.shards))
  ) {
    io.stderr.write(
      `llmsec replay: not all ${args.shards} shards finished their final flush within 10 min; counting anyway\n`,
    );
  }
  const stats = engine.stats;
  // Shared state: the incidents open in Redis (every shard's, as one replay of the whole log
  // would count them; this shard's fired minus resolved is wrong when another shard resolves
  // them), or, if Redis cannot be read at the end, this run's fired minus resolved.
  const open =
    redis !== undefined
      ? await engine.openIncidents().then(
          (list) => list.length,
          () => stats.alertsFired - stats.alertsResolved,
        )
      : engine.activeIncidents().length;
  const summary = [
    `llmsec replay: ${lines} lines, ${events} events, ${malformed} malformed, ${stats.droppedLate} late (dropped), ` +
      `${stats.droppedInvalid} without a usable time; ${seconds.toFixed(2)} s (${Math.round(lines / Math.max(seconds, 1e-9))} lines/s), ` +
      `${cpuSeconds.toFixed(2)} s CPU ${PER_THREAD_CPU ? "on the engine's thread" : 'in the process'} (${Math.round(lines / Math.max(cpuSeconds, 1e-9))} lines per CPU second)` +
      (readerCpuMs !== undefined ? ` + ${(readerCpuMs / 1000).toFixed(2)} s on the reader thread` : ''),
    `alerts: ${stats.alertsFired} firing, ${stats.alertsResolved} resolved, ${open} still firing at end of input`,
  ];
  for (const [rule, c] of [...byRule].sort((a, b) => a[0].localeCompare(b[0]))) {
    summary.push(
      `  ${rule.padEnd(28)} firing ${String(c.firing).padStart(6)}   resolved ${String(c.resolved).padStart(6)}`,
    );
  }
  if (stats.state !== undefined) {
    summary.push(
      `state: Redis ${args.state} ruleset ${ruleset} (${stats.state.mode}; ${stats.state.duplicates} duplicate events, ` +
        `${stats.state.conflicts} write conflicts, ${stats.state.queueDropped} dropped from a full queue)`,
    );
  }
  io.stderr.write(`${summary.join('\n')}\n`);
  return 0;
}

/**
 * A barrier in Redis: counts this shard as arrived at `key` (done reading, or done flushing) and
 * waits until all `shards` have, up to 10 min. Resolves false on the deadline.
 */
async function shardBarrier(
  redis: Awaited<ReturnType<typeof connectRedis>>,
  key: string,
  shards: number,
): Promise<boolean> {
  await redis.incr(key);
  await redis.pexpire(key, 3_600_000);
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    if (Number(await redis.get(key)) >= shards) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
