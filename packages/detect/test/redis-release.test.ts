import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * Live alerting across replicas: a replica releases a group it left events pending in once the
 * shared watermark passes the group's OLDEST pending event, as the in-memory reorder buffer
 * releases each event. It used to wait for the watermark to pass the NEWEST one, so an idle
 * group's attack alerted only once event time had moved the lateness past the burst's last
 * event (with ticking, seconds late; the detector replicas test saw it as "pending until
 * shutdown" when it waited lateness + tick + flush).
 */

const db = useRedis({ clients: 3 });

const LATENESS = 20 * SEC;

describe('RedisDetectionState: release of pending groups', () => {
  it('fires once the watermark passes the 10th block, not the burst’s last, though another engine moved the clock', async () => {
    const ruleset = freshRuleset('release');
    const [a, b, c] = db.clients.map((c) =>
      redisEngine(c, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 }),
    );
    // 14 blocks a second apart, round-robin: neither engine sees ten; all pending (lateness 20 s).
    for (let i = 0; i < 14; i++) {
      const { event, t } = ev({
        at: T0 + i * SEC,
        category: 'guardrail_block',
        user: 'attacker',
        id: `rb${i}`,
      });
      (i % 2 === 0 ? a! : b!).engine.ingest(event, t);
    }
    await Promise.all([a!.engine.forceFlush(), b!.engine.forceFlush()]);
    const fired = () => [...a!.alerts, ...b!.alerts].filter((x) => x.rule === 'rapid_guardrail_blocks');
    expect(fired()).toEqual([]);

    // Event time reaches the 10th block (T0 + 9 s) plus the lateness, short of the last (T0 + 13 s),
    // through engine C, which sent nothing to the group (another replica's traffic, or its tick).
    c!.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await c!.engine.forceFlush();
    expect(fired()).toEqual([]);
    // A and B, which left the events pending, release them on their next round (a tick: their own
    // idea of event time lags, the shared clock counts).
    a!.engine.advanceTo(T0 + 14 * SEC);
    b!.engine.advanceTo(T0 + 14 * SEC);
    await Promise.all([a!.engine.forceFlush(), b!.engine.forceFlush()]);
    expect(fired().map((x) => [x.status, x.starts_at, x.user_ids])).toEqual([
      ['firing', new Date(T0 + 9 * SEC).toISOString(), ['attacker']],
    ]);

    // The rest is processed as the watermark passes it: no second firing line, and at the end
    // both engines' stats count every event once.
    c!.engine.advanceTo(T0 + 13 * SEC + LATENESS);
    await c!.engine.forceFlush();
    await Promise.all([a!.engine.shutdown(), b!.engine.shutdown(), c!.engine.shutdown()]);
    expect(fired()).toHaveLength(1);
    expect(a!.engine.stats.processed + b!.engine.stats.processed).toBe(14);
  });

  it('a group left pending by a process that is gone is released by another, a lateness after its sender would have', async () => {
    const ruleset = freshRuleset('release');
    const [a, b] = db.clients.map((c) =>
      redisEngine(c, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 }),
    );
    // Engine A ships ten blocks (all pending), then is gone: killed, it never releases them.
    for (let i = 0; i < 10; i++) {
      const { event, t } = ev({
        at: T0 + i * SEC,
        category: 'guardrail_block',
        user: 'orphan',
        id: `ob${i}`,
      });
      a!.engine.ingest(event, t);
    }
    await a!.engine.forceFlush();
    const pendingIndex = `llmsec:det:{${ruleset}}:pending:user_id`;
    expect(await db.clients[2]!.zrange(pendingIndex, 0, -1)).toHaveLength(1);
    const fired = () => b!.alerts.filter((x) => x.rule === 'rapid_guardrail_blocks');
    // Engine B (no events in that group) moves time: the watermark passes the 10th block; the
    // live sender would release it now, so B leaves it for one more lateness.
    b!.engine.advanceTo(T0 + 9 * SEC + LATENESS);
    await b!.engine.forceFlush();
    expect(fired()).toEqual([]);
    b!.engine.advanceTo(T0 + 9 * SEC + 2 * LATENESS);
    await b!.engine.forceFlush();
    expect(fired().map((x) => [x.status, x.starts_at, x.user_ids])).toEqual([
      ['firing', new Date(T0 + 9 * SEC).toISOString(), ['orphan']],
    ]);
    // Nothing pending any more: the index entry is gone, and A's final flush adds nothing.
    expect(await db.clients[2]!.zrange(pendingIndex, 0, -1)).toEqual([]);
    await Promise.all([b!.engine.shutdown(), a!.engine.shutdown()]);
    expect([...a!.alerts, ...b!.alerts].filter((x) => x.rule === 'rapid_guardrail_blocks')).toHaveLength(1);
  });

  it('a tick that arrives while a flush round is in flight moves the shared clock in that run, not at the next tick', async () => {
    const ruleset = freshRuleset('release');
    const { engine } = redisEngine(db.clients[0]!, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 });
    const { event, t } = ev({ at: T0, category: 'guardrail_block', user: 'ticker', id: 'tick0' });
    engine.ingest(event, t);
    const flushing = engine.forceFlush(); // starts the round: it now waits for Redis
    engine.advanceTo(T0 + 60 * SEC); // its kick finds the round running
    await flushing;
    await new Promise((r) => setTimeout(r, 50));
    expect(Number(await db.clients[1]!.get(`llmsec:det:{${ruleset}}:clock`))).toBe(T0 + 60 * SEC);
    await engine.shutdown();
  });
});
