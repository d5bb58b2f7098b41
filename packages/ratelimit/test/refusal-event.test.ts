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

  it('is the recorded event on the fallback, secondary-subject and concurrency refusals too', async () => {
    const events = recordingEmitter();
    const fallback = await (async () => {
      const lim = new RateLimiter({
        store: new BrokenStore(),
        fallbackStore: new MemoryStore(),
        tiers: { t: { requestsPerMinute: 1 } },
        failurePolicy: 'open',
        events,
      });
      await lim.acquire({ subject: 'f', estimatedTokens: 0 });
      return lim.acquire({ subject: 'f', estimatedTokens: 0 });
    })();
    const lim = new RateLimiter({
      tiers: { user: { requestsPerMinute: 100, concurrent: 1 }, ip: { requestsPerMinute: 1 } },
      defaultTier: 'user',
      secondaryTier: 'ip',
      events,
    });
    await lim.acquire({ subject: 's', secondarySubject: 'ip:1', estimatedTokens: 0 });
    const secondary = await lim.acquire({ subject: 's2', secondarySubject: 'ip:1', estimatedTokens: 0 });
    const concurrent = await lim.acquire({ subject: 's', estimatedTokens: 0 });

    expect(fallback).toMatchObject({ allowed: false, reason: 'rpm', degraded: true });
    expect(secondary).toMatchObject({ allowed: false, reason: 'rpm', refusedBy: { subject: 'ip:1' } });
    expect(concurrent).toMatchObject({ allowed: false, reason: 'concurrent' });
    const hits = events.events.filter((e) => e.category === 'rate_limit_hit');
    expect(hits).toHaveLength(3);
    expect([fallback.event?.user_id, secondary.event?.user_id, concurrent.event?.user_id]).toEqual([
      'f',
      's2',
      's',
    ]);
    expect(new Set([fallback.event, secondary.event, concurrent.event].map((e) => e?.event_id)).size).toBe(3);
    expect(hits.map((h) => (h.input.metadata as { subject_role?: string }).subject_role)).toEqual([
      'primary',
      'secondary',
      'primary',
    ]);
  });
});
