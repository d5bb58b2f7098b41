import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, MIN, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * The resolve sweep: an incident opened by one process is resolved by another once event time
 * (moved by that other process's traffic) passes its quiet period, exactly once; an index entry
 * whose group state expired is dropped by the sweep rather than kept forever.
 */

const db = useRedis();

describe('resolve sweep', () => {
  it('another process resolves a quiet incident, once', async () => {
    const ruleset = freshRuleset('sweep');
    const a = redisEngine(db.redis, defaultRules(), 0, ruleset);
    const b = redisEngine(db.redis, defaultRules(), 0, ruleset);
    for (let i = 0; i < 10; i++) a.engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await a.engine.forceFlush();
    expect(a.alerts.map((x) => `${x.rule}:${x.status}`)).toEqual(['rapid_guardrail_blocks:firing']);

    // Only B has traffic now (another user); its events move the shared clock past the quiet period.
    const later = T0 + 30 * MIN;
    b.engine.ingest(
      ev({ at: later, category: 'auth_failure', user: 'someone', metadata: { reason: 'x' } }).event,
      later,
    );
    await b.engine.forceFlush();
    a.engine.advanceTo(later);
    await a.engine.forceFlush();
    const resolved = [...a.alerts, ...b.alerts].filter((x) => x.status === 'resolved');
    expect(resolved).toHaveLength(1);
    expect(b.alerts.map((x) => `${x.rule}:${x.status}`)).toEqual(['rapid_guardrail_blocks:resolved']);
    expect(resolved[0]!.alert_id).toBe(a.alerts[0]!.alert_id);
    expect(resolved[0]!.ends_at).toBe(new Date(T0 + 9 * SEC + 10 * MIN).toISOString());
    await Promise.all([a.engine.shutdown(), b.engine.shutdown()]);
  });

  it('replicas stopping together: the one that ships a moment later is not made late', async () => {
    const ruleset = freshRuleset('leave');
    const a = redisEngine(db.redis, defaultRules(), 30_000, ruleset, { shutdownGraceMs: 500 });
    const b = redisEngine(db.redis, defaultRules(), 30_000, ruleset, { shutdownGraceMs: 500 });
    const blocks = Array.from({ length: 12 }, (_, i) => ev(block(T0 + i * SEC, 'mallory')));
    // A gets its share and starts leaving at once; B gets (and ships) its share 100 ms later.
    blocks.forEach(({ event, t }, i) => i % 2 === 0 && a.engine.ingest(event, t));
    const leavingA = a.engine.shutdown();
    await new Promise((r) => setTimeout(r, 100));
    blocks.forEach(({ event, t }, i) => i % 2 === 1 && b.engine.ingest(event, t));
    await Promise.all([leavingA, b.engine.shutdown()]);
    expect(a.engine.stats.droppedLate + b.engine.stats.droppedLate).toBe(0);
    const firing = [...a.alerts, ...b.alerts].filter((x) => x.rule === 'rapid_guardrail_blocks');
    expect(firing.map((x) => x.status)).toEqual(['firing']);
  });

  it('drops an index entry whose group state has expired', async () => {
    const ruleset = freshRuleset('stale');
    const { engine } = redisEngine(db.redis, defaultRules(), 0, ruleset);
    for (let i = 0; i < 10; i++) engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
    await engine.forceFlush();
    const index = (await db.redis.keys(`llmsec:det:{${ruleset}}:open:*`))[0]!;
    const [member] = await db.redis.zrange(index, 0, -1);
    expect(member).toBeDefined();
    await db.redis.del(member!); // as if its TTL had passed
    engine.advanceTo(T0 + 60 * MIN);
    await engine.forceFlush();
    expect(await db.redis.zcard(index)).toBe(0);
    await engine.shutdown();
  });
});
