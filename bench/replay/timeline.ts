// Where a two-thread `llmsec replay FILE`'s wall time goes (issue 13): `node
// --conditions=@llmsec/source bench/replay/timeline.ts FILE [TREE ...] [--rounds N] [--built]`.
// Runs the replay as a user does (`packages/cli/src/bin.ts replay FILE`, or with --built the
// compiled `packages/cli/dist/bin.js`) in each TREE (default: this one), alternating trees round
// by round, with timeline-probe.ts preloaded: per thread (main, reader, engine) the times from
// exec of its start, first read, first and last batch posted / received and end, its CPU and its
// event loop's idle time; and, sampled from /proc (Linux), the CPU of every thread of the
// process by name: the two workers, V8's helper threads (the collector's parallel and concurrent
// work, background compilation: `V8Worker`), libuv's pool (file reads). On two cores a replay is
// bounded by all of them together, not by one thread's CPU. Medians over the rounds per tree.
// FILE: e.g. the bench corpus (`bench/replay/ab.ts --dir DIR` keeps one, `many.jsonl`).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { median, table } from '../report.ts';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const ROUNDS = Number(flag('--rounds') ?? 3);
const BUILT = args.includes('--built');
const [file, ...treeArgs] = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--rounds');
if (file === undefined) {
  console.error('usage: bench/replay/timeline.ts FILE [TREE ...] [--rounds N] [--built]');
  process.exit(2);
}
const trees = treeArgs.length > 0 ? treeArgs : [resolve(import.meta.dirname, '../..')];
const PROBE = resolve(import.meta.dirname, 'timeline-probe.ts');
const ENTRY = BUILT ? 'packages/cli/dist/bin.js' : 'packages/cli/src/bin.ts';
const TICK_MS = 10; // USER_HZ 100: /proc's CPU times are in 10 ms ticks

/** CPU ms of each thread of `pid` by thread id (name, ms), read from /proc. */
function threadCpu(pid: number, into: Map<number, { name: string; ms: number }>): void {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      into.set(Number(tid), { name, ms: (Number(rest[11]) + Number(rest[12])) * TICK_MS });
    } catch {
      // the thread ended between the listing and the read: its last sample stays
    }
  }
}

interface Run {
  wall: number;
  load: number;
  /** Per role: the probe's fields. */
  threads: Map<string, Record<string, string>>;
  /** CPU ms by thread name, summed (/proc). */
  byName: Map<string, number>;
}

async function once(tree: string): Promise<Run> {
  const source = BUILT ? [] : ['--conditions=@llmsec/source'];
  const t0 = performance.now();
  const child = spawn(process.execPath, [...source, '--import', PROBE, ENTRY, 'replay', file!], {
    cwd: tree,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const cpu = new Map<number, { name: string; ms: number }>();
  const timer = setInterval(() => threadCpu(child.pid!, cpu), 20);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(timer);
  const wall = performance.now() - t0;
  if (code !== 0) throw new Error(`${tree}: replay exited ${code}: ${stderr.slice(-500)}`);
  const threads = new Map<string, Record<string, string>>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('[timeline] ')) continue;
    const fields = Object.fromEntries(
      line
        .slice(11)
        .split(' ')
        .map((f) => f.split('=') as [string, string]),
    );
    threads.set(fields.role!.replace(/^reader\d+$/, 'reader'), fields);
  }
  const byName = new Map<string, number>();
  for (const { name, ms } of cpu.values()) byName.set(name, (byName.get(name) ?? 0) + ms);
  return { wall, load: loadavg()[0]!, threads, byName };
}

const runs = new Map<string, Run[]>(trees.map((t) => [t, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const tree of round % 2 === 0 ? trees : [...trees].reverse()) {
    const run = await once(tree);
    runs.get(tree)!.push(run);
    console.log(
      `round ${round + 1} ${tree}: wall ${(run.wall / 1000).toFixed(2)} s, load ${run.load.toFixed(1)}, CPU by thread ` +
        [...run.byName].map(([n, ms]) => `${n} ${(ms / 1000).toFixed(2)}`).join(', '),
    );
  }
}

const med = (xs: (number | undefined)[]): string => {
  const ok = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return ok.length > 0 ? median(ok).toFixed(0) : '';
};
const field = (rs: Run[], role: string, name: string): (number | undefined)[] =>
  rs.map((r) => {
    const v = r.threads.get(role)?.[name];
    return v !== undefined ? Number(v) : undefined;
  });
console.log(
  `\n${process.version}, ${ROUNDS} rounds, ${BUILT ? 'compiled (dist/)' : 'sources'}; ms from exec, medians`,
);
for (const [tree, rs] of runs) {
  console.log(
    `\n${tree}: wall ${med(rs.map((r) => r.wall))} ms (load ${rs.map((r) => r.load.toFixed(1)).join(' / ')}); ` +
      `CPU ms by thread name: ` +
      [...new Set(rs.flatMap((r) => [...r.byName.keys()]))]
        .map((n) => `${n} ${med(rs.map((r) => r.byName.get(n) ?? 0))}`)
        .join(', '),
  );
  table(
    [
      'thread',
      'start',
      'first read',
      'first post',
      'first batch in',
      'last post',
      'last batch in',
      'end',
      'CPU',
      'idle',
      'batches (whole / raw)',
    ],
    ['main', 'reader', 'engine'].map((role) => [
      role,
      ...[
        'start',
        'first_read',
        'first_post',
        'first_batch',
        'last_post',
        'last_batch',
        'end',
        'cpu_ms',
        'idle_ms',
      ].map((f) => med(field(rs, role, f))),
      role === 'reader'
        ? `${med(field(rs, role, 'posted'))} posted`
        : role === 'engine'
          ? `${med(field(rs, role, 'received'))} (${med(field(rs, role, 'whole'))} / ${med(field(rs, role, 'raw'))})`
          : '',
    ]),
  );
  const perEvent = (form: string): string => {
    const us = rs
      .map((r) => r.threads.get('engine')?.[`${form}_us`])
      .filter((v): v is string => v !== undefined && v !== '-')
      .map(Number);
    return us.length > 0
      ? `${median(us).toFixed(2)} us (${med(field(rs, 'engine', `${form}_n`))} events)`
      : '-';
  };
  console.log(
    `engine's listener per event (the deserialisation before it not included): projected ${perEvent('projected')}, ` +
      `whole ${perEvent('whole')}, raw lines ${perEvent('raw')}`,
  );
}
