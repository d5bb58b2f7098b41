/**
 * A refusal's result carries the rate_limit_hit the limiter recorded for it, so a caller that
 * records refusals too (the SDK's instrumentation) can leave it at one event per refusal.
 */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import type { AcquireOp } from '../src/store.ts';
import { recordingEmitter } from './support.ts';

/** A synchronous store whose acquire fails, as a lost store would. */
class BrokenStore extends MemoryStore {
  override acquire(_op: AcquireOp): never {
    throw new Error('store down');
  }
}

describe('AcquireResult.event', () => {
  it('is the recorded event on every refusal path (dimension, estimate, ban, fail closed)', async () => {
    const events = recordingEmitter();
    const lim = new RateLimiter({ tiers: { t: { requestsPerMinute: 1, tokensPerMinute: 100 } }, events });
    expect((await lim.acquire({ subject: 'a', estimatedTokens: 1 })).event).toBeUndefined();
    const rpm = await lim.acquire({ subject: 'a', estimatedTokens: 1 });
    const estimate = await lim.acquire({ subject: 'b', estimatedTokens: 500 });
    await lim.ban('c');
    const banned = await lim.acquire({ subject: 'c', estimatedTokens: 1 });
    const closedEvents = recordingEmitter();
    const closed = await new RateLimiter({
      store: new BrokenStore(),
      tiers: { t: { requestsPerMinute: 1 } },
      failurePolicy: 'closed',
      events: closedEvents,
    }).acquire({ subject: 'd', estimatedTokens: 1 });

    expect([rpm.reason, estimate.reason, banned.reason, closed.reason]).toEqual([
      'rpm',
      'estimate_exceeds_limit',
      'banned',
      'store_unavailable',
    ]);
    const hits = events.events.filter((e) => e.category === 'rate_limit_hit');
    expect(hits).toHaveLength(3);
    // recordingEmitter numbers its events EVT-1, EVT-2, ... in emit order (the ban's
    // anomalous_pattern included): each result holds the event emitted for it.
    const idOf = (input: unknown) => `EVT-${events.events.findIndex((e) => e.input === input) + 1}`;
    expect([rpm.event?.event_id, estimate.event?.event_id, banned.event?.event_id]).toEqual(
      hits.map((h) => idOf(h.input)),
    );
    expect([rpm.event?.user_id, estimate.event?.user_id, banned.event?.user_id]).toEqual(['a', 'b', 'c']);
    expect(closedEvents.events.map((e) => e.category)).toEqual(['rate_limit_hit']);
    expect(closed.event).toMatchObject({ category: 'rate_limit_hit', user_id: 'd' });
  });

  it('is absent without events, and when the emitter throws (nothing was recorded)', async () => {
    const quiet = new RateLimiter({ store: new MemoryStore(), tiers: { t: { requestsPerMinute: 1 } } });
    await quiet.acquire({ subject: 'a', estimatedTokens: 0 });
    const refused = await quiet.acquire({ subject: 'a', estimatedTokens: 0 });
    expect(refused.allowed).toBe(false);
    expect('event' in refused).toBe(false);

    const throwing = new RateLimiter({
      tiers: { t: { requestsPerMinute: 1 } },
      events: {
        emit: () => {
          throw new Error('exporter down');
        },
      },
    });
    await throwing.acquire({ subject: 'a', estimatedTokens: 0 });
    const refusedToo = await throwing.acquire({ subject: 'a', estimatedTokens: 0 });
    expect(refusedToo).toMatchObject({ allowed: false, reason: 'rpm' });
    expect('event' in refusedToo).toBe(false);
  });
});
