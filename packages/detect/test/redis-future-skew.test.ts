/**
 * The shared clock and an event stamped ahead of the wall clock, within the state's
 * maxFutureSkewMs (1 h): the shared clock only moves forward, so such an event moved it to its
 * own time and every process's real events after it were late until then (a record 30 minutes
 * ahead: the attack behind it dropped, no alert; sent again every 59 minutes, for good). Event
 * time now moves no further than the clock; the event waits, pending in its group, until the
 * clock reaches it, and the end of input (flush) takes it as before.
 */
import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import {
  DetectionEngine,
  RedisDetectionState,
  defaultRules,
  type CodeRule,
  type Condition,
} from '../src/index.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { injectionBlock } from './helpers.ts';

const db = useRedis();

const firing = (alerts: Alert[]) =>
  alerts.filter((a) => a.status === 'firing').map((a) => `${a.rule} ${a.user_ids.join(',')}`);

describe('RedisDetectionState: an event stamped ahead of the clock, within the bound', () => {
  it('does not make the events after it late, in this process or another', async () => {
    const ruleset = freshRuleset('ahead');
    const a = redisEngine(db.redis, defaultRules(), 2_000, ruleset);
    const b = redisEngine(db.redis, defaultRules(), 2_000, ruleset);
    const now = Date.now();
    a.engine.ingest(injectionBlock('EVT-ahead', 'forger', now + 30 * 60_000), now + 30 * 60_000);
    await a.engine.forceFlush();
    // mallory's attack, 12 blocks stamped as they come, half through each process
    for (let i = 0; i < 12; i++) {
      const t = Date.now();
      (i % 2 === 0 ? a : b).engine.ingest(injectionBlock(`EVT-${i}`, 'mallory', t), t);
    }
    await a.engine.forceFlush();
    await b.engine.forceFlush();
    // event time reaches the clock past the lateness: what is older is processed
    await new Promise((r) => setTimeout(r, 2_100));
    b.engine.advanceTo(Date.now());
    await b.engine.forceFlush();
    const detail = JSON.stringify({ a: a.engine.stats.droppedLate, b: b.engine.stats.droppedLate });
    expect(a.engine.stats.droppedLate + b.engine.stats.droppedLate, detail).toBe(0);
    expect([...firing(a.alerts), ...firing(b.alerts)]).toContain('rapid_guardrail_blocks mallory');
    // the end of input takes the early event too
    a.engine.flush();
    b.engine.flush();
    await a.engine.forceFlush();
    await b.engine.forceFlush();
    expect(a.engine.stats.processed + b.engine.stats.processed).toBe(13);
    await a.engine.shutdown();
    await b.engine.shutdown();
  });

  // A replica leaving (shutdown without flush: a rolling upgrade) is not the end of the fleet's
  // input, so its last round must not move the shared clock to the early event either: it did
  // (a final round took the newest shipped time, the forged one included), and every other
  // replica's events were late for the next 30 minutes.
  it('a replica leaving does not move the shared clock to the early event', async () => {
    const ruleset = freshRuleset('ahead-leave');
    const a = redisEngine(db.redis, defaultRules(), 2_000, ruleset, { shutdownGraceMs: 0 });
    const b = redisEngine(db.redis, defaultRules(), 2_000, ruleset);
    const ahead = Date.now() + 30 * 60_000;
    a.engine.ingest(injectionBlock('EVT-ahead', 'forger', ahead), ahead);
    await a.engine.forceFlush();
    await a.engine.shutdown();
    for (let i = 0; i < 12; i++) {
      const t = Date.now();
      b.engine.ingest(injectionBlock(`EVT-${i}`, 'mallory', t), t);
      // b reads the shared clock each round, as a replica that keeps running does
      if (i % 4 === 3) await b.engine.forceFlush();
    }
    await b.engine.forceFlush();
    await new Promise((r) => setTimeout(r, 2_100));
    b.engine.advanceTo(Date.now());
    await b.engine.forceFlush();
    expect(b.engine.stats.droppedLate).toBe(0);
    expect(firing(b.alerts)).toContain('rapid_guardrail_blocks mallory');
    await b.engine.shutdown();
  });

  it('tick() does not move the shared clock past the wall clock (a live engine)', async () => {
    const ruleset = freshRuleset('ahead-tick');
    const alerts: Alert[] = [];
    const make = () =>
      new DetectionEngine({
        rules: defaultRules(),
        allowedLatenessMs: 2_000,
        maxFutureSkewMs: 3_600_000,
        state: new RedisDetectionState({ redis: db.redis, ruleset, commandTimeoutMs: 5_000 }),
        onAlert: (alert) => alerts.push(alert),
      });
    const a = make();
    const b = make();
    a.tick();
    const ahead = Date.now() + 30 * 60_000;
    a.ingest(injectionBlock('EVT-ahead', 'forger', ahead), ahead);
    await a.forceFlush();
    await new Promise((r) => setTimeout(r, 50));
    a.tick(); // idle since the event: event time moves on by the idle time, from the newest
    await a.forceFlush();
    // b learns the shared clock (its first round), as a process that has been running has
    const first = Date.now();
    b.ingest(injectionBlock('EVT-b0', 'bob', first), first);
    await b.forceFlush();
    for (let i = 0; i < 12; i++) {
      const t = Date.now();
      b.ingest(injectionBlock(`EVT-${i}`, 'mallory', t), t);
    }
    await b.forceFlush();
    await new Promise((r) => setTimeout(r, 2_100));
    b.advanceTo(Date.now());
    await b.forceFlush();
    expect(b.stats.droppedLate).toBe(0);
    expect(b.stats.processed).toBe(13);
    expect(firing(alerts)).toContain('rapid_guardrail_blocks mallory');
    await a.shutdown();
    await b.shutdown();
  });

  it('code rules, run in this process, are not blinded either (nor is the fallback: the same engine)', async () => {
    const code: CodeRule = {
      id: 'code_every_leak',
      title: 'code rule',
      severity: 'critical',
      categories: ['system_prompt_leakage'],
      window_ms: 60_000,
      condition: {
        createState: () => ({ n: 0 }),
        update: (state: { n: number }) => ++state.n >= 1,
        describe: () => 'a leak',
      } as Condition<unknown>,
    };
    const { engine, alerts } = redisEngine(db.redis, [code], 0, freshRuleset('ahead-code'));
    const leak = (id: string, user: string, t: number): SecurityEvent => ({
      ...injectionBlock(id, user, t),
      category: 'system_prompt_leakage',
      metadata: { detection_method: 'canary', confidence: 1 },
    });
    const ahead = Date.now() + 30 * 60_000;
    engine.ingest(leak('EVT-ahead', 'forger', ahead), ahead);
    const t = Date.now();
    engine.ingest(leak('EVT-real', 'mallory', t), t);
    // before the end of input: mallory's leak is not late behind the forger's
    expect(firing(alerts)).toContain('code_every_leak mallory');
    expect(engine.stats.droppedLate).toBe(0);
    await engine.shutdown();
  });
});
