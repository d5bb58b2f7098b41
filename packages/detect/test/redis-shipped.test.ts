import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, DetectionEngine } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * DetectionEngine.shipped(): what the detector waits for before answering an export, so that a
 * sender awaiting each answer is ordered across replicas (the detector README, "Replicas and
 * event time"). And the counts of a step that changes nothing (a retried export's copy reaching
 * another replica after its original was shipped).
 */

const db = useRedis({ clients: 2 });

const LATENESS = 60 * SEC;

/** The shared clock as stored (the newest event time any engine shipped). */
async function clockOf(ruleset: string): Promise<number | undefined> {
  const redis = db.clients[0]!;
  const keys = await redis.keys(`*{${ruleset}}:clock`);
  expect(keys).toHaveLength(1);
  const v = await redis.get(keys[0]!);
  return v === null ? undefined : Number(v);
}

describe('DetectionEngine.shipped() with Redis state', () => {
  it('resolves once the events ingested before the call are in Redis (the shared clock at their time)', async () => {
    const ruleset = freshRuleset('shipped');
    const { engine } = redisEngine(db.clients[0]!, defaultRules(), LATENESS, ruleset);
    for (let i = 0; i < 50; i++) {
      const { event, t } = ev({ at: T0 + i * SEC, category: 'request_completed', user: `u${i % 5}` });
      engine.ingest(event, t);
    }
    const shipped = engine.shipped();
    // Ingested after the call: not waited for (a steady stream must not hold an answer).
    const later = ev({ at: T0 + 3_600 * SEC, category: 'request_completed', user: 'late-comer' });
    engine.ingest(later.event, later.t);
    await shipped;
    // Shipped in order: the clock is at least the 50th event's time (and, the queue taken in
    // batches, possibly the later one's).
    expect(await clockOf(ruleset)).toBeGreaterThanOrEqual(T0 + 49 * SEC);
    await engine.shipped();
    expect(await clockOf(ruleset)).toBe(T0 + 3_600 * SEC);
    // Nothing queued: resolved at once.
    await engine.shipped();
    await engine.shutdown();
  });

  it('starts the round at once, not on the unref\'d immediate (which a blocking poll delays)', async () => {
    const { engine } = redisEngine(db.clients[0]!, defaultRules(), LATENESS, freshRuleset('kick'));
    for (let i = 0; i < 20; i++) {
      const { event, t } = ev({ at: T0 + i * SEC, category: 'request_completed', user: `k${i % 4}` });
      engine.ingest(event, t);
    }
    expect(engine.stats.state?.queued).toBe(20);
    const shipped = engine.shipped();
    // Taken by the round synchronously (batchSize 2,000): no turn of the event loop needed.
    expect(engine.stats.state?.queued).toBe(0);
    await shipped;
    expect(engine.stats.processed).toBe(20);
    await engine.shutdown();
  });

  it('in memory: resolves at once', async () => {
    const engine = new DetectionEngine({ rules: defaultRules(), allowedLatenessMs: LATENESS });
    const { event, t } = ev({ at: T0, category: 'request_completed' });
    engine.ingest(event, t);
    // Settled before any later turn of the event loop (no flusher, nothing to wait for).
    const first = await Promise.race([
      engine.shipped().then(() => 'shipped'),
      new Promise<string>((r) => setImmediate(() => r('a later turn'))),
    ]);
    expect(first).toBe('shipped');
    await engine.shutdown();
  });

  it('a copy of shipped events reaching another engine is counted as duplicates, though it changes nothing', async () => {
    const ruleset = freshRuleset('dupcount');
    const [a, b] = db.clients.map((c) =>
      redisEngine(c, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 }),
    );
    const copies = [0, 1, 2].map((i) =>
      ev({ at: T0 + i * SEC, category: 'guardrail_block', user: 'dup-user', id: `dup-${i}` }),
    );
    for (const { event, t } of copies) a!.engine.ingest(event, t);
    await a!.engine.shipped();
    await a!.engine.forceFlush();
    // The retried export, answered by the other replica: all three are in the group already.
    for (const { event, t } of copies) b!.engine.ingest(event, t);
    await b!.engine.forceFlush();
    expect(b!.engine.stats.state?.duplicates).toBe(3);
    expect(a!.engine.stats.state?.duplicates).toBe(0);
    await Promise.all([a!.engine.shutdown(), b!.engine.shutdown()]);
  });
});
