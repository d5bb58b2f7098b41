import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * A group step whose only event is late (older than the group's processed time, which another
 * engine moved) changes nothing in Redis, and its drop is still counted (droppedLate), as a
 * step that writes counts its late events.
 */

const db = useRedis({ clients: 2 });

const LATENESS = 60 * SEC;

describe('a late event in a step that changes nothing', () => {
  it('is counted in droppedLate', async () => {
    const ruleset = freshRuleset('late-unchanged');
    const [a, b] = db.clients.map((c) =>
      redisEngine(c, defaultRules(), LATENESS, ruleset, { shutdownGraceMs: 0 }),
    );
    // Engine a: the group's processed time reaches T0+40s (100 s - 60 s lateness); the 100 s
    // block stays pending.
    for (const at of [30, 100]) {
      const { event, t } = ev({ at: T0 + at * SEC, category: 'guardrail_block', user: 'late-user' });
      a!.engine.ingest(event, t);
    }
    await a!.engine.forceFlush();
    // Engine b knows no time yet, so its own check passes the event; the group finds it late.
    const late = ev({ at: T0 + 10 * SEC, category: 'guardrail_block', user: 'late-user' });
    b!.engine.ingest(late.event, late.t);
    await b!.engine.forceFlush();
    expect(b!.engine.stats.droppedLate).toBe(1);
    expect(b!.engine.stats.state?.duplicates).toBe(0);
    expect(a!.engine.stats.droppedLate).toBe(0);
    await Promise.all([a!.engine.shutdown(), b!.engine.shutdown()]);
  });
});
