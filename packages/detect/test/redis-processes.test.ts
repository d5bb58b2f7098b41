import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startRedis,
  startRedisCluster,
  type RedisClusterHandle,
  type RedisHandle,
} from '../../../test/support/redis.ts';
import { defaultRules } from '../src/index.ts';
import { fleetScenario, runProcesses } from './engine-children.ts';
import { canonical, freshRuleset, memoryAlerts, sequences } from './redis-support.ts';
import { incidentLines } from './redis-split.ts';

/**
 * Three engines in three processes share one Redis (then a 3-master Redis Cluster), are fed a
 * scenario round-robin, and together print the alerts one in-memory engine prints for the
 * whole scenario: one firing and at most one resolved line per incident, across processes.
 */

const LATENESS = 30_000;

describe('RedisDetectionState: three processes', () => {
  let server: RedisHandle;
  let cluster: RedisClusterHandle;
  const stream = fleetScenario();
  const want = memoryAlerts(defaultRules(), stream, LATENESS);

  beforeAll(async () => {
    server = await startRedis();
    cluster = await startRedisCluster(3);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  it('the scenario fires several rules (so agreement means something)', () => {
    expect(new Set(want.map((a) => a.rule)).size).toBeGreaterThanOrEqual(3);
    expect(want.filter((a) => a.status === 'resolved').length).toBeGreaterThan(3);
  });

  it('standalone Redis: round-robin over three processes = one memory engine', async () => {
    const config = { url: server.url, ruleset: freshRuleset('p3'), latenessMs: LATENESS };
    const { alerts, late, emitters } = await runProcesses([config, config, config], stream, LATENESS);
    expect(late).toBe(0);
    expect(incidentLines(alerts).problems).toEqual([]);
    expect(sequences(alerts)).toEqual(sequences(want));
    expect(canonical(alerts)).toEqual(canonical(want));
    // The work really was spread: every process emitted some of the alerts.
    expect(emitters).toBe(3);
  }, 300_000);

  it('Redis Cluster (3 masters): the same', async () => {
    const config = { nodes: cluster.nodes, ruleset: freshRuleset('c3'), latenessMs: LATENESS };
    const { alerts, late } = await runProcesses([config, config, config], stream, LATENESS);
    expect(late).toBe(0);
    expect(incidentLines(alerts).problems).toEqual([]);
    expect(sequences(alerts)).toEqual(sequences(want));
    expect(canonical(alerts)).toEqual(canonical(want));
  }, 300_000);
});
