// Replay benchmark (`npm run bench:replay`, `-- --quick` for a smaller corpus): `llmsec replay`
// against its floor, reading the same file with readline + JSON.parse on the same Node, in the
// same run. A corpus like issue 13's (~1 M lines, previews on, tens of thousands of users) is
// written once to a temp file. Rows, each in random order per round on the shared machine:
// - in-process: the floor function vs the replay command's run() (the CLI path minus process
//   start), alert JSONL to a null stream, on two threads (the default for a file: a reader
//   thread decodes, the engine's thread runs the rules) and on one (`--threads 1`); a file
//   replay runs its engine on a worker thread, so the main-thread CPU column of its rows is
//   only the forwarding of output (its own summary gives the engine thread's);
// - subprocess: `node bench/replay/floor.ts FILE` vs `node packages/cli/src/bin.ts replay FILE`
//   (what a user runs, two threads) and with `--threads 1`, stdout to /dev/null; and the replay
//   with LLMSEC_REPLAY_READERS=2 (two reader threads on byte ranges of the file, the default only
//   with three cores or more) and =1 (one reader), to compare the two on the machine at hand;
//   and with LLMSEC_REPLAY_RAW_LINES=never (the reader decodes every line, never hands lines to
//   the engine's thread when it waits), to compare with the default (auto).
// Then resident memory: peak RSS of the replay subprocess on the corpus and on one with the
// same lines but few users (two threads and one); the difference per additional active user
// is the engine's state plus the garbage collector's room for it, told apart by the heap
// figures (each thread's at its own peak, summed over the main and the engine's thread).
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { seededRandom } from '@llmsec/core';
import { decodeEventLineFast, forEachLine } from '@llmsec/detect/replay';
import { command as replay } from '../../packages/cli/src/commands/replay.ts';
import { writeCorpus } from './corpus.ts';
import { floor } from './floor.ts';
import { parseRssReport } from './parse-rss-report.ts';
import { fmt, median, table } from '../report.ts';

const QUICK = process.argv.includes('--quick');
const LINES = QUICK ? 200_000 : 1_000_000;
const USERS = QUICK ? 20_000 : 60_000;
const FEW_USERS = 1_000;
const ROUNDS = QUICK ? 2 : 3;

setFlagsFromString('--expose-gc');
const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as () => void);

const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const REPORT_RSS = ['--import', './bench/replay/report-rss.ts'];
const NODE_ARGS = ['--conditions=@llmsec/source', ...REPORT_RSS];
const BUILT_CLI = 'packages/cli/dist/bin.js';

/** The published build of every package (incremental: seconds when it is current), so the
 *  built-CLI row runs the code of this tree, not a stale dist/. */
function buildPackages(): void {
  const run = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.build.json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`npm run build failed: ${(run.stdout + run.stderr).slice(0, 500)}`);
}

interface Timing {
  /** Wall clock. */
  seconds: number;
  /** CPU time of the process, all threads (JIT and GC helpers too), user + system. */
  cpu: number;
  /** CPU time of the main thread (in-process rows; NaN for subprocesses). */
  mainCpu: number;
}

interface Sub extends Timing {
  maxRssKb: number;
  /** The JS heaps at their largest (report-rss.ts; the main thread's plus the replay engine
   *  thread's): resident, used, young generation. */
  heapTotalKb: number;
  heapUsedKb: number;
  newSpaceKb: number;
  stderr: string;
}

function subprocess(args: string[], env?: Record<string, string>): Sub {
  const t0 = performance.now();
  const nodeArgs = args[0] === BUILT_CLI ? REPORT_RSS : NODE_ARGS;
  const run = spawnSync(process.execPath, [...nodeArgs, ...args], {
    ...(env !== undefined ? { env: { ...process.env, ...env } } : {}),
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 0)
    throw new Error(`${args.join(' ')} exited ${run.status}: ${run.stderr.slice(0, 500)}`);
  const m = parseRssReport(run.stderr);
  return {
    seconds,
    cpu: Number(m?.cpuUs) / 1e6,
    mainCpu: Number.NaN,
    maxRssKb: Number(m?.maxRssKb),
    heapTotalKb: Number(m?.heapTotalKb),
    heapUsedKb: Number(m?.heapUsedKb),
    newSpaceKb: Number(m?.newSpaceKb),
    stderr: run.stderr,
  };
}

/** Times `fn` by wall clock and by this process's CPU time (all threads, and the main one). */
async function timed<T>(fn: () => Promise<T>): Promise<Timing & { value: T }> {
  const cpu0 = process.cpuUsage();
  const main0 = process.threadCpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const main = process.threadCpuUsage(main0);
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6, mainCpu: (main.user + main.system) / 1e6, value };
}

async function inProcessReplay(file: string, threads: 1 | 2): Promise<Timing & { stderr: string }> {
  let stderr = '';
  const io = {
    stdin: Readable.from([]),
    stdout: new Writable({ write: (_c, _e, cb) => cb() }),
    stderr: new Writable({
      write: (c: Buffer, _e, cb) => {
        stderr += c.toString();
        cb();
      },
    }),
  };
  const t = await timed(() => replay.run([file, '--threads', String(threads)], io));
  if (t.value !== 0) throw new Error(`replay exited ${t.value}: ${stderr.slice(0, 500)}`);
  return { seconds: t.seconds, cpu: t.cpu, mainCpu: t.mainCpu, stderr };
}

async function readerDecoder(file: string): Promise<Timing> {
  let events = 0;
  const t = await timed(() =>
    forEachLine(createReadStream(file, { highWaterMark: 512 << 10 }), (line) => {
      if (line.length > 0) {
        decodeEventLineFast(line);
        events++;
      }
    }),
  );
  if (events !== LINES) throw new Error(`reader+decoder read ${events} events, expected ${LINES}`);
  return t;
}

async function inProcessFloor(file: string): Promise<Timing> {
  const t = await timed(() => floor(file));
  if (t.value !== LINES) throw new Error(`floor read ${t.value} lines, expected ${LINES}`);
  return t;
}

const dir = mkdtempSync(join(tmpdir(), 'llmsec-bench-replay-'));
try {
  console.log(`machine: ${process.version}, load average at start ${load()} (2 cores shared)`);
  buildPackages();
  const file = join(dir, 'events.jsonl');
  const t0 = performance.now();
  const corpus = await writeCorpus(file, { lines: LINES, users: USERS });
  console.log(
    `corpus: ${fmt(LINES)} lines, ${(corpus.bytes / 1e6).toFixed(0)} MB, ${fmt(corpus.users)} users, previews on ` +
      `(written in ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
  );

  // "reader+decoder": replay's own path without the engine (same stream options as replay).
  const rows = [
    'floor in-process',
    'reader+decoder in-process',
    'replay in-process',
    'replay in-process --threads 1',
    'floor subprocess',
    'replay subprocess',
    'replay subprocess --threads 1',
    'replay subprocess, 2 readers',
    'replay subprocess, 1 reader',
    'replay subprocess, raw lines never',
    'replay subprocess, built CLI',
  ] as const;
  const times = new Map<string, Timing[]>(rows.map((r) => [r, []]));
  const subs = new Map<string, Sub[]>(rows.map((r) => [r, []]));
  const summaries = new Map<string, string>();
  const random = seededRandom(42);
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...rows].sort(() => random() - 0.5);
    for (const row of order) {
      gc();
      if (row === 'floor in-process') times.get(row)!.push(await inProcessFloor(file));
      else if (row === 'reader+decoder in-process') times.get(row)!.push(await readerDecoder(file));
      else if (row.startsWith('replay in-process')) {
        const r = await inProcessReplay(file, row.endsWith('--threads 1') ? 1 : 2);
        times.get(row)!.push(r);
        summaries.set(row, r.stderr);
      } else {
        const readers = /, (\d) readers?$/.exec(row)?.[1];
        const r = subprocess(
          row === 'floor subprocess'
            ? ['bench/replay/floor.ts', file]
            : [
                row.endsWith('built CLI') ? BUILT_CLI : 'packages/cli/src/bin.ts',
                'replay',
                file,
                ...(row.endsWith('--threads 1') ? ['--threads', '1'] : []),
              ],
          readers !== undefined
            ? { LLMSEC_REPLAY_READERS: readers }
            : row.endsWith('raw lines never')
              ? { LLMSEC_REPLAY_RAW_LINES: 'never' }
              : undefined,
        );
        times.get(row)!.push(r);
        subs.get(row)!.push(r);
      }
    }
  }
  const med = (row: string, k: keyof Timing): number => median(times.get(row)!.map((t) => t[k]));
  const best = (row: string, k: keyof Timing): number => Math.min(...times.get(row)!.map((t) => t[k]));
  console.log(
    `Replay vs its floor, ${ROUNDS} rounds (random order per round). Wall clock suffers most from the ` +
      `shared machine; CPU is the process's user + system time, all threads.`,
  );
  table(
    [
      '',
      'wall s (med)',
      'x floor',
      'wall s (best)',
      'x floor',
      'CPU s (med)',
      'x floor',
      'lines/CPU s',
      'main-thread CPU s',
    ],
    rows.map((row) => {
      const base = row.includes('in-process') ? 'floor in-process' : 'floor subprocess';
      return [
        row,
        med(row, 'seconds').toFixed(2),
        (med(row, 'seconds') / med(base, 'seconds')).toFixed(2),
        best(row, 'seconds').toFixed(2),
        (best(row, 'seconds') / best(base, 'seconds')).toFixed(2),
        med(row, 'cpu').toFixed(2),
        (med(row, 'cpu') / med(base, 'cpu')).toFixed(2),
        fmt(LINES / med(row, 'cpu')),
        row.includes('in-process') ? med(row, 'mainCpu').toFixed(2) : '',
      ];
    }),
  );
  for (const [row, summary] of summaries) console.log(`${row}, its own summary (last run):\n${summary}`);

  // Resident memory per active user: same line count, few users vs many, on two threads (the
  // default: the reader thread's heap is part of the fixed base) and on one. Peaks are noisy
  // (GC timing): the run with the lower peak RSS of each, like the many-users figure (of the rounds).
  const few = join(dir, 'few-users.jsonl');
  const fewCorpus = await writeCorpus(few, { lines: LINES, users: FEW_USERS, seed: 14 });
  const lowest = (runs: Sub[]): Sub => runs.reduce((a, b) => (b.maxRssKb < a.maxRssKb ? b : a));
  const fewArgs = (threads: string[]): string[] => ['packages/cli/src/bin.ts', 'replay', few, ...threads];
  const floorRss = lowest(subs.get('floor subprocess')!).maxRssKb;
  const memoryRows: string[][] = [
    ['floor (readline + JSON.parse)', fmt(corpus.users), (floorRss / 1024).toFixed(0), '', '', ''],
  ];
  const mb = (kb: number): string => (kb / 1024).toFixed(0);
  const perUser = (many: number, fewKb: number): string =>
    `${fmt(((many - fewKb) * 1024) / (corpus.users - fewCorpus.users))} B`;
  for (const [label, row, threads] of [
    ['two threads', 'replay subprocess', []],
    ['--threads 1', 'replay subprocess --threads 1', ['--threads', '1']],
  ] as const) {
    const fewRun = lowest([subprocess(fewArgs([...threads])), subprocess(fewArgs([...threads]))]);
    const manyRun = lowest(subs.get(row)!);
    for (const [users, run] of [
      [fewCorpus.users, fewRun],
      [corpus.users, manyRun],
    ] as const) {
      memoryRows.push([
        `replay ${label}, ${fmt(users)} users`,
        fmt(users),
        mb(run.maxRssKb),
        mb(run.heapTotalKb),
        mb(run.newSpaceKb),
        mb(run.heapUsedKb),
      ]);
    }
    memoryRows.push([
      `  per additional active user (${label})`,
      '',
      perUser(manyRun.maxRssKb, fewRun.maxRssKb),
      perUser(manyRun.heapTotalKb, fewRun.heapTotalKb),
      perUser(manyRun.newSpaceKb, fewRun.newSpaceKb),
      perUser(manyRun.heapUsedKb, fewRun.heapUsedKb),
    ]);
  }
  console.log(
    'Peak resident memory (subprocess, maxRSS) and the JS heaps (main + engine thread) at their largest (sampled every ' +
      '25 ms): resident, of which the young generation, and the peak used (live + not yet collected)',
  );
  table(['', 'users', 'peak RSS MB', 'heap resident MB', 'young gen MB', 'heap used MB'], memoryRows);
  console.log(`load average at end ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
