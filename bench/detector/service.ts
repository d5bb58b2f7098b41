// Detector service benchmark (`npm run bench:detector:service [-- --quick]`): what the service
// side adds between the receivers and the engine. Decoded OTLP log-record batches (512 records
// from 1,000 users, encoded by the real OTel protobuf encoder and decoded by the receivers'
// reader) go through
//   baseline: bench/detector/pipeline.ts's EngineIngest (to-event helper → engine.ingestOnce,
//             no queue: the "handler → engine" path of `npm run bench:detector`);
//   service:  the detector's DetectorIngest (to-event, reject tally, metrics) → bounded
//             IngestQueue (drained on setImmediate in chunks) → engine.ingestOnce, plus the
//             event-lag histogram, exactly as startDetector wires them;
//   service + decode: the same from the request bytes.
// Records per CPU-second of this thread, best of N, ratios against the baseline of this run.
import { cpus, loadavg } from 'node:os';
import { DetectionEngine } from '@llmsec/detect';
import { resolveDecodeLimits } from '../../packages/detector/src/otlp/limits.ts';
import { decodeLogsProto } from '../../packages/detector/src/otlp/proto-logs.ts';
import { DetectorIngest } from '../../packages/detector/src/service/detector-ingest.ts';
import {
  DEFAULT_SESSION_ATTRIBUTES,
  DEFAULT_USER_ATTRIBUTES,
} from '../../packages/detector/src/service/genai-attributes.ts';
import { IngestQueue } from '../../packages/detector/src/service/ingest-queue.ts';
import { DetectorMetrics } from '../../packages/detector/src/service/metrics.ts';
import { buildFixtures } from './fixtures.ts';
import { EngineIngest } from './pipeline.ts';
import { fmt } from '../report.ts';

const QUICK = process.argv.includes('--quick');
const BATCH = 512;
const BATCHES = QUICK ? 40 : 200;
const USERS = 1_000;
const REPEATS = QUICK ? 3 : 5;
const limits = resolveDecodeLimits();

function threadCpu(): number {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1e6;
}

async function measure(fn: () => Promise<void> | void): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const c0 = threadCpu();
    await fn();
    best = Math.min(best, threadCpu() - c0);
  }
  return best;
}

const load0 = loadavg();
const { bodies, records } = buildFixtures(BATCHES, BATCH, USERS);
const decoded = bodies.map((b) => decodeLogsProto(b, limits));
console.log(
  `detector service bench: ${fmt(records)} llmsec log records in ${BATCHES} batches of ${BATCH}, ${USERS} users; ` +
    `best of ${REPEATS}; ${cpus().length} CPUs, load average ${load0.map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`,
);

let baselineAlerts = 0;
const baseline = await measure(() => {
  const ingest = new EngineIngest();
  for (const batch of decoded) ingest.logs(batch);
  if (ingest.accepted !== records) throw new Error(`baseline took ${ingest.accepted} of ${records}`);
  baselineAlerts = ingest.alerts;
});

/** The service side as startDetector builds it (memory state, default rules, lag sampled 1 in 16). */
function service() {
  let alerts = 0;
  const engine = new DetectionEngine({ onAlert: () => void alerts++ });
  let queue: IngestQueue | undefined;
  const metrics = new DetectorMetrics({
    queueDepth: () => queue?.depth ?? 0,
    stateHealthy: () => ({ store: 'memory', healthy: true }),
  });
  let sample = 0;
  queue = new IngestQueue({
    capacity: 200_000,
    process: (event, timeMs) => {
      engine.ingestOnce(event, timeMs);
      if ((sample++ & 15) === 0) metrics.eventLag(Math.max(0, Date.now() - timeMs) / 1000);
    },
    onError: (err) => {
      throw err;
    },
  });
  const ingest = new DetectorIngest({
    queue,
    metrics,
    genAi: { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES },
    onError: (err) => {
      throw err;
    },
  });
  return { engine, queue, ingest, metrics, alerts: () => alerts };
}

let serviceAlerts = 0;
const viaService = await measure(async () => {
  const s = service();
  for (const batch of decoded) {
    const r = s.ingest.logs(batch);
    if (r.kind !== 'accepted' || r.rejected !== 0) throw new Error(`service answered ${JSON.stringify(r)}`);
    // One export request at a time, as a Collector exporter sends them by default.
    await s.queue.whenIdle();
  }
  if (s.engine.stats.ingested !== records)
    throw new Error(`service engine took ${s.engine.stats.ingested} of ${records}`);
  serviceAlerts = s.alerts();
  await s.metrics.shutdown();
});

const withDecode = await measure(async () => {
  const s = service();
  for (const body of bodies) {
    s.ingest.logs(decodeLogsProto(body, limits));
    await s.queue.whenIdle();
  }
  if (s.engine.stats.ingested !== records)
    throw new Error(`service engine took ${s.engine.stats.ingested} of ${records}`);
  await s.metrics.shutdown();
});

// The baseline again, last: the best of both runs, so JIT warm-up does not favour the later rows.
const baselineAgain = await measure(() => {
  const ingest = new EngineIngest();
  for (const batch of decoded) ingest.logs(batch);
});
const baselineBest = Math.min(baseline, baselineAgain);

if (serviceAlerts !== baselineAlerts)
  throw new Error(`alerts differ: service ${serviceAlerts}, baseline ${baselineAlerts}`);
const rate = (cpu: number): number => records / cpu;
const rows: [string, number][] = [
  ['EngineIngest: to-event → engine (baseline)', baselineBest],
  ['DetectorIngest → IngestQueue → engine', viaService],
  ['decode + DetectorIngest → IngestQueue → engine', withDecode],
];
console.log(`${'path'.padEnd(50)} ${'records/CPU-s'.padStart(14)} ${'vs baseline'.padStart(12)}`);
for (const [name, cpu] of rows) {
  console.log(
    `${name.padEnd(50)} ${fmt(rate(cpu)).padStart(14)} ${`${(baselineBest / cpu).toFixed(2)}×`.padStart(12)}`,
  );
}
console.log(
  `alerts: ${serviceAlerts} (same as the baseline); load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
