// Acceptance scenarios through `llmsec replay` (one and two threads): the generator's traffic
// (test/support/scenarios: every rule at / one below / one above its figure, window edges,
// out-of-order and too-late deliveries, benign chats, agents and templates, unicode ids, every
// timestamp form) as an events file, the alerts held to what the docs say each scenario gives.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkAlerts, expectedCount, failures, parseAlerts } from './support/scenarios/check.ts';
import { LATENESS, scenarioRun, toJsonl } from './support/scenarios/index.ts';
import { startRedisCluster, type RedisClusterHandle } from './support/redis.ts';
import { useRedis } from './support/redis-per-file.ts';
import { runToEnd } from './support/run.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'packages', 'cli', 'src', 'bin.ts');
const dir = mkdtempSync(join(tmpdir(), 'llmsec-scenarios-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('acceptance scenarios through llmsec replay', () => {
  it('the check fails on a missing resolved line, a second firing line, a wrong user, an alert on a benign user', async () => {
    const run = scenarioRun(1);
    const file = join(dir, 'events-check.jsonl');
    writeFileSync(file, toJsonl(run.stream));
    const r = await runToEnd(
      process.execPath,
      [BIN, 'replay', file, '--allowed-lateness', LATENESS, '--threads', '1'],
      ROOT,
      30_000,
    );
    const alerts = parseAlerts(r.stdout);
    expect(failures(checkAlerts(run, alerts))).toEqual([]);
    const firing = alerts.findIndex((a) => a.rule === 'rapid_guardrail_blocks' && a.status === 'firing');
    const resolved = alerts.findIndex((a) => a.rule === 'coordinated_campaign' && a.status === 'resolved');
    const broken = [
      alerts.filter((_, i) => i !== resolved),
      [...alerts, alerts[firing]!],
      alerts.map((a, i) =>
        i === resolved ? { ...a, user_ids: [...a.user_ids.slice(1), 'someone-else'] } : a,
      ),
      [
        ...alerts,
        {
          ...alerts[firing]!,
          alert_id: 'ALR-0000000000000000',
          labels: { user_id: 'chat-0-' },
          user_ids: ['chat-0-'],
        },
      ],
    ];
    for (const b of broken) expect(failures(checkAlerts(run, b))).not.toEqual([]);
  });

  for (const seed of [1, 2]) {
    const run = scenarioRun(seed);
    const file = join(dir, `events-${seed}.jsonl`);
    writeFileSync(file, toJsonl(run.stream));
    for (const threads of ['1', '2']) {
      it(`seed ${seed}, --threads ${threads}: every scenario's incidents, fired once and resolved, nothing else`, async () => {
        const r = await runToEnd(
          process.execPath,
          [BIN, 'replay', file, '--allowed-lateness', LATENESS, '--threads', threads],
          ROOT,
          30_000,
        );
        expect(r.code, r.stderr).toBe(0);
        // One event was delivered an hour late (the hopper scenario): counted and dropped.
        expect(r.stderr).toContain(`${run.stream.length} events, 0 malformed, 1 late (dropped)`);
        const alerts = parseAlerts(r.stdout);
        expect(failures(checkAlerts(run, alerts))).toEqual([]);
        expect(alerts).toHaveLength(2 * expectedCount(run));
      });
    }
  }
});

describe('acceptance scenarios through llmsec replay on shared Redis state', () => {
  const redis = useRedis();
  let cluster: RedisClusterHandle | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });
  const run = scenarioRun(4);
  const file = join(dir, 'events-4.jsonl');
  writeFileSync(file, toJsonl(run.stream));
  const replay = async (state: string[]) => {
    const r = await runToEnd(
      process.execPath,
      [BIN, 'replay', file, '--allowed-lateness', LATENESS, ...state],
      ROOT,
      60_000,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${run.stream.length} events, 0 malformed, 1 late (dropped)`);
    const alerts = parseAlerts(r.stdout);
    expect(failures(checkAlerts(run, alerts))).toEqual([]);
    expect(alerts).toHaveLength(2 * expectedCount(run));
  };
  it('--state redis://… (standalone): the same incidents', async () => {
    await replay(['--state', redis.server.url]);
  }, 60_000);
  it('--state redis://… --cluster (3 masters): the same incidents', async () => {
    cluster = await startRedisCluster(3);
    await replay(['--state', `redis://127.0.0.1:${cluster.nodes[0]!.port}`, '--cluster']);
  }, 90_000);
});
