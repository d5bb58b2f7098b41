import { describe, expect, it } from 'vitest';
import { ManualClock, METRIC_RATELIMIT_DECISIONS, type Alert } from '@llmsec/core';
import { Redis } from 'ioredis';
import { alertViolationHook } from '../src/alert-hook.ts';
import { RateLimiter } from '../src/limiter.ts';
import { MemoryStore } from '../src/memory-store.ts';
import { RedisStore } from '../src/redis-store.ts';
import { recordingEmitter, recordingMeter } from './support.ts';

describe('RateLimiter configuration', () => {
  it('rejects invalid configuration at construction with a clear message', () => {
    const ok = { tiers: { free: { requestsPerMinute: 10 } } };
    expect(() => new RateLimiter({ tiers: {} })).toThrow(/at least one tier/);
    expect(() => new RateLimiter({ tiers: { a: { requestsPerMinute: 1 }, b: {} } })).toThrow(
      /defaultTier is required/,
    );
    expect(() => new RateLimiter({ ...ok, defaultTier: 'pro' })).toThrow(/defaultTier "pro" is not in tiers/);
    expect(() => new RateLimiter({ tiers: { free: { requestsPerMinute: 0 } } })).toThrow(
      /requestsPerMinute must be a positive integer/,
    );
    expect(() => new RateLimiter({ tiers: { free: { costPerDayMicroUsd: 0.5 } } })).toThrow(
      /costPerDayMicroUsd must be a positive integer/,
    );
    expect(() => new RateLimiter({ tiers: { free: { rpm: 5 } as never } })).toThrow(/unknown limit "rpm"/);
    expect(() => new RateLimiter({ ...ok, failurePolicy: 'maybe' as never })).toThrow(/failurePolicy/);
    expect(() => new RateLimiter({ ...ok, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
    // Past a timer's longest delay Node fires it every millisecond: the index read back to back.
    expect(() => new RateLimiter({ ...ok, banSyncIntervalMs: 2 ** 31 })).toThrow(/banSyncIntervalMs/);
    expect(() => new RateLimiter({ ...ok, banSyncIntervalMs: 2 ** 31 - 1 })).not.toThrow();
    expect(() => new RateLimiter({ ...ok, secondaryTier: 'ip' })).toThrow(/secondaryTier "ip"/);
    expect(() => new RateLimiter({ ...ok, enforcement: { warningAt: 10, throttledAt: 5 } })).toThrow(
      /throttledAt \(5\) must be >= enforcement.warningAt/,
    );
    expect(() => new RateLimiter({ ...ok, enforcement: { throttleFactor: 2 } })).toThrow(/throttleFactor/);
    expect(() => new MemoryStore({ maxSubjects: 0 })).toThrow(/maxSubjects/);
    expect(() => new RedisStore({ client: {} as never })).toThrow(/ioredis/);
  });

  it('resolves tiers: request tier, then resolveTier, then the default', async () => {
    const lim = new RateLimiter({
      tiers: { free: { requestsPerHour: 1 }, pro: { requestsPerHour: 3 } },
      defaultTier: 'free',
      resolveTier: (req) => (req.subject.startsWith('pro-') ? 'pro' : undefined),
    });
    expect((await lim.acquire({ subject: 'pro-a', estimatedTokens: 0 })).dimensions[0]!.limit).toBe(3);
    expect((await lim.acquire({ subject: 'b', estimatedTokens: 0 })).dimensions[0]!.limit).toBe(1);
    expect((await lim.acquire({ subject: 'c', tier: 'pro', estimatedTokens: 0 })).dimensions[0]!.limit).toBe(
      3,
    );
    expect((await lim.acquire({ subject: 'd', tier: 'nope', estimatedTokens: 0 })).dimensions[0]!.limit).toBe(
      1,
    );
  });

  it('acquireSync decides without a promise on MemoryStore and refuses to run on an async store', () => {
    const lim = new RateLimiter({ tiers: { t: { requestsPerMinute: 2 } } });
    expect([0, 1, 2].map(() => lim.acquireSync({ subject: 's', estimatedTokens: 0 }).allowed)).toEqual([
      true,
      true,
      false,
    ]);
    const redisLim = new RateLimiter({
      store: new RedisStore({ client: new Redis({ lazyConnect: true }) }),
      tiers: { t: {} },
    });
    expect(() => redisLim.acquireSync({ subject: 's', estimatedTokens: 0 })).toThrow(/synchronous store/);
  });

  it('treats invalid amounts safely: NaN and negatives count 0, fractions round up', async () => {
    const lim = new RateLimiter({ tiers: { t: { tokensPerHour: 10 } } });
    expect((await lim.acquire({ subject: 's', estimatedTokens: Number.NaN })).dimensions[0]!.current).toBe(0);
    expect((await lim.acquire({ subject: 's', estimatedTokens: -5 })).dimensions[0]!.current).toBe(0);
    expect((await lim.acquire({ subject: 's', estimatedTokens: 2.1 })).dimensions[0]!.current).toBe(3);
    expect((await lim.acquire({ subject: 's', estimatedTokens: Infinity })).reason).toBe(
      'estimate_exceeds_limit',
    );
  });
});

describe('RateLimiter settle', () => {
  it('skips the store when there is nothing to charge, refund or release', async () => {
    const inner = new MemoryStore();
    let settles = 0;
    const store = Object.assign(Object.create(inner) as MemoryStore, {
      settle: (op: Parameters<MemoryStore['settle']>[0]) => {
        settles++;
        inner.settle(op);
      },
    });
    const lim = new RateLimiter({
      store,
      tiers: { plain: { tokensPerHour: 1_000 }, conc: { concurrent: 2 } },
      defaultTier: 'plain',
    });
    const a = await lim.acquire({ subject: 's', estimatedTokens: 100 });
    await lim.settle(a.lease!, { tokens: 100 });
    expect(settles).toBe(0);
    const b = await lim.acquire({ subject: 's', estimatedTokens: 100 });
    await lim.settle(b.lease!, { tokens: 40 });
    expect(settles).toBe(1);
    expect((await lim.status('s')).dimensions[0]!.current).toBe(140);
    const c = await lim.acquire({ subject: 't', tier: 'conc', estimatedTokens: 0 });
    await lim.settle(c.lease!, { tokens: 0 });
    expect(settles).toBe(2);
    expect((await lim.status('t', 'conc')).activeLeases).toBe(0);
  });
});

describe('RateLimiter events and metrics', () => {
  it('emits rate_limit_hit for every refusal and counts decisions by dimension and outcome', async () => {
    const events = recordingEmitter();
    const metrics = recordingMeter();
    const lim = new RateLimiter({
      tiers: { t: { requestsPerMinute: 2, tokensPerMinute: 100 } },
      enforcement: false,
      events,
      meter: metrics.meter,
    });
    for (let i = 0; i < 3; i++) await lim.acquire({ subject: 'alice', estimatedTokens: 10 });
    await lim.acquire({ subject: 'bob', estimatedTokens: 500 });
    const hits = events.events.filter((e) => e.category === 'rate_limit_hit');
    expect(hits.map((e) => e.input)).toEqual([
      expect.objectContaining({
        userId: 'alice',
        metadata: expect.objectContaining({ limit_type: 'rpm', current: 2, limit: 2, reason: 'rpm' }),
      }),
      expect.objectContaining({
        userId: 'bob',
        metadata: expect.objectContaining({
          limit_type: 'tpm',
          current: 500,
          limit: 100,
          reason: 'estimate_exceeds_limit',
        }),
      }),
    ]);
    expect(metrics.count(METRIC_RATELIMIT_DECISIONS, { dimension: 'none', outcome: 'allowed' })).toBe(2);
    expect(metrics.count(METRIC_RATELIMIT_DECISIONS, { dimension: 'rpm', outcome: 'refused' })).toBe(1);
    expect(metrics.count(METRIC_RATELIMIT_DECISIONS, { dimension: 'estimate', outcome: 'refused' })).toBe(1);
    // No user id in any metric attribute.
    expect(metrics.adds.every((a) => !Object.values(a.attrs).includes('alice'))).toBe(true);
  });

  it('never throws into the caller when the event emitter throws', async () => {
    const lim = new RateLimiter({
      tiers: { t: { requestsPerMinute: 1 } },
      events: {
        emit: () => {
          throw new Error('exporter down');
        },
      },
    });
    await lim.acquire({ subject: 's', estimatedTokens: 0 });
    await expect(lim.acquire({ subject: 's', estimatedTokens: 0 })).resolves.toMatchObject({
      allowed: false,
      reason: 'rpm',
    });
  });

  it('a critical alert records a violation for every implicated user (detection tightens enforcement)', async () => {
    const clock = new ManualClock(0);
    const events = recordingEmitter();
    const lim = new RateLimiter({
      store: new MemoryStore({ clock }),
      clock,
      tiers: { t: { requestsPerMinute: 100 } },
      enforcement: { warningAt: 2, throttledAt: 5, blockedAt: 10, bannedAt: 20 },
      events,
    });
    const hook = alertViolationHook(lim, { weights: { critical: 5, alert: 2 } });
    const alert: Alert = {
      alert_id: 'A1',
      rule: 'system_prompt_extraction',
      severity: 'critical',
      status: 'firing',
      labels: { user_id: 'mallory' },
      user_ids: ['mallory', 'trudy'],
      starts_at: new Date(0).toISOString(),
      description: 'x',
      evidence: [],
    };
    hook(alert);
    hook({ ...alert, status: 'resolved' });
    hook({ ...alert, severity: 'warning' });
    await new Promise((r) => setImmediate(r));
    expect((await lim.status('mallory')).level).toBe('throttled');
    expect((await lim.status('trudy')).violationScore).toBe(5);
    hook(alert);
    await new Promise((r) => setImmediate(r));
    expect(await lim.acquire({ subject: 'mallory', estimatedTokens: 0 })).toMatchObject({
      allowed: false,
      reason: 'blocked',
    });
    expect(
      events.events
        .filter((e) => e.category === 'anomalous_pattern')
        .map((e) => e.input.metadata.anomaly_type),
    ).toContain('enforcement_blocked');
  });
});

describe('MemoryStore bounds', () => {
  it('holds at most maxSubjects; a subject in steady use survives a flood of invented ids', async () => {
    const store = new MemoryStore({ maxSubjects: 100 });
    const lim = new RateLimiter({ store, tiers: { t: { requestsPerHour: 1_000 } } });
    for (let i = 0; i < 5_000; i++) {
      await lim.acquire({ subject: `flood-${i}`, estimatedTokens: 0 });
      if (i % 10 === 0) await lim.acquire({ subject: 'regular', estimatedTokens: 0 });
    }
    expect(store.size).toBeLessThanOrEqual(100);
    expect((await lim.status('regular')).dimensions[0]!.current).toBe(500);
  });
});
