// Two engines A/B in one process, on the replay mix (`npx node --conditions=@llmsec/source
// bench/detect/engine-ab.ts BEFORE_DIR [--quick] [--rounds=N] [--request-rules] [--users=N]`): BEFORE_DIR is another checkout of the
// repository (e.g. `mkdir /tmp/before && git archive <rev> packages/detect packages/core | tar -x
// -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/node_modules`); its
// packages/detect/src/engine.ts runs against this tree's, rounds alternating (before, after,
// after, before, ...), default rules, the same 1 M events per user count, CPU time of the main
// thread per event. A round is one fresh engine over all the events, flushed. The machine is
// shared: the ratio of the medians in one run is the figure, not the nanoseconds.
// `--request-rules`: only the default rules that read request_completed (the slab's share);
// `--users=N`: one user count instead of 1,000 / 100,000 / 200,000.
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { DetectionEngine, defaultRules } from '@llmsec/detect';
import { median } from '../report.ts';
import { TrafficGenerator } from './gen.ts';

type EngineClass = typeof DetectionEngine;

const dir = process.argv[2];
if (dir === undefined || dir.startsWith('--')) {
  console.error('usage: engine-ab.ts BEFORE_DIR [--quick] [--rounds=N]');
  process.exit(2);
}
const QUICK = process.argv.includes('--quick');
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 4);
const before = (
  (await import(pathToFileURL(resolve(dir, 'packages/detect/src/engine.ts')).href)) as {
    DetectionEngine: EngineClass;
  }
).DetectionEngine;
const engines: Record<'before' | 'after', EngineClass> = { before, after: DetectionEngine };
const rules = process.argv.includes('--request-rules')
  ? defaultRules().filter((r) => r.match.categories.includes('request_completed'))
  : undefined;
const usersArg = process.argv.find((a) => a.startsWith('--users='))?.slice(8);
const userCounts = usersArg !== undefined ? [Number(usersArg)] : [1_000, 100_000, 200_000];

function cpuNs(since: NodeJS.CpuUsage): number {
  const u = process.threadCpuUsage(since);
  return (u.user + u.system) * 1000;
}

const total = QUICK ? 300_000 : 1_000_000;
console.log(
  `Engine A/B, ${rules ? 'the default request_completed rules' : 'default rules'}, replay mix, ${total.toLocaleString('en-US')} events, CPU ns per event, median of ${rounds} rounds per side (alternating)`,
);
console.log(`before: ${resolve(dir)}; after: this tree`);
console.log('users      before ns  after ns  before/after  after ev per CPU s  alerts same');
for (const users of userCounts) {
  const events = new TrafficGenerator({ seed: 9, users, stepMs: 50, attackerEvery: 20 }).chunk(total);
  const ns: Record<'before' | 'after', number[]> = { before: [], after: [] };
  const alerts: Record<'before' | 'after', string> = { before: '', after: '' };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const which of order) {
      let fired = 0;
      let digest = 0;
      const engine = new engines[which]({
        ...(rules ? { rules } : {}),
        onAlert: (a) => {
          fired++;
          for (let i = 0; i < a.alert_id.length; i++) digest = (digest * 31 + a.alert_id.charCodeAt(i)) | 0;
        },
      });
      const start = process.threadCpuUsage();
      for (let i = 0; i < events.length; i++) engine.ingest(events[i]!.event, events[i]!.t);
      engine.flush();
      ns[which].push(cpuNs(start) / total);
      alerts[which] = `${fired}:${digest}`;
    }
  }
  const b = median(ns.before);
  const a = median(ns.after);
  console.log(
    `${users.toLocaleString('en-US').padEnd(10)} ${b.toFixed(0).padStart(9)}  ${a.toFixed(0).padStart(8)}  ${(b / a).toFixed(2).padStart(11)}x  ${Math.round(
      1e9 / a,
    )
      .toLocaleString('en-US')
      .padStart(18)}  ${alerts.before === alerts.after ? 'yes' : `NO (${alerts.before} vs ${alerts.after})`}`,
  );
}
