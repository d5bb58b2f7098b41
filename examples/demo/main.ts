// `npm run demo`: llmsec catching attacks in about a minute, on embedded defaults (no Redis,
// no Docker, no network). Starts a fake LLM upstream, the example chat API with everything
// wired, and the seeded traffic simulator; shows progress and alerts as they fire; then prints
// who was caught and writes events.jsonl and alerts.jsonl.
//   npm run demo -- [--duration 60] [--out demo-out] [--seed 7]
//                   [--redis redis://127.0.0.1:6379] [--otlp http://127.0.0.1:4318]
//                   [--alertmanager http://127.0.0.1:9093] [--replicas N]
// --replicas N starts N chat-API processes and spreads each persona's requests round-robin
// over them; with --redis they share detection and limits and catch what one process would.
import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '@llmsec/core';
import { startChatApi } from '../chat-api/app.ts';
import { demoUpstreamScript } from '../chat-api/upstream-script.ts';
import { startFakeLlm } from '../fake-llm/server.ts';
import { drive } from '../simulator/driver.ts';
import { buildPersonas } from '../simulator/personas.ts';
import { checkAlertmanager, checkRedis, checkTcp } from './preflight.ts';
import { Progress } from './progress.ts';
import { startReplicas } from './replicas.ts';
import { formatSummary, summarise } from './summary.ts';

const USAGE = `usage: npm run demo -- [--duration SECONDS] [--out DIR] [--seed N] [--redis URL] [--otlp URL] [--alertmanager URL] [--replicas N]`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        duration: { type: 'string', default: '60' },
        out: { type: 'string', default: 'demo-out' },
        seed: { type: 'string', default: '7' },
        redis: { type: 'string' },
        otlp: { type: 'string' },
        alertmanager: { type: 'string' },
        replicas: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`demo: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const durationSec = Number(values.duration);
  const seed = Number(values.seed);
  if (!(durationSec > 0 && durationSec <= 3600) || !Number.isInteger(seed)) {
    console.error(`demo: --duration must be 1..3600 seconds and --seed an integer\n${USAGE}`);
    return 2;
  }
  const replicas = Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) {
    console.error(`demo: --replicas must be an integer from 1 to 16\n${USAGE}`);
    return 2;
  }
  if (replicas > 1 && !values.redis) {
    console.warn(
      `demo: WARNING: --replicas ${replicas} without --redis: detection and rate limits are per process, ` +
        'so each replica sees only its share of every user and attackers will be missed ' +
        '(add --redis redis://127.0.0.1:6379 to share them)',
    );
  }
  try {
    if (values.redis) await checkRedis(values.redis);
    if (values.alertmanager) await checkAlertmanager(values.alertmanager);
    if (values.otlp) await checkTcp(values.otlp, 'the OTLP endpoint');
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    return 1;
  }
  const outDir = resolve(values.out);

  const personas = buildPersonas(seededRandom(seed));
  const progress = new Progress(process.stdout, replicas);
  const upstream = await startFakeLlm({ script: demoUpstreamScript });
  const ruleset = `demo-${Date.now().toString(36)}-${process.pid}`;
  const group =
    replicas > 1
      ? await startReplicas({
          count: replicas,
          upstreamUrl: upstream.openaiBaseURL,
          outDir,
          ruleset,
          ...(values.redis ? { redisUrl: values.redis } : {}),
          ...(values.otlp ? { otlpEndpoint: values.otlp } : {}),
          ...(values.alertmanager ? { alertmanagerUrl: values.alertmanager } : {}),
        })
      : undefined;
  const api =
    group === undefined
      ? await startChatApi({
          upstream: { baseURL: upstream.openaiBaseURL, apiKey: 'fake-key' },
          outDir,
          ...(values.redis ? { redisUrl: values.redis } : {}),
          ...(values.otlp ? { otlpEndpoint: values.otlp } : {}),
          ...(values.alertmanager ? { alertmanagerUrls: [values.alertmanager] } : {}),
          onAlert: (alert) => progress.alert(alert),
        })
      : undefined;
  const targets = group?.urls ?? [api!.url];

  const requests = personas.reduce((n, p) => n + p.requests.length, 0);
  console.log(
    `llmsec demo: ${personas.length} personas, ${requests} requests over ${durationSec}s (seed ${seed})`,
  );
  if (group !== undefined) {
    console.log(
      `  chat API   ${replicas} replicas: ${targets.map((u) => `${u}/v1/chat/completions`).join('  ')}`,
    );
    console.log(
      `  detection  ${values.redis ? `shared in Redis ${values.redis} (ruleset ${ruleset})` : 'per process (no --redis)'}`,
    );
  } else {
    console.log(`  chat API   ${api!.url}/v1/chat/completions   metrics ${api!.url}/metrics`);
  }
  console.log(`  limiter    ${values.redis ? `Redis ${values.redis}` : 'in-memory store'}`);
  console.log(
    `  alerts     ${values.alertmanager ? `Alertmanager ${values.alertmanager} and ` : ''}${join(outDir, 'alerts.jsonl')}`,
  );
  console.log(`  telemetry  ${values.otlp ? `OTLP ${values.otlp}` : 'no OTLP export (use --otlp URL)'}\n`);

  progress.start();
  // Replicas write their alerts to files: show the new ones as they come.
  const poll =
    group !== undefined
      ? setInterval(() => group.newAlerts().forEach((a) => progress.alert(a)), 500)
      : undefined;
  const stats = await drive(personas, {
    target: targets,
    durationMs: durationSec * 1000,
    onResponse: (_persona, _request, status) => progress.response(status),
  });
  // Flushes telemetry and releases what detection still holds for reordering, so alerts
  // for the last requests are in before the summary.
  let alerts;
  if (group !== undefined) {
    await group.close();
    if (poll !== undefined) clearInterval(poll);
    for (const a of group.newAlerts()) progress.alert(a);
    alerts = group.merge().alerts;
  } else {
    await api!.close();
    alerts = api!.alerts;
  }
  progress.stop();
  await upstream.close();

  const summary = summarise(personas, stats, alerts);
  console.log('\n' + formatSummary(summary, replicas));
  const lines = (file: string): number => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  console.log(`wrote ${lines(join(outDir, 'events.jsonl'))} events to ${join(outDir, 'events.jsonl')}`);
  console.log(`wrote ${lines(join(outDir, 'alerts.jsonl'))} alert lines to ${join(outDir, 'alerts.jsonl')}`);
  console.log(`replay them: npx llmsec replay ${join(values.out, 'events.jsonl')} --format table`);
  return 0;
}

// Exit explicitly: keep-alive sockets of the simulator's HTTP client must not hold the demo open.
process.exit(await main());
