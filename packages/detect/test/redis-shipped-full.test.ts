import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * engine.shipped() when the shared queue is full and drops its oldest events: the dropped ones
 * end the wait as shipped ones do (or every later answer would wait for events that will never
 * leave), but a drop must not count for events a round is still shipping: the drops are of
 * events queued after that round's batch, so the callers waiting for the batch wait for it.
 */

const db = useRedis({ clients: 1 });

const LATENESS = 60 * SEC;

function feed(engine: ReturnType<typeof redisEngine>['engine'], from: number, n: number): void {
  for (let i = from; i < from + n; i++) {
    const { event, t } = ev({ at: T0 + i * SEC, category: 'request_completed', user: `u${i % 3}` });
    engine.ingest(event, t);
  }
}

const within = (p: Promise<void>, ms: number): Promise<string> =>
  Promise.race([
    p.then(() => 'settled'),
    new Promise<string>((r) => setTimeout(() => r('still waiting'), ms).unref()),
  ]);

describe('DetectionEngine.shipped() with a full shared queue', () => {
  it('events dropped by the full queue end the wait', async () => {
    const { engine } = redisEngine(db.clients[0]!, defaultRules(), LATENESS, freshRuleset('full'), {
      maxQueuedEvents: 10,
      batchSize: 10,
    });
    // Synchronously, before any round: 20 of the 30 are dropped (the oldest).
    feed(engine, 0, 30);
    expect(await within(engine.shipped(), 3_000)).toBe('settled');
    expect(engine.stats.state?.queueDropped).toBe(20);
    expect(engine.stats.processed).toBe(10);
    await engine.shutdown();
  });

  it('a drop while a round ships its batch does not settle the callers waiting for that batch', async () => {
    const { engine } = redisEngine(db.clients[0]!, defaultRules(), LATENESS, freshRuleset('full-round'), {
      maxQueuedEvents: 10,
      batchSize: 10,
    });
    feed(engine, 0, 10);
    // shipped() starts the round at once: the 10 are taken and in flight (not yet in Redis).
    const waitFirst = engine.shipped();
    let settledAt: number | undefined;
    void waitFirst.then(() => (settledAt = engine.stats.processed));
    expect(engine.stats.state?.queued).toBe(0);
    // 20 more while it ships: 10 fill the queue, 10 push out the oldest of those.
    feed(engine, 10, 20);
    expect(engine.stats.state?.queueDropped).toBe(10);
    await waitFirst;
    // Settled only once the round's 10 were shipped (processed counts them at the round's end).
    expect(settledAt).toBeGreaterThanOrEqual(10);
    await engine.shipped();
    expect(engine.stats.processed).toBe(20);
    await engine.shutdown();
  });
});
