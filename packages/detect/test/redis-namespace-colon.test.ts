import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { RedisDetectionState, type RuleDefinition } from '../src/index.ts';
import { ev, SEC, T0 } from './helpers.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * A namespace (`ruleset`) may hold `:`, and so may a group value (a user id is whatever the app
 * recorded). A group's key is `prefix:{namespace:field:group}`, so namespace `n:user_id` with
 * group-by `source_ip` and group `x` wrote `{n:user_id:source_ip:x}`, the very key of namespace
 * `n`'s user `source_ip:x`: two fleets shared one group's pending events, processed time and
 * recent ids. The namespace is now written with its `:` encoded (`%3A`, which a namespace
 * cannot otherwise hold), so the first `:` in the braces always ends it.
 */

const db = useRedis({ clients: 2 });

const burst = (groupBy: string): RuleDefinition => ({
  id: 'burst',
  title: 'Burst',
  severity: 'alert',
  match: { categories: ['guardrail_block'] },
  group_by: groupBy,
  window_ms: 600_000,
  condition: { kind: 'count', min: 3 },
});

describe('namespaces holding ":"', () => {
  it('give keys that no other namespace, field and group can give', () => {
    const base = freshRuleset('colon');
    const a = new RedisDetectionState({ redis: db.redis, ruleset: base });
    const b = new RedisDetectionState({ redis: db.redis, ruleset: `${base}:user_id` });
    expect(b.groupKey(`${base}:user_id`, 'source_ip', 'x')).not.toBe(
      a.groupKey(base, 'user_id', 'source_ip:x'),
    );
    // A namespace without ':' keeps its keys (a rolling upgrade reads what the last release wrote).
    expect(a.groupKey(base, 'user_id', 'u1')).toBe(`llmsec:det:{${base}:user_id:u1}`);
  });

  it('cannot be given the encoded form: a namespace holding % is refused', () => {
    // What makes the encoding one-to-one: 'n%3Auser_id' would otherwise be written as 'n:user_id' is.
    for (const ruleset of ['n%3Auser_id', '%', 'a%b'])
      expect(() => new RedisDetectionState({ redis: db.redis, ruleset })).toThrow(/ruleset must be/);
  });

  it('keep two fleets apart whose keys used to meet', async () => {
    const base = freshRuleset('colon');
    const byUser = redisEngine(db.clients[0]!, [burst('user_id')], 0, base, { shutdownGraceMs: 0 });
    const byIp = redisEngine(db.clients[1]!, [burst('source_ip')], 0, `${base}:user_id`, {
      shutdownGraceMs: 0,
    });
    // Namespace `base`: a user named `source_ip:x` moves its group to T0+100s.
    const first = ev({ at: T0 + 100 * SEC, category: 'guardrail_block', user: 'source_ip:x' });
    byUser.engine.ingest(first.event, first.t);
    await byUser.engine.forceFlush();
    // Namespace `base:user_id`: three blocks from address x, earlier in event time (its own
    // fleet's clock has not passed them): they fire there.
    for (let i = 0; i < 3; i++) {
      const { event, t } = ev({ at: T0 + (10 + i) * SEC, category: 'guardrail_block', user: `u${i}` });
      event.source_ip = 'x';
      byIp.engine.ingest(event, t);
    }
    await byIp.engine.forceFlush();
    expect(byIp.engine.stats.droppedLate).toBe(0);
    expect(byIp.alerts.filter((a) => a.status === 'firing').map((a) => a.labels)).toEqual([
      { source_ip: 'x' },
    ]);
    await Promise.all([byUser.engine.shutdown(), byIp.engine.shutdown()]);
  });
});
