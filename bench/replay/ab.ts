// A/B of two checkouts' `llmsec replay` (`node --conditions=@llmsec/source bench/replay/ab.ts
// BEFORE_DIR AFTER_DIR [--quick]`): each directory is a whole tree (e.g. `git archive REV | tar
// -x -C DIR`, node_modules linked), so that the engine can be held fixed while the replay path
// changes, or the other way round. Subprocesses as a user runs them (`packages/cli/src/bin.ts
// replay FILE`), both checkouts and the floor (readline + JSON.parse) in a random order per
// round, on two threads and on one, on the bench corpus (60 k users) and on one with the same
// lines but 1 k users: wall, process CPU (all threads), peak RSS, and RSS per additional user.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { seededRandom } from '@llmsec/core';
import { fmt, median, table } from '../report.ts';
import { writeCorpus } from './corpus.ts';

const [beforeDir, afterDir] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (beforeDir === undefined || afterDir === undefined) {
  console.error('usage: bench/replay/ab.ts BEFORE_DIR AFTER_DIR [--quick]');
  process.exit(2);
}
const QUICK = process.argv.includes('--quick');
const LINES = QUICK ? 200_000 : 1_000_000;
const ROUNDS = QUICK ? 2 : 3;
const REPORT = resolve(import.meta.dirname, 'report-rss.ts');

interface Run {
  seconds: number;
  cpu: number;
  maxRssKb: number;
}

function run(cwd: string, args: string[]): Run {
  const t0 = performance.now();
  const child = spawnSync(process.execPath, ['--conditions=@llmsec/source', '--import', REPORT, ...args], {
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

const dir = mkdtempSync(join(tmpdir(), 'llmsec-bench-replay-ab-'));
try {
  const many = join(dir, 'many.jsonl');
  const few = join(dir, 'few.jsonl');
  const manyCorpus = await writeCorpus(many, { lines: LINES, users: QUICK ? 20_000 : 60_000 });
  const fewCorpus = await writeCorpus(few, { lines: LINES, users: 1_000, seed: 14 });
  console.log(
    `${process.version}, load average ${loadavg()[0]!.toFixed(2)}; ${fmt(LINES)} lines, ` +
      `${fmt(manyCorpus.users)} and ${fmt(fewCorpus.users)} users; before ${beforeDir}, after ${afterDir}\n`,
  );
  const cases: { name: string; cwd: string; args: (file: string) => string[] }[] = [
    { name: 'floor', cwd: afterDir, args: (f) => ['bench/replay/floor.ts', f] },
  ];
  for (const [label, cwd] of [
    ['before', beforeDir],
    ['after', afterDir],
  ] as const) {
    cases.push({ name: `${label}, two threads`, cwd, args: (f) => ['packages/cli/src/bin.ts', 'replay', f] });
    cases.push({
      name: `${label}, --threads 1`,
      cwd,
      args: (f) => ['packages/cli/src/bin.ts', 'replay', f, '--threads', '1'],
    });
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
    ['', 'wall s (med)', 'x floor', 'CPU s (med)', 'x floor', 'peak RSS MB', 'RSS per added user'],
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
        (wall / floorWall).toFixed(2),
        cpu.toFixed(2),
        (cpu / floorCpu).toFixed(2),
        (minRss(runs) / 1024).toFixed(0),
        perUser,
      ];
    }),
  );
  console.log(`load average at end ${loadavg()[0]!.toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
