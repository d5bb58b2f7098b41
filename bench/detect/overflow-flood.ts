// What a flood of invented ids costs at a full open-incident cap (`npx node
// --conditions=@llmsec/source bench/detect/overflow-flood.ts [newUsers] [pairs]`): one rule
// (system_prompt_leakage: one leak fires it), maxOpenIncidentsPerRule 10,000 filled by 10,000
// users, then `newUsers` (60,000) new users with one leak each. CPU time (process.cpuUsage) of
// the new users' events only, per event: the overflow tier off (maxOverflowIncidentsPerRule 0,
// the silent refusal), on (the default 1,000: an incident opened, fired and resolved early per
// event), and the same events below the cap (a cap of 100,000: each opens an ordinary
// incident). The three run in turn, `pairs` (3) times; the machine is shared, so read the
// ratios within one run. The "What a flood costs" figures (docs/performance/detect.md) come from this.
import type { Alert, SecurityEvent } from '@llmsec/core';
import { DetectionEngine, defaultRules } from '@llmsec/detect';

const NEW = Number(process.argv[2] ?? 60_000);
const PAIRS = Number(process.argv[3] ?? 3);
const CAP = 10_000;
const T0 = Date.parse('2026-12-05T00:00:00.000Z');
const rules = defaultRules().filter((r) => r.id === 'system_prompt_leakage');

const leak = (i: number, user: string): SecurityEvent => ({
  event_id: `e-${i}`,
  timestamp: new Date(T0 + i).toISOString(),
  category: 'system_prompt_leakage',
  severity: 'warning',
  user_id: user,
});
const fill = Array.from({ length: CAP }, (_, i) => leak(i, `filler-${i}`));
const flood = Array.from({ length: NEW }, (_, i) => leak(CAP + i, `invented-${i}`));

type Mode = 'tier off' | 'tier 1,000' | 'below cap';

function run(mode: Mode): { us: number; fired: number; resolved: number; early: number } {
  let fired = 0;
  let resolved = 0;
  const engine = new DetectionEngine({
    rules,
    allowedLatenessMs: 0,
    maxOpenIncidentsPerRule: mode === 'below cap' ? 100_000 : CAP,
    maxOverflowIncidentsPerRule: mode === 'tier off' ? 0 : 1_000,
    onAlert: (a: Alert) => (a.status === 'firing' ? fired++ : resolved++),
  });
  for (const e of fill) engine.ingest(e, Date.parse(e.timestamp));
  fired = 0;
  const start = process.cpuUsage();
  for (const e of flood) engine.ingest(e, Date.parse(e.timestamp));
  const cpu = process.cpuUsage(start);
  const early = engine.stats.overflowResolvedEarly;
  void engine.shutdown();
  return { us: (cpu.user + cpu.system) / NEW, fired, resolved, early };
}

console.log(
  `${NEW.toLocaleString('en-US')} new users at a full cap of ${CAP.toLocaleString('en-US')}, CPU us per event`,
);
console.log(
  'pair  tier off  tier 1,000  below cap  tier/off  tier/below  (firing, resolved lines with the tier)',
);
for (let p = 1; p <= PAIRS; p++) {
  const off = run('tier off');
  const on = run('tier 1,000');
  const below = run('below cap');
  console.log(
    `${String(p).padEnd(4)}  ${off.us.toFixed(2).padStart(8)}  ${on.us.toFixed(2).padStart(10)}  ${below.us
      .toFixed(2)
      .padStart(
        9,
      )}  ${(on.us / off.us).toFixed(2).padStart(7)}x  ${(on.us / below.us).toFixed(2).padStart(9)}x  ` +
      `(${on.fired}, ${on.resolved}; off ${off.fired}; early ${on.early})`,
  );
}
