// The export answer's latency of one `llmsec detector` on a real redis-server (which answers
// an export once its events are shipped to Redis: the detector README, "Replicas and event
// time"): 200 sequential OTLP/JSON exports of 6 scenario events each, one at a time, wall time
// from request to answer. Run with the sources condition in NODE_OPTIONS, so the detector child
// runs them too:
//   NODE_OPTIONS=--conditions=@llmsec/source npx node bench/detector/answer-latency.ts
import { loadavg } from 'node:os';
import { startDetectorProcess, tempDir, writeConfig } from '../../packages/detector/test/process-support.ts';
import { startRedis } from '../../test/support/redis.ts';
import { scenarioRun } from '../../test/support/scenarios/index.ts';
import { logsRequest } from '../../test/support/scenarios/otlp-json.ts';

const redis = await startRedis();
const dir = tempDir();
const detector = await startDetectorProcess(
  writeConfig(dir, 'd.json', {
    otlp: { http: '127.0.0.1:0', grpc: '127.0.0.1:0' },
    allowed_lateness: '15m',
    state: redis.url,
    sinks: { alerts: `${dir}/alerts.jsonl` },
  }),
);
try {
  const run = scenarioRun(3);
  const ms: number[] = [];
  for (let i = 0; i < 1200; i += 6) {
    const t = performance.now();
    const res = await fetch(`${detector.httpUrl}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: logsRequest(run.stream.slice(i, i + 6), i),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`export: ${res.status}`);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(ms.length * q))]!.toFixed(1);
  console.log(
    `exports ${ms.length}  p50 ${at(0.5)} ms  p90 ${at(0.9)} ms  max ${at(1)} ms  (load ${loadavg()[0]!.toFixed(1)})`,
  );
} finally {
  detector.kill('SIGTERM');
  await detector.exited;
  await redis.stop();
}
