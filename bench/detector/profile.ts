// Profile driver for the detector's ingest path (no timing table, no comparison rows): the
// bench's requests decoded by the schema-specific reader and handed to EngineIngest (to-event +
// a fresh memory-state DetectionEngine per round), as the in-process handler row does minus
// body reading. Run under the profiler:
//   npx node --cpu-prof --cpu-prof-dir=/tmp/prof --conditions=@llmsec/source bench/detector/profile.ts [rounds] [stage]
// stage: 'e2e' (default: decode + to-event + engine), 'decode' (decode only), 'to-event'
// (decode + to-event), 'engine-fresh' (the engine alone on events decoded just before the round,
// untimed), 'engine-seen' (the engine alone on the same decoded events every round, as the
// bench's baseline), 'engine-generated' (the engine alone on the generator's own event objects).
// Prints records per CPU-second of this thread for each round.
import type { SecurityEvent } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { resolveDecodeLimits } from '../../packages/detector/src/otlp/limits.ts';
import { decodeLogsProto } from '../../packages/detector/src/otlp/proto-logs.ts';
import { logRecordToEvent } from '../../packages/detector/src/otlp/to-event.ts';
import { buildFixtures } from './fixtures.ts';
import { EngineIngest } from './pipeline.ts';

const rounds = Number(process.argv[2] ?? 5);
const stage = process.argv[3] ?? 'e2e';
const limits = resolveDecodeLimits();
const { bodies, records, events: generated } = buildFixtures(200, 512, 1_000);
const decodeAll = (): { event: SecurityEvent; t: number }[] => {
  const out: { event: SecurityEvent; t: number }[] = [];
  for (const b of bodies)
    for (const r of decodeLogsProto(b, limits)) out.push({ event: logRecordToEvent(r)!, t: r.timeMs });
  return out;
};
const seen = stage === 'engine-seen' ? decodeAll() : [];
const engineAlone = (events: { event: SecurityEvent; t: number }[]): number => {
  const engine = new DetectionEngine({ onAlert: () => {} });
  for (const { event, t } of events) engine.ingestOnce(event, t);
  return events.length;
};

const cpu = (): number => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1e6;
};

let sink = 0;
for (let round = 0; round < rounds; round++) {
  const fresh = stage === 'engine-fresh' ? decodeAll() : [];
  const c0 = cpu();
  if (stage === 'engine-fresh') sink += engineAlone(fresh);
  else if (stage === 'engine-seen') sink += engineAlone(seen);
  else if (stage === 'engine-generated') sink += engineAlone(generated);
  else if (stage === 'decode') {
    for (const b of bodies) sink += decodeLogsProto(b, limits).length;
  } else if (stage === 'to-event') {
    for (const b of bodies)
      for (const r of decodeLogsProto(b, limits)) if (logRecordToEvent(r) !== undefined) sink++;
  } else {
    const ingest = new EngineIngest();
    for (const b of bodies) ingest.logs(decodeLogsProto(b, limits));
    sink += ingest.accepted;
  }
  console.log(
    `round ${round}: ${Math.round(records / (cpu() - c0)).toLocaleString('en-US')} records/CPU-s (${stage})`,
  );
}
if (sink === 0) console.log('nothing decoded');
