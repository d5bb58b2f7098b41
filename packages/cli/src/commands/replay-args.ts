import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
// From the replay entry point, not the engine's: the starting thread parses the arguments and, for a
// file, hands the run to the engine's thread without loading the engine itself (replay.ts).
import { DEFAULT_MAX_LINE_BYTES, parseDuration } from '@llmsec/detect/replay';
import { decimalInteger } from '../decimal.ts';
import { joinDashValues } from '../dash-values.ts';
import { UsageError } from '../io.ts';

/** 10000000d, as a rule's window and quiet period (rule-schema.ts): an event time plus it stays a time. */
const MAX_LATENESS_MS = 864_000_000_000_000;

/**
 * --shard-timeout's default: ten of a live shard's heartbeats (one a second, replay-pace.ts),
 * so a busy or briefly stalled shard (a loaded machine, a slow stdin) is not taken for dead.
 */
export const DEFAULT_SHARD_TIMEOUT_MS = 10_000;

export const USAGE = `usage: llmsec replay [FILE|-] [--rules FILE] [--format jsonl|table] [--allowed-lateness DURATION]
                     [--max-line-bytes N] [--threads 1|2]
                     [--state redis://HOST:PORT [--cluster] [--ruleset NAME]
                      [--shards N [--shard-timeout DURATION]]]

Runs the detection rules over security-event JSONL in event time, as if the events were
happening now, and prints the alerts: one line per firing and one per resolve (alert JSONL),
or a table. A summary goes to stderr. Use it to backtest thresholds on weeks of logs before
enabling a rule. Both line formats: https://github.com/llmsec/llmsec/blob/main/docs/formats.md

  FILE                     events JSONL, plain or gzip-compressed; "-" or nothing reads stdin
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
  --state memory|URL       keep the detection state in Redis (default: memory). Shards of
                           one log replayed at the same time with the same --ruleset detect
                           as one replay of the whole log would
  --cluster                the --state URL is a seed node of a Redis Cluster
  --ruleset NAME           key namespace in Redis (default: a fresh one per run, printed in the
                           summary); give every shard of one replay the same name
  --shards N               this is one of N shards replayed at the same time: wait (up to 10
                           min) until all N have read their input before the final flush, and
                           until all N have flushed before counting what is still firing.
                           Shards pace each other by event time (none ships more than half
                           --allowed-lateness ahead of the slowest), on one thread each.
                           A shard that waits in vain prints its alerts, says its counts are
                           partial and exits 1
  --shard-timeout DUR      with --shards: a shard that has not said it is alive for this long
                           (each says so every second while it runs) is taken for dead and
                           holds the others back no more; they go on unpaced and say so
                           (default: 10s; at least 2s)

Malformed lines are reported on stderr as "line N: reason" (the first 1000; the summary
counts them all; control characters quoted from a line written as \\xNN, bidirectional
controls as \\uNNNN) and skipped. At the end of input, incidents whose quiet period has
passed by the last event time resolve; the others are still firing and are counted in the
summary.

Exit status: 0 replayed (some lines may have been malformed; also an empty or blank input), 1
the input could not be read or none of its lines was a security event, 2 bad usage or a rule
file that cannot be used (unreadable, invalid, or no rules), 130 / 143 interrupted by SIGINT /
SIGTERM (Ctrl-C): the alerts of the lines read so far and the summary are printed; a second
signal exits at once.`;

export interface ReplayArgs {
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
  /** --shard-timeout: how long a silent shard holds the others back (ms). */
  shardTimeoutMs: number;
}

/** The command line of `llmsec replay`; 'help' for --help. Throws UsageError. */
export function parse(argv: string[]): ReplayArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashValues(argv),
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
        'shard-timeout': { type: 'string' },
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
    // As a rule's window: with --state, the shared state's TTLs hold the lateness, and past
    // this every Redis write failed (the replay ran degraded, saying only that word).
    if (latenessMs > MAX_LATENESS_MS)
      throw new UsageError(
        '--allowed-lateness: must be at most 10000000d (an event time plus it must stay a timestamp)',
      );
  }
  const maxLineBytes =
    values['max-line-bytes'] !== undefined
      ? decimalInteger(values['max-line-bytes'])
      : DEFAULT_MAX_LINE_BYTES;
  if (maxLineBytes === undefined || maxLineBytes < 1) {
    throw new UsageError(
      `--max-line-bytes must be a positive integer in decimal digits, got "${values['max-line-bytes']}"`,
    );
  }
  if (values.threads !== undefined && values.threads !== '1' && values.threads !== '2') {
    throw new UsageError(`--threads must be 1 or 2, got "${values.threads}"`);
  }
  // "memory" is the default spelled out, as `llmsec detector --state memory|URL` takes it.
  const state = values.state === 'memory' ? undefined : values.state;
  if (state !== undefined && !/^rediss?:\/\//.test(state)) {
    throw new UsageError(`--state must be a redis:// or rediss:// URL, or memory, got "${state}"`);
  }
  // Options of the Redis state, given without one (or with --state memory): ignored, they would
  // let a shard meant to share state in Redis run alone in memory and say nothing.
  if (state === undefined && (values.cluster === true || values.ruleset !== undefined)) {
    throw new UsageError(`${values.cluster === true ? '--cluster' : '--ruleset'} needs --state redis://…`);
  }
  if (values.ruleset !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(values.ruleset)) {
    throw new UsageError('--ruleset must be 1-64 characters of [A-Za-z0-9_.:-]');
  }
  const shards = values.shards !== undefined ? decimalInteger(values.shards) : 1;
  if (shards === undefined || shards < 1 || shards > 1000) {
    throw new UsageError(
      `--shards must be an integer from 1 to 1000 in decimal digits, got "${values.shards}"`,
    );
  }
  if (shards > 1 && (state === undefined || values.ruleset === undefined)) {
    throw new UsageError(
      '--shards needs --state redis://… and --ruleset (the shards meet in Redis under one ruleset)',
    );
  }
  let shardTimeoutMs = DEFAULT_SHARD_TIMEOUT_MS;
  const shardTimeout = values['shard-timeout'];
  if (shardTimeout !== undefined) {
    if (shards < 2) throw new UsageError('--shard-timeout needs --shards N (N at least 2)');
    shardTimeoutMs = parseDuration(shardTimeout);
    if (Number.isNaN(shardTimeoutMs) || shardTimeoutMs < 2_000 || shardTimeoutMs > 86_400_000) {
      throw new UsageError(`--shard-timeout: a duration from 2s to 1d, got "${shardTimeout}"`);
    }
  }
  const file = positionals[0];
  return {
    shards,
    shardTimeoutMs,
    file: file === '-' ? undefined : file,
    rules: values.rules,
    format: values.format,
    latenessMs,
    maxLineBytes,
    // Two threads only help with a second core to run on.
    threads: values.threads === '1' || (values.threads === undefined && availableParallelism() < 2) ? 1 : 2,
    state,
    cluster: values.cluster ?? false,
    ruleset: values.ruleset,
  };
}
