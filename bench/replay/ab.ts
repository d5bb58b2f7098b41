// A/B of two checkouts' `llmsec replay` (`node --conditions=@llmsec/source bench/replay/ab.ts
// BEFORE_DIR AFTER_DIR [--quick]`): each directory is a whole tree (e.g. `git archive REV | tar
// -x -C DIR`, node_modules linked), so that the engine can be held fixed while the replay path
// changes, or the other way round. Subprocesses as a user runs them (`packages/cli/src/bin.ts
// replay FILE`), both checkouts and the floor (readline + JSON.parse) in a random order per
// round, on two threads and on one, on the bench corpus (60 k users) and on one with the same
// lines but 1 k users: wall, process CPU (all threads), peak RSS, and RSS per additional user.
// Medians with their interquartile range (q1-q3: how far the load moved a row between rounds);
// `--rounds N` for more rounds (default 3), `--dir DIR` to keep and reuse the two corpora.
// `--built`: the replays run the compiled packages (`packages/cli/dist/bin.js`, no source
// condition), what `npm install llmsec` gives a user (no type stripping, no .ts resolution);
// each tree needs `npx tsc -b tsconfig.build.json` first. The floor runs from source either way.
// The replays inherit the environment: `LLMSEC_REPLAY_READERS=2` (or 1) sets the reader threads
// of both trees' replays of the plain corpora (trees before b272e51 ignore it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { seededRandom } from '@llmsec/core';
import { fmt, median, table } from '../report.ts';
import { writeCorpus } from './corpus.ts';

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const [beforeDir, afterDir] = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--rounds' && all[i - 1] !== '--dir');
if (beforeDir === undefined || afterDir === undefined) {
  console.error(
    'usage: bench/replay/ab.ts BEFORE_DIR AFTER_DIR [--quick] [--rounds N] [--dir DIR] [--built]',
  );
  process.exit(2);
}
const QUICK = process.argv.includes('--quick');
const LINES = QUICK ? 200_000 : 1_000_000;
const ROUNDS = Number(flag('--rounds') ?? (QUICK ? 2 : 3));
const KEEP = flag('--dir');
const BUILT = process.argv.includes('--built');
const ENTRY = BUILT ? 'packages/cli/dist/bin.js' : 'packages/cli/src/bin.ts';
for (const tree of [beforeDir, afterDir]) {
  if (BUILT && !existsSync(join(tree, ENTRY))) {
    console.error(`${tree}: no ${ENTRY}; run npx tsc -b tsconfig.build.json there first`);
    process.exit(2);
  }
}
const REPORT = resolve(import.meta.dirname, 'report-rss.ts');

interface Run {
  seconds: number;
  cpu: number;
  maxRssKb: number;
}

function run(cwd: string, args: string[]): Run {
  const t0 = performance.now();
  // The compiled CLI resolves @llmsec/* to dist/ (no source condition); the report hook and the
  // floor are TypeScript, run as such by Node.
  const source = !(BUILT && args[0] === ENTRY) ? ['--conditions=@llmsec/source'] : [];
  const child = spawnSync(process.execPath, [...source, '--import', REPORT, ...args], {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (child.status !== 0)
    throw new Error(`${cwd}: ${args.join(' ')} exited ${child.status}: ${child.stderr.slice(0, 500)}`);
  const m = /maxrss_kb=(\d+) cpu_us=(\d+)/.exec(child.stderr);
  return { seconds, cpu: Number(m?.[2]) / 1e6, maxRssKb: Number(m?.[1]) };
}

/** q1-q3 of per-round figures. */
function iqr(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => {
    const x = q * (s.length - 1);
    const lo = Math.floor(x);
    return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (x - lo);
  };
  return `${at(0.25).toFixed(2)}-${at(0.75).toFixed(2)}`;
}

const dir = KEEP ?? mkdtempSync(join(tmpdir(), 'llmsec-bench-replay-ab-'));
if (KEEP !== undefined) mkdirSync(KEEP, { recursive: true });
/** The corpus, written unless --dir already holds it (same options, same bytes). */
async function corpus(file: string, users: number, seed?: number): Promise<{ users: number }> {
  if (KEEP !== undefined && existsSync(file) && statSync(file).size > 0) return { users };
  return writeCorpus(file, { lines: LINES, users, ...(seed !== undefined ? { seed } : {}) });
}
try {
  const many = join(dir, 'many.jsonl');
  const few = join(dir, 'few.jsonl');
  const manyCorpus = await corpus(many, QUICK ? 20_000 : 60_000);
  const fewCorpus = await corpus(few, 1_000, 14);
  console.log(
    `${process.version}, load average ${loadavg()[0]!.toFixed(2)}; ${fmt(LINES)} lines, ` +
      `${fmt(manyCorpus.users)} and ${fmt(fewCorpus.users)} users; before ${beforeDir}, after ${afterDir}; ` +
      `${BUILT ? 'compiled packages (dist/)' : 'sources'}\n`,
  );
  const cases: { name: string; cwd: string; args: (file: string) => string[] }[] = [
    { name: 'floor', cwd: afterDir, args: (f) => ['bench/replay/floor.ts', f] },
  ];
  for (const [label, cwd] of [
    ['before', beforeDir],
    ['after', afterDir],
  ] as const) {
    cases.push({ name: `${label}, two threads`, cwd, args: (f) => [ENTRY, 'replay', f] });
    cases.push({ name: `${label}, --threads 1`, cwd, args: (f) => [ENTRY, 'replay', f, '--threads', '1'] });
  }
  const results = new Map<string, Run[]>();
  const random = seededRandom(7);
  for (let round = 0; round < ROUNDS; round++) {
    for (const file of [many, few]) {
      for (const c of [...cases].sort(() => random() - 0.5)) {
        if (c.name === 'floor' && file === few) continue;
        const key = `${c.name}|${file}`;
        results.set(key, [...(results.get(key) ?? []), run(c.cwd, c.args(file))]);
      }
    }
  }
  const floor = results.get(`floor|${many}`)!;
  const floorWall = median(floor.map((r) => r.seconds));
  const floorCpu = median(floor.map((r) => r.cpu));
  const minRss = (runs: Run[]): number => Math.min(...runs.map((r) => r.maxRssKb));
  table(
    [
      '',
      'wall s (med)',
      'wall IQR',
      'x floor',
      'CPU s (med)',
      'CPU IQR',
      'x floor',
      'peak RSS MB',
      'RSS per added user',
    ],
    cases.map((c) => {
      const runs = results.get(`${c.name}|${many}`)!;
      const wall = median(runs.map((r) => r.seconds));
      const cpu = median(runs.map((r) => r.cpu));
      const fewRuns = results.get(`${c.name}|${few}`);
      const perUser =
        fewRuns !== undefined
          ? `${fmt(((minRss(runs) - minRss(fewRuns)) * 1024) / (manyCorpus.users - fewCorpus.users))} B`
          : '';
      return [
        c.name,
        wall.toFixed(2),
        iqr(runs.map((r) => r.seconds)),
        (wall / floorWall).toFixed(2),
        cpu.toFixed(2),
        iqr(runs.map((r) => r.cpu)),
        (cpu / floorCpu).toFixed(2),
        (minRss(runs) / 1024).toFixed(0),
        perUser,
      ];
    }),
  );
  console.log(`load average at end ${loadavg()[0]!.toFixed(2)}`);
} finally {
  if (KEEP === undefined) rmSync(dir, { recursive: true, force: true });
}
