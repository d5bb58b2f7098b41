import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { encodeAlert, type Alert } from '@llmsec/core';
import { LineSplitter } from '@llmsec/core/jsonl';
// The engine alone: the rule file parser (YAML, zod: ~170 modules, ~110 ms of CPU on the engine
// thread's start-up) is loaded for --rules only, the Redis state for --state only; the built-in
// rules come as data (default-rules.ts).
import { defaultRules, DetectionEngine } from '@llmsec/detect/engine';
import type { RedisDetectionState, RuleDefinition } from '@llmsec/detect';
// Type only: ioredis is loaded when --state asks for it, not on every replay's start-up.
import type { connectRedis } from '@llmsec/ratelimit/redis';
import {
  decodeEventLineFast,
  forEachLine,
  formatAlertTable,
  gunzipIfCompressed,
  replayFileOnTwoThreads,
  replayProjector,
  ReplayThreadUnavailableError,
  type ReplayReader,
} from '@llmsec/detect/replay';
import type { CliIO } from '../io.ts';
import { parse, USAGE, type ReplayArgs } from './replay-args.ts';
import { cpuUsage, PER_THREAD_CPU } from './replay-cpu.ts';
import { INTERRUPT_EXIT, NEVER_INTERRUPTED, type ReplayInterrupt } from './replay-interrupt.ts';
import { rateText } from './replay-rate.ts';
import { OutBuffer } from './replay-out-buffer.ts';
import { ShardPacer } from './replay-pace.ts';
import { barrierTimeoutMs, formatBarrierTimeout, shardBarrier } from './replay-shards.ts';
import { warnOneThread } from './replay-thread-fallback.ts';

// C0 and C1 control characters but tab and newline: what a terminal would act on; and the
// bidirectional controls and line / paragraph separators, which reorder or break the line
// shown without being seen (as the alert table escapes them, alert-table.ts).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * A reason as the operator's terminal may show it: JSON.parse's message quotes the start of
 * the line, so a hostile log could otherwise clear the screen or retitle the terminal through
 * the malformed-line report. Control characters are written as \xNN (\uNNNN past U+00FF).
 */
function printable(reason: string): string {
  return reason.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** DetectionEngine's default allowedLatenessMs: what a replay without --allowed-lateness runs with. */
const DEFAULT_LATENESS_MS = 5_000;

/** The lateness a replay ran with, as said to the user ("5s" by default). */
function formatLateness(ms: number | undefined): string {
  if (ms === undefined) return '5s';
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Malformed lines reported one by one; the summary counts all of them. */
const MAX_REPORTED_LINES = 1000;

/**
 * The command on this thread. `oneThread`: read here whatever --threads says (the engine's
 * thread could not start, so neither would the reader's: replay-thread-fallback.ts). `reader`:
 * the reader thread, started ahead for this file (replay.ts readAhead); the caller closes it.
 * `interrupt`: SIGINT / SIGTERM caught by the starting thread (replay-interrupt.ts): the reading
 * ends, what was read is replayed and printed, and the exit is 130 / 143.
 */
export async function runReplayHere(
  argv: string[],
  io: CliIO,
  oneThread = false,
  reader?: ReplayReader,
  interrupt: ReplayInterrupt = NEVER_INTERRUPTED,
): Promise<number> {
  const parsed = parse(argv);
  if (parsed === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const args: ReplayArgs = oneThread ? { ...parsed, threads: 1 } : parsed;
  let rules: RuleDefinition[] | undefined;
  if (args.rules !== undefined) {
    const { loadRulesFile, RuleFileError, categoryTypoWarnings } = await import('@llmsec/detect');
    try {
      // Errors name the path as given (its base name alone read `null: ...` for /dev/null).
      rules = loadRulesFile(args.rules, args.rules);
      // No rules: a backtest that cannot find anything would read as a clean "0 firing".
      if (rules.length === 0) {
        throw new RuleFileError(
          `${args.rules}: no rules (want a list of rules, or an object with a "rules" list)`,
        );
      }
      // A likely typo of a category (guardrail_blok) is valid but never fires: said, not refused.
      for (const w of categoryTypoWarnings(rules, args.rules))
        io.stderr.write(`llmsec replay: warning: ${w}\n`);
    } catch (err) {
      if (err instanceof RuleFileError) {
        io.stderr.write(`llmsec replay: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
  }
  // Read before connecting: a bad value is a usage error, not a half-run replay.
  const barrierMs = args.shards > 1 ? barrierTimeoutMs() : 0;

  let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
  let ruleset: string | undefined;
  let state: RedisDetectionState | undefined;
  if (args.state !== undefined) {
    try {
      const { connectRedis: connect } = await import('@llmsec/ratelimit/redis');
      redis = await connect(args.state, { cluster: args.cluster });
    } catch (err) {
      io.stderr.write(`llmsec replay: cannot connect to ${args.state}: ${(err as Error).message}\n`);
      return 1;
    }
    ruleset = args.ruleset ?? `replay-${Date.now().toString(36)}-${process.pid}`;
    const { RedisDetectionState: SharedState } = await import('@llmsec/detect');
    // A replay feeds events faster than any round trip: the queue holds the whole backlog
    // (bounded, but generously) rather than dropping the oldest.
    state = new SharedState({
      redis,
      ruleset,
      commandTimeoutMs: 5_000,
      maxQueuedEvents: 5_000_000,
      // A log's times are not the wall clock's: a log dated ahead of it (test data dated 2030)
      // is replayed as in memory, not dropped as 'future' or held to the clock.
      maxFutureSkewMs: Number.POSITIVE_INFINITY,
    });
  }
  try {
    return await replay(args, rules, io, redis, state, ruleset, barrierMs, reader, interrupt);
  } finally {
    redis?.disconnect();
  }
}

async function replay(
  args: ReplayArgs,
  rules: RuleDefinition[] | undefined,
  io: CliIO,
  redis: Awaited<ReturnType<typeof connectRedis>> | undefined,
  state: RedisDetectionState | undefined,
  ruleset: string | undefined,
  barrierMs: number,
  reader: ReplayReader | undefined,
  interrupt: ReplayInterrupt,
): Promise<number> {
  const out = new OutBuffer(io.stdout);
  const tableRows: Alert[] = [];
  const byRule = new Map<string, { firing: number; resolved: number }>();
  const engine = new DetectionEngine({
    ...(rules !== undefined ? { rules } : {}),
    ...(args.latenessMs !== undefined ? { allowedLatenessMs: args.latenessMs } : {}),
    ...(state !== undefined ? { state } : {}),
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
  // Exact copies of an event among the engine's last ids (in memory the last 256 events', on a
  // shared state its last dedupeCapacity), dropped by ingestOnce;
  // the summary adds the events dropped later as repeats in every group they reached
  // (stats.droppedRepeated): counted once, as the detector counts an event it receives twice (a
  // retried export, a record and a span event), so one log gives one answer on both
  // (test/parity-replay-detector.test.ts).
  let repeated = 0;
  let malformed = 0;
  // A file of garbage must not become a stderr line per input line: the first ones say it.
  const reportMalformed = (lineNumber: number, reason: string): void => {
    malformed++;
    if (malformed <= MAX_REPORTED_LINES) io.stderr.write(`line ${lineNumber}: ${printable(reason)}\n`);
    else if (malformed === MAX_REPORTED_LINES + 1) {
      io.stderr.write(`more malformed lines follow; only the first ${MAX_REPORTED_LINES} are shown\n`);
    }
  };
  // One thread: the engine gets of each event what its rules read, as on two threads, so the
  // events it holds for the allowed lateness do not keep previews and descriptions alive.
  const project = replayProjector(rules ?? defaultRules());
  // Shards of one log pace each other by event time through Redis (replay-pace.ts), so that no
  // shard ships events so far ahead of another's that the other's become late.
  const pacer =
    redis !== undefined && args.shards > 1
      ? new ShardPacer({
          redis,
          key: `llmsec:det:{${ruleset}}:replay-pace`,
          shards: args.shards,
          latenessMs: args.latenessMs ?? DEFAULT_LATENESS_MS,
          registerMs: barrierMs,
          staleMs: args.shardTimeoutMs,
          engine,
          onRepeated: () => repeated++,
          keyTtlMs: Math.max(3_600_000, 2 * barrierMs),
        })
      : undefined;
  const onLine = (line: string, lineNumber: number): void => {
    lines = lineNumber;
    if (line.length === 0) return;
    const first = line.charCodeAt(0);
    if ((first === 32 || first === 9) && line.trim().length === 0) return;
    try {
      const { event, timeMs } = decodeEventLineFast(line);
      events++;
      if (pacer !== undefined) pacer.add(project(event), timeMs);
      else if (!engine.ingestOnce(project(event), timeMs)) repeated++;
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
  let readError: Error | undefined;
  /** Reader threads (several on byte ranges of a large regular file). */
  let readers = 1;
  try {
    // Paced shards read here: the reader thread's events come with no way to hold them back.
    let oneThread = args.file === undefined || args.threads === 1 || pacer !== undefined;
    // Interrupted, paced shards ship what they hold without waiting for the others.
    if (pacer !== undefined) interrupt.onInterrupt(() => pacer.goUnpaced());
    // Interrupted before the reading began (while the rules loaded): nothing is read.
    if (!oneThread && interrupt.signal === undefined) {
      // Interrupted, the replay ends at once with the lines fed (ReplayAbortedError, the catch
      // below), not when the readers stop: one blocked on a pipe nobody writes would never.
      const abort = new AbortController();
      // The reader thread decodes exactly as onLine does and keeps of each event what the
      // rules read; the engine gets the same events in the same order.
      try {
        interrupt.onInterrupt(() => abort.abort());
        const read = await replayFileOnTwoThreads(
          {
            file: args.file!,
            maxLineBytes: args.maxLineBytes,
            rules: rules ?? defaultRules(),
            signal: abort.signal,
          },
          {
            onEvent: (event, timeMs) => {
              events++;
              if (!engine.ingestOnce(event, timeMs)) repeated++;
            },
            onMalformed: reportMalformed,
            onOverlong,
          },
          reader,
        );
        lines = read.lines;
        readerCpuMs = read.readerCpuMs;
        readers = read.readers;
      } catch (err) {
        // Its file missing (a bundle) or not loading: nothing was fed yet; read it here.
        if (!(err instanceof ReplayThreadUnavailableError)) throw err;
        // Interrupted before a batch came: nothing read, nothing to read here either.
        if (interrupt.signal === undefined) {
          warnOneThread(io, err.message);
          oneThread = true;
        }
      }
    }
    if (oneThread && interrupt.signal === undefined) {
      // 512 KiB reads: the default 64 KiB costs a stream round trip per ~100 lines, and a chunk
      // over ~1 MB (Node's EXTERN_APEX, 0xFBEE9 bytes) decodes to an external string, memory V8
      // counts late: 1 MiB reads cost ~30-90 MB more peak RSS on a large replay, for no speed.
      const raw: Readable =
        args.file !== undefined ? createReadStream(args.file, { highWaterMark: 512 << 10 }) : io.stdin;
      // Between two chunks: the lines of the chunks read are all replayed (a cut one is not).
      interrupt.onInterrupt(() => raw.destroy());
      // A gzip-compressed file or stdin is read decompressed (as on the reader thread).
      const input = Readable.from(gunzipIfCompressed(raw as AsyncIterable<Buffer>), { objectMode: false });
      if (pacer === undefined)
        await forEachLine(input, onLine, { maxLineBytes: args.maxLineBytes, onOverlong });
      else {
        // A chunk's events are held, then given to the engine as the other shards allow.
        const splitter = new LineSplitter(onLine, { maxLineBytes: args.maxLineBytes, onOverlong });
        for await (const chunk of input as AsyncIterable<Buffer>) {
          splitter.push(chunk);
          await pacer.drain();
        }
        splitter.end();
      }
    }
  } catch (err) {
    // Interrupted: the reader ended (a thread closed, a stream destroyed) is no read error.
    if (interrupt.signal === undefined) readError = err as Error;
    // Nothing lost: what was read before the error (a truncated .gz inflates up to its cut)
    // still runs through the rules, is flushed and printed with the summary, as zcat prints
    // what it could inflate; the error is said last, and the exit is 1.
    // The reader thread's count of the lines it read before the error (one thread counts here).
    const read = (err as { lines?: unknown }).lines;
    if (typeof read === 'number') lines = read;
  }
  // A shard that did not reach a barrier (died, or is later than the deadline) leaves this
  // shard's counts partial: the run still prints what it has, then exits 1.
  let barrierMissed = false;
  if (redis !== undefined && args.shards > 1) {
    // What was read before an error too (nothing lost); then this shard holds nobody back.
    await pacer?.finish();
    await engine.forceFlush();
    if (
      !(await shardBarrier(redis, `llmsec:det:{${ruleset}}:replay-read`, args.shards, barrierMs, interrupt))
    ) {
      barrierMissed = true;
      io.stderr.write(
        `llmsec replay: not all ${args.shards} shards finished reading within ${formatBarrierTimeout(barrierMs)}; flushing anyway\n`,
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

  // Nothing read and nothing alerted (the file missing, a directory, not readable): the error
  // alone, after the shard barriers below, not a summary of zeros or an empty table that reads
  // as the replay of an empty log.
  const cannotRead =
    readError !== undefined
      ? `llmsec replay: cannot read ${args.file ?? 'stdin'}: ${readError.message}`
      : undefined;
  const nothingRead =
    cannotRead !== undefined && lines === 0 && engine.stats.alertsFired + engine.stats.alertsResolved === 0;
  if (args.format === 'table' && !nothingRead) out.write(formatAlertTable(tableRows));
  out.flush();

  // Every shard's final flush may open or resolve incidents: a shard that finished first and
  // counted at once counted fewer (or more) than the whole log. Count once all have flushed
  // (the time and CPU above are this shard's own, without the wait).
  if (redis !== undefined && args.shards > 1) {
    if (
      !(await shardBarrier(
        redis,
        `llmsec:det:{${ruleset}}:replay-flushed`,
        args.shards,
        barrierMs,
        interrupt,
      ))
    ) {
      barrierMissed = true;
      io.stderr.write(
        `llmsec replay: not all ${args.shards} shards finished their final flush within ${formatBarrierTimeout(barrierMs)}; counting anyway\n`,
      );
    } else if (pacer !== undefined) {
      // Every shard has flushed, so none paces any more. Left, the run's done fields counted as
      // the next run's shards on this --ruleset (within the hash's hour): its first shard found
      // N registered, none live, and ran unpaced before its partners started, without a word.
      await redis.del(`llmsec:det:{${ruleset}}:replay-pace`).catch(() => undefined);
    }
  }
  if (nothingRead && interrupt.signal === undefined) {
    io.stderr.write(`${cannotRead}\n`);
    return 1;
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
      (repeated + stats.droppedRepeated > 0
        ? `${repeated + stats.droppedRepeated} repeated event ids (dropped), `
        : '') +
      `${stats.droppedInvalid} without a usable time; ${seconds.toFixed(2)} s${rateText(lines, seconds, 'lines/s')}, ` +
      `${cpuSeconds.toFixed(2)} s CPU ${PER_THREAD_CPU ? "on the engine's thread" : 'in the process'}${rateText(lines, cpuSeconds, 'lines per CPU second')}` +
      (readerCpuMs !== undefined
        ? ` + ${(readerCpuMs / 1000).toFixed(2)} s on the reader thread` +
          (readers > 1 ? `s (${readers})` : '')
        : ''),
    `alerts: ${stats.alertsFired} firing, ${stats.alertsResolved} resolved, ${open} still firing at end of input` +
      // A rule at its cap is an operator's concern even though it still alerts: say how many
      // incidents alerted from the overflow tier, and how many of those it resolved early.
      (stats.incidentsRefused > 0
        ? `; ${stats.incidentsRefused} incidents over maxOpenIncidentsPerRule alerted in the overflow tier` +
          (stats.overflowResolvedEarly > 0
            ? ` (${stats.overflowResolvedEarly} resolved early to make room)`
            : '')
        : '') +
      (barrierMissed
        ? `; counts partial: not all ${args.shards} shards reached the shard barrier within ${formatBarrierTimeout(barrierMs)}`
        : ''),
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
  // Shards share one event-time clock in Redis and pace each other by it (replay-pace.ts): no
  // shard ships events more than half the lateness ahead of the oldest another still holds, so
  // their late events are those of one replay of the whole log (replay-shards-pace.test.ts) as
  // long as every shard paces. What still differs: lines out of time order by more than half the
  // lateness, across the shards' sections or within one (one replay reads them in file order,
  // shards nearly in time order; a shard's frontier is its next block's, not a later straggler's), and a shard passed over (dead, never started, Redis failing), when the others
  // go on unpaced and may make each other's events late (before pacing: 1,830 of 3,000 incidents
  // on 2 shards of a 42 s log at 5 s).
  if (pacer?.unpaced === true) {
    summary.push(
      'llmsec replay: shards went on without pacing each other (a shard stopped or never started ' +
        `within ${formatBarrierTimeout(barrierMs)}, or Redis failed), so one may have run ahead of another ` +
        'and made its events late',
    );
  }
  if (args.shards > 1 && stats.droppedLate > 0) {
    summary.push(
      `llmsec replay: ${stats.droppedLate} events came later than --allowed-lateness ` +
        `(${formatLateness(args.latenessMs)}) behind the newest event time of the shards' shared state, ` +
        'and their incidents may be missed: shards pace each other to half the lateness, so these are ' +
        'late in one replay of the whole log too unless its lines are further out of time order across ' +
        "the shards. To count them, replay with --allowed-lateness at least the log's time span",
    );
  }
  // Input of which no line is an event (a log of another format, the wrong file) is a failure,
  // not "no alerts": a backtest that checks the exit status would take it for a clean log.
  // Some bad lines among good ones still succeed (counted above); empty input is no failure.
  const unreadable = events === 0 && malformed > 0;
  if (unreadable) {
    summary.push(
      `llmsec replay: no line could be read as a security event (${malformed} malformed); ` +
        'is it the events JSONL of https://github.com/llmsec/llmsec/blob/main/docs/formats.md?',
    );
  }
  if (cannotRead !== undefined) summary.push(cannotRead);
  // Read once: on the engine's thread the flag may be set by now though the read ended first.
  const signal = interrupt.signal;
  if (signal !== undefined) {
    summary.push(
      `llmsec replay: interrupted by ${signal} after ${lines} lines; the alerts and counts above are those of the lines read`,
    );
  }
  io.stderr.write(`${summary.join('\n')}\n`);
  if (signal !== undefined) return INTERRUPT_EXIT[signal];
  return barrierMissed || unreadable || readError !== undefined ? 1 : 0;
}
