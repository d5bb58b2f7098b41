import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import {
  startRedis,
  startRedisCluster,
  type RedisClusterHandle,
  type RedisHandle,
} from '../../../test/support/redis.ts';
import { defaultRules, type EngineStats } from '../src/index.ts';
import { canonical, freshRuleset, memoryAlerts, sequences, type Timed } from './redis-support.ts';
import { incidentLines, rounds, untie } from './redis-split.ts';
import { build, draw } from './streams.ts';

/**
 * Three engines in three processes share one Redis (then a 3-master Redis Cluster), are fed a
 * scenario round-robin, and together print the alerts one in-memory engine prints for the
 * whole scenario: one firing and at most one resolved line per incident, across processes.
 */

const NODE = fileURLToPath(new URL('../../../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/engine-process.ts', import.meta.url));
const LATENESS = 30_000;

interface Child {
  proc: ChildProcess;
  alerts: Alert[];
  next(): Promise<{ ok: true; stats?: EngineStats }>;
  send(msg: unknown): void;
}

function startChild(config: unknown): Child {
  const proc = spawn(NODE, ['--conditions=@llmsec/source', CHILD, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const alerts: Alert[] = [];
  const waiting: ((v: { ok: true; stats?: EngineStats }) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { alert?: Alert; ok?: true; stats?: EngineStats };
    if (msg.alert) alerts.push(msg.alert);
    else waiting.shift()?.(msg as { ok: true; stats?: EngineStats });
  });
  return {
    proc,
    alerts,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    send: (msg) => proc.stdin!.write(`${JSON.stringify(msg)}\n`),
  };
}

async function call(child: Child, msg: unknown): Promise<{ ok: true; stats?: EngineStats }> {
  const reply = child.next();
  child.send(msg);
  return reply;
}

/** A scenario for the default rules: bursts of blocks, request runs, a campaign, leaks. */
function scenario(): Timed[] {
  const draws = fc.sample(
    draw.map((d) => ({
      ...d,
      user: d.user < 4 ? 0 : d.user,
      gapMs: d.gapMs % 8_000,
      jitterMs: d.jitterMs % 25_000,
      promptLength: d.kind % 3 === 0 ? d.promptLength : 200,
    })),
    { numRuns: 600, seed: 42 },
  );
  return untie(build(draws));
}

async function runProcesses(
  config: Record<string, unknown>,
  stream: Timed[],
): Promise<{ alerts: Alert[]; late: number; emitters: number }> {
  const children = [0, 1, 2].map(() => startChild(config));
  try {
    let i = 0;
    for (const round of rounds(stream, LATENESS)) {
      const shares: [unknown, number][][] = [[], [], []];
      for (const { event, t } of round) shares[i++ % 3]!.push([event, t]);
      await Promise.all(children.map((c, k) => call(c, { events: shares[k] })));
    }
    // Twice: the second lets each process sweep what the others' final events made due.
    for (let pass = 0; pass < 2; pass++) await Promise.all(children.map((c) => call(c, { flush: true })));
    const stats = await Promise.all(children.map((c) => call(c, { stop: true })));
    const late = stats.reduce((s, r) => s + (r.stats?.droppedLate ?? 0), 0);
    const emitters = children.filter((c) => c.alerts.length > 0).length;
    return { alerts: children.flatMap((c) => c.alerts), late, emitters };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill();
  }
}

describe('RedisDetectionState: three processes', () => {
  let server: RedisHandle;
  let cluster: RedisClusterHandle;
  const stream = scenario();
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
    const { alerts, late, emitters } = await runProcesses(
      { url: server.url, ruleset: freshRuleset('p3'), latenessMs: LATENESS },
      stream,
    );
    expect(late).toBe(0);
    expect(incidentLines(alerts).problems).toEqual([]);
    expect(sequences(alerts)).toEqual(sequences(want));
    expect(canonical(alerts)).toEqual(canonical(want));
    // The work really was spread: every process emitted some of the alerts.
    expect(emitters).toBe(3);
  }, 120_000);

  it('Redis Cluster (3 masters): the same', async () => {
    const { alerts, late } = await runProcesses(
      { nodes: cluster.nodes, ruleset: freshRuleset('c3'), latenessMs: LATENESS },
      stream,
    );
    expect(late).toBe(0);
    expect(incidentLines(alerts).problems).toEqual([]);
    expect(sequences(alerts)).toEqual(sequences(want));
    expect(canonical(alerts)).toEqual(canonical(want));
  }, 120_000);
});
