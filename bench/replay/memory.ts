// RSS per added active user of `llmsec replay`, alone and with variants (issue 13): peak RSS of
// the replay subprocess on a corpus with many users and on the same line count with 1,000
// users, each variant run REPS times in random order per round (the machine is shared), the
// lowest peak of each kept as in bench:replay's memory table; wall and CPU (all threads) of
// the many-users run beside, as ratios to the first variant in the same run.
//   npx node --conditions=@llmsec/source bench/replay/memory.ts [--dir DIR] [--reps N]
//     [--variant 'label=node args...|replay args...']...
// With --dir, the corpora are written there once and reused by later runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '@llmsec/core';
import { writeCorpus } from './corpus.ts';
import { parseRssReport } from './parse-rss-report.ts';
import { fmt, median, table } from '../report.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    reps: { type: 'string', default: '2' },
    lines: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '60000' },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
const LINES = Number(values.lines);
const USERS = Number(values.users);
const FEW = 1_000;
const REPS = Number(values.reps);
const variants = (
  values.variant.length > 0 ? values.variant : ['two threads=|', '--threads 1=|--threads 1']
).map((v) => {
  const eq = v.indexOf('=');
  const bar = v.indexOf('|', eq);
  if (eq < 0 || bar < 0) throw new Error(`--variant 'label=node args|replay args', got "${v}"`);
  const [label, node, args] = [v.slice(0, eq), v.slice(eq + 1, bar), v.slice(bar + 1)];
  return { label, node: node.split(' ').filter(Boolean), args: args.split(' ').filter(Boolean) };
});

interface Run {
  seconds: number;
  cpu: number;
  rssKb: number;
  heapTotalKb: number;
  heapUsedKb: number;
  newSpaceKb: number;
  alerts: string;
}

function run(nodeArgs: string[], file: string, args: string[]): Run {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      '--conditions=@llmsec/source',
      '--import',
      './bench/replay/report-rss.ts',
      ...nodeArgs,
      'packages/cli/src/bin.ts',
      'replay',
      file,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 256 << 20 },
  );
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0)
    throw new Error(`replay ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  const m = parseRssReport(r.stderr);
  if (m === undefined) throw new Error(`no figures from report-rss.ts: ${r.stderr.slice(-500)}`);
  return {
    seconds,
    cpu: m.cpuUs / 1e6,
    rssKb: m.maxRssKb,
    heapTotalKb: m.heapTotalKb,
    heapUsedKb: m.heapUsedKb,
    newSpaceKb: m.newSpaceKb,
    alerts: r.stdout,
  };
}

const dir = values.dir ?? mkdtempSync(join(tmpdir(), 'llmsec-bench-replay-mem-'));
mkdirSync(dir, { recursive: true });
try {
  const many = join(dir, `many-${LINES}-${USERS}.jsonl`);
  const few = join(dir, `few-${LINES}-${FEW}.jsonl`);
  if (!existsSync(many)) await writeCorpus(many, { lines: LINES, users: USERS });
  if (!existsSync(few)) await writeCorpus(few, { lines: LINES, users: FEW, seed: 14 });
  const load = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(
    `machine: ${process.version}, 2 cores shared, load at start ${load()}; ${fmt(LINES)} lines, ${fmt(USERS)} vs ${fmt(FEW)} users, ${REPS} reps`,
  );
  const runs = variants.map(() => ({ many: [] as Run[], few: [] as Run[] }));
  const random = seededRandom(Date.now());
  for (let rep = 0; rep < REPS; rep++) {
    const jobs = variants.flatMap(
      (_, i) =>
        [
          [i, 'many'],
          [i, 'few'],
        ] as const,
    );
    jobs.sort(() => random() - 0.5);
    for (const [i, which] of jobs) {
      const v = variants[i]!;
      runs[i]![which].push(run(v.node, which === 'many' ? many : few, v.args));
    }
  }
  const alerts = runs[0]!.many[0]!.alerts;
  const lowest = (rs: Run[]): Run => rs.reduce((a, b) => (b.rssKb < a.rssKb ? b : a));
  const perUser = (a: number, b: number): string => fmt(((a - b) * 1024) / (USERS - FEW));
  const base = runs[0]!.many;
  table(
    [
      '',
      'peak RSS MB many / few',
      'RSS B/user',
      'all peaks B/user',
      'heap res B/user',
      'young B/user',
      'heap used B/user',
      'wall s (med)',
      'x first',
      'CPU s (med)',
      'x first',
      'alerts same',
    ],
    variants.map((v, i) => {
      const { many: m, few: f } = runs[i]!;
      const lm = lowest(m);
      const lf = lowest(f);
      return [
        v.label,
        `${(lm.rssKb / 1024).toFixed(0)} / ${(lf.rssKb / 1024).toFixed(0)}`,
        perUser(lm.rssKb, lf.rssKb),
        m.map((r, k) => perUser(r.rssKb, f[k]!.rssKb)).join(' '),
        perUser(lm.heapTotalKb, lf.heapTotalKb),
        perUser(lm.newSpaceKb, lf.newSpaceKb),
        perUser(lm.heapUsedKb, lf.heapUsedKb),
        median(m.map((r) => r.seconds)).toFixed(2),
        (median(m.map((r) => r.seconds)) / median(base.map((r) => r.seconds))).toFixed(2),
        median(m.map((r) => r.cpu)).toFixed(2),
        (median(m.map((r) => r.cpu)) / median(base.map((r) => r.cpu))).toFixed(2),
        String(m.every((r) => r.alerts === alerts)),
      ];
    }),
  );
  console.log(`load at end ${load()}`);
} finally {
  if (values.dir === undefined) rmSync(dir, { recursive: true, force: true });
}
