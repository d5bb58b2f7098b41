import { afterEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel, metrics, type MeterProvider } from '@opentelemetry/api';
import { METRIC_TELEMETRY_ERRORS, type Alert } from '@llmsec/core';
import { alertViolationHook } from '../src/alert-hook.ts';
import type { RateLimiter } from '../src/limiter.ts';
import { errorLog, recordingMeter } from './support.ts';

const { logger, errors } = errorLog();

afterEach(() => {
  diag.disable();
  metrics.disable();
  errors.length = 0;
});

const alert = (user_ids: unknown): Alert =>
  ({
    alert_id: 'A1',
    rule: 'r',
    severity: 'critical',
    status: 'firing',
    labels: {},
    user_ids,
    starts_at: new Date(0).toISOString(),
    description: 'x',
    evidence: [],
  }) as Alert;

describe('alertViolationHook failures', () => {
  it('a failing limiter is counted for every user of every alert and logged once', async () => {
    diag.setLogger(logger, DiagLogLevel.ERROR);
    const rec = recordingMeter();
    metrics.setGlobalMeterProvider({ getMeter: () => rec.meter } as unknown as MeterProvider);
    const limiter = {
      recordViolation: () => Promise.reject(new TypeError('store gone')),
    } as unknown as RateLimiter;
    const hook = alertViolationHook(limiter);
    for (let i = 0; i < 20; i++) hook(alert([`u${i}a`, `u${i}b`, `u${i}c`]));
    await new Promise((r) => setImmediate(r));
    expect(rec.count(METRIC_TELEMETRY_ERRORS, { error_type: 'TypeError' })).toBe(60);
    expect(errors.filter((m) => m.includes('record_violation'))).toHaveLength(1);
  });

  it('never throws into the sink on a malformed alert; ignores non-string ids', async () => {
    const seen: string[] = [];
    const limiter = {
      recordViolation: (u: string) => {
        seen.push(u);
        return Promise.resolve('normal');
      },
    } as unknown as RateLimiter;
    const hook = alertViolationHook(limiter, { maxUsersPerAlert: 2 });
    expect(() => hook(alert('not-an-array'))).not.toThrow();
    expect(() => hook(alert([1, 'ok', { x: 1 }, 'late']))).not.toThrow();
    expect(() => hook(null as unknown as Alert)).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['ok']);
  });
});

describe('alertViolationHook subjects', () => {
  it("never puts points on the anonymous subject (every caller without a user id), whatever the id's spacing", async () => {
    const seen: string[] = [];
    const limiter = {
      recordViolation: (u: string) => {
        seen.push(u);
        return Promise.resolve('normal');
      },
    } as unknown as RateLimiter;
    alertViolationHook(limiter)(
      alert(['anonymous', 'anonymous ', '\u00a0anonymous', ' eve ', 'ip:10.0.0.1']),
    );
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['eve', 'user:ip:10.0.0.1']);
  });
});
