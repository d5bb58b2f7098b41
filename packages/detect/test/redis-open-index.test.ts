import { describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { RedisDetectionState } from '../src/index.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * The resolve index's script (OPEN_INDEX_LUA) on a real redis-server: it admits below the cap
 * and refuses a newcomer at it without moving anything, re-scores an entry already in at any
 * size, removes an entry only if scored at most the given score (so a newer incident's entry,
 * admitted meanwhile, stays), and keeps a TTL; an index written by an earlier version's script
 * (the same sorted set) is read and capped the same.
 */

const db = useRedis();

function store(cap: number): RedisDetectionState {
  return new RedisDetectionState({ redis: db.redis, maxOpenIncidentsPerRule: cap, commandTimeoutMs: 5_000 });
}

const entries = async (key: string) => db.redis.zrange(key, 0, -1, 'WITHSCORES');

describe('RedisDetectionState: the resolve index script', () => {
  it('admits below the cap, refuses newcomers at it, re-scores members at any size', async () => {
    const state = store(2);
    const key = state.indexKey(freshRuleset('idx'), 'r0');
    expect(await state.admitToIndex(key, 60_000, [1, 'a', 100, 1, 'b', 200, 1, 'c', 50])).toEqual(['c']);
    expect(await entries(key)).toEqual(['a', '100', 'b', '200']);
    // Full: a member already in is re-scored; a new one is refused, nothing evicted for it.
    expect(await state.updateIndex(key, 60_000, [1, 'a', 300, 1, 'd', 1])).toEqual(['d']);
    expect(await entries(key)).toEqual(['b', '200', 'a', '300']);
    const ttl = await db.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('removes an entry only if it is scored at most the given score; the freed slot admits again', async () => {
    const state = store(2);
    const key = state.indexKey(freshRuleset('idx-rm'), 'r0');
    await state.admitToIndex(key, 60_000, [1, 'g', 100, 1, 'h', 100]);
    // An incident of g resolved at 100, but another process has since admitted g's next
    // incident (resolve at 700): the late removal leaves it.
    await state.admitToIndex(key, 60_000, [1, 'g', 700]);
    expect(await state.updateIndex(key, 60_000, [0, 'g', 100])).toEqual([]);
    expect(await entries(key)).toEqual(['h', '100', 'g', '700']);
    // h's removal at its due time takes it, and the slot goes to a newcomer.
    await state.updateIndex(key, 60_000, [0, 'h', 100]);
    expect(await state.admitToIndex(key, 60_000, [1, 'k', 800])).toEqual([]);
    expect(await entries(key)).toEqual(['g', '700', 'k', '800']);
    // Removing what is not there is nothing.
    expect(await state.updateIndex(key, 60_000, [0, 'zz', 1e15])).toEqual([]);
    expect(await db.redis.zcard(key)).toBe(2);
  });

  it('an index over the cap (left by an earlier version) keeps its entries and admits no newcomer', async () => {
    const state = store(2);
    const key = state.indexKey(freshRuleset('idx-old'), 'r0');
    await db.redis.zadd(key, 1, 'x', 2, 'y', 3, 'z');
    expect(await state.admitToIndex(key, 60_000, [1, 'n', 4, 1, 'y', 5])).toEqual(['n']);
    expect(await entries(key)).toEqual(['x', '1', 'z', '3', 'y', '5']);
  });
});
