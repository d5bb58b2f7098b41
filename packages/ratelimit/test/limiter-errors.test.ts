import { afterEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { METRIC_TELEMETRY_ERRORS } from '@llmsec/core';
import { RateLimiter } from '../src/limiter.ts';
import { errorLog, recordingMeter } from './support.ts';

const { logger, errors } = errorLog();

afterEach(() => {
  diag.disable();
  errors.length = 0;
});

describe('RateLimiter request-path failures are counted, not logged per request', () => {
  it('a resolveTier that throws on every request: default tier, counted each time, logged once', async () => {
    diag.setLogger(logger, DiagLogLevel.ERROR);
    const metrics = recordingMeter();
    const lim = new RateLimiter({
      tiers: { free: { requestsPerMinute: 1_000 }, pro: { requestsPerMinute: 5_000 } },
      defaultTier: 'free',
      resolveTier: () => {
        throw new RangeError('plan lookup failed');
      },
      meter: metrics.meter,
    });
    for (let i = 0; i < 200; i++) {
      const r = await lim.acquire({ subject: `u${i}`, estimatedTokens: 0 });
      expect(r.dimensions[0]!.limit).toBe(1_000);
    }
    expect(metrics.count(METRIC_TELEMETRY_ERRORS, { component: 'ratelimit', error_type: 'RangeError' })).toBe(
      200,
    );
    expect(errors.filter((m) => m.includes('resolve_tier'))).toHaveLength(1);
  });
});
