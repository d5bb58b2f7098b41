import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { RedisDetectionState } from '../src/index.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * The group compare-and-set never shortens a group's remaining TTL: replicas of two releases
 * share a group, and one without the other's long-lived rule (a baseline's 24 h) writing its
 * shorter TTL would make the group, and that rule's state, expire under the other release.
 */

const db = useRedis();

describe('RedisDetectionState: the compare-and-set and the TTL', () => {
  it('keeps the longer of the remaining and the given TTL', async () => {
    const state = new RedisDetectionState({ redis: db.redis, commandTimeoutMs: 5_000 });
    const key = state.groupKey(freshRuleset('ttl'), 'user_id', 'alice');
    expect((await state.cas(key, 0, 'a', 3_600_000))[0]).toBe(1);
    expect((await state.cas(key, 1, 'b', 60_000))[0]).toBe(1);
    const left = await db.redis.pttl(key);
    expect(left).toBeGreaterThan(3_500_000);
    // A longer one is taken.
    expect((await state.cas(key, 2, 'c', 7_200_000))[0]).toBe(1);
    expect(await db.redis.pttl(key)).toBeGreaterThan(7_100_000);
    // A new key gets the given TTL.
    const fresh = state.groupKey(freshRuleset('ttl'), 'user_id', 'bob');
    expect((await state.cas(fresh, 0, 'a', 60_000))[0]).toBe(1);
    const ttl = await db.redis.pttl(fresh);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});
