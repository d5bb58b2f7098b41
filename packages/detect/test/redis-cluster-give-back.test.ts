import type { Alert } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { until } from '../../../test/support/until.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, MIN, SEC, T0 } from './helpers.ts';
import { useOomCluster } from './oom-cluster.ts';
import { freshRuleset, memoryAlerts, redisEngine } from './redis-support.ts';

/**
 * The give-back on a Redis Cluster: a round whose writes landed on two masters and were refused
 * on the third (out of memory) is held while degraded, the local engine's events taken meanwhile
 * are recorded, and on the return both go to Redis (the held batch resent, the recorded events
 * given back) where each group, whichever master holds it, counts each event once: mallory's
 * 5 blocks in the failed round and 5 while degraded open one incident, with the alert id one
 * in-memory engine gives; the users whose writes landed count theirs once (repeats on the resend).
 */

const oom = useOomCluster();

const firing = (alerts: Alert[], user: string) =>
  alerts
    .filter((a) => a.rule === 'rapid_guardrail_blocks' && a.status === 'firing' && a.labels.user_id === user)
    .map((a) => a.alert_id);

describe('RedisDetectionState on a Cluster: Redis back after a degraded episode', () => {
  it('the held round and the events taken while degraded count once, in Redis: one incident', async () => {
    const prefix = 'llmsec:det';
    const ruleset = freshRuleset('cluster-give-back');
    const groupKey = (user: string) => `${prefix}:{${ruleset}:user_id:${user}}`;
    const clockPort = await oom.ownerPort(`${prefix}:{${ruleset}}:clock`);
    // The master refusing writes: not the clock's (a round refused at its clock call sends no
    // write and goes local, by design), the one of mallory's group.
    const names = Array.from({ length: 64 }, (_, i) => `mallory${i}`);
    const ports = await Promise.all(names.map((n) => oom.ownerPort(groupKey(n))));
    const at = ports.findIndex((p) => p !== clockPort);
    const [mallory, full] = [names[at]!, ports[at]!];
    // Users whose groups are on the other masters: their writes of the failed round land.
    const others: string[] = [];
    for (let i = 0; others.length < 6; i++) {
      const u = `u${i}`;
      if ((await oom.ownerPort(groupKey(u))) !== full) others.push(u);
    }

    const { engine, alerts } = redisEngine(oom.client, defaultRules(), 60 * SEC, ruleset, {
      // Bounds on a hung call only: a refusal (OOM) answers at once.
      commandTimeoutMs: 10_000,
      probeIntervalMs: 50,
      shutdownGraceMs: 0,
    });
    const events: ReturnType<typeof ev>[] = [];
    const send = (e: ReturnType<typeof ev>) => {
      events.push(e);
      engine.ingest(e.event, e.t);
    };
    send(ev(block(T0 - SEC, 'alice')));
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('shared');

    const takeWrites = await oom.refuseWritesOn(full);
    // The failed round: mallory's 5 (refused) and one block of each other user (landed).
    for (let i = 0; i < 5; i++) send(ev(block(T0 + i * SEC, mallory)));
    for (const u of others) send(ev(block(T0 + 5 * SEC, u)));
    await engine.forceFlush();
    expect(engine.stats.state?.mode).toBe('degraded');
    // Held for the resend, not handed to the local engine.
    expect(engine.stats.state?.degradedEvents).toBe(0);
    // While degraded: 5 more of mallory's, recorded by the local engine.
    for (let i = 5; i < 10; i++) send(ev(block(T0 + i * SEC, mallory)));
    expect(engine.stats.state?.degradedEvents).toBe(5);

    await takeWrites();
    await until(() => engine.stats.state?.mode === 'shared', 60_000, 20);
    await engine.forceFlush();
    engine.advanceTo(T0 + 20 * MIN);
    await engine.forceFlush();
    const state = engine.stats.state!;
    expect(state.degradedEpisodes).toBe(1);
    // The held round whole, once more: the other users' blocks, in Redis already, repeats.
    expect(state.resent).toBe(5 + others.length);
    expect(state.duplicates).toBe(others.length);
    // The 5 taken while degraded given back to Redis, none processed locally.
    expect(state.degradedResent).toBe(5);
    expect(state.degradedNotResent).toBe(0);
    expect(state.heldToLocal).toBe(0);
    expect(engine.stats.droppedLate).toBe(0);
    // One incident, as one in-memory engine opens it (same alert id): not doubled.
    const memory = firing(memoryAlerts(defaultRules(), events, 60 * SEC), mallory);
    expect(memory).toHaveLength(1);
    expect(firing(alerts, mallory)).toEqual(memory);
    await engine.shutdown();
  }, 120_000);
});
