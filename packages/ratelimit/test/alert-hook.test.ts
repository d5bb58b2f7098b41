import { afterEach, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel, metrics, type MeterProvider } from '@opentelemetry/api';
import { METRIC_TELEMETRY_ERRORS, type Alert } from '@llmsec/core';
import { alertViolationHook, VICTIM_RULES } from '../src/alert-hook.ts';
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

/** A limiter that records each user it is given points for, in order, and answers 'normal'. */
function recordingLimiter(): { seen: string[]; limiter: RateLimiter } {
  const seen: string[] = [];
  const limiter = {
    recordViolation: (u: string) => {
      seen.push(u);
      return Promise.resolve('normal');
    },
  } as unknown as RateLimiter;
  return { seen, limiter };
}

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
    const { seen, limiter } = recordingLimiter();
    const hook = alertViolationHook(limiter, { maxUsersPerAlert: 2 });
    expect(() => hook(alert('not-an-array'))).not.toThrow();
    expect(() => hook(alert([1, 'ok', { x: 1 }, 'late']))).not.toThrow();
    expect(() => hook(null as unknown as Alert)).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['ok']);
  });
});

describe('alertViolationHook on an open incident that learns users', () => {
  it("puts points on users who join (the engine's onUpdate), once each per incident; a resolve forgets it", async () => {
    const { seen, limiter } = recordingLimiter();
    const hook = alertViolationHook(limiter);
    const first = ['c1', 'c2', 'c3', 'c4', 'c5'];
    hook(alert(first));
    hook(alert([...first, 'c6']));
    hook(alert([...first, 'c6', 'c7']));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([...first, 'c6', 'c7']);
    // Another incident is counted on its own; after a resolve the id starts afresh.
    hook({ ...alert(['c1']), alert_id: 'A2' });
    hook({ ...alert(first), status: 'resolved' });
    hook(alert(['c1']));
    await new Promise((r) => setImmediate(r));
    expect(seen.slice(7)).toEqual(['c1', 'c1']);
  });
});

describe('alertViolationHook subjects', () => {
  it("never puts points on the anonymous subject (every caller without a user id), whatever the id's spacing", async () => {
    const { seen, limiter } = recordingLimiter();
    alertViolationHook(limiter)(
      alert(['anonymous', 'anonymous ', '\u00a0anonymous', ' eve ', 'ip:10.0.0.1']),
    );
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['eve', 'user:ip:10.0.0.1']);
  });
});

describe('alertViolationHook exempt rules', () => {
  const recording = () => {
    const seen: Array<[string, number]> = [];
    const limiter = {
      recordViolation: (u: string, w: number) => {
        seen.push([u, w]);
        return Promise.resolve('normal');
      },
    } as unknown as RateLimiter;
    return { seen, limiter };
  };
  const ruleAlert = (rule: string, severity: Alert['severity']): Alert => ({
    ...alert(['victim', 'other']),
    rule,
    severity,
  });

  it('puts no points on the users of an indirect_prompt_injection alert (they did not write the payload), by default', () => {
    const { seen, limiter } = recording();
    const hook = alertViolationHook(limiter);
    expect(VICTIM_RULES).toEqual(['indirect_prompt_injection', 'auth_failure_burst', 'credential_stuffing']);
    hook(ruleAlert('indirect_prompt_injection', 'alert'));
    hook(ruleAlert('indirect_prompt_injection', 'critical'));
    expect(seen).toEqual([]);
    // Other rules of the same severity still count.
    hook(ruleAlert('rapid_guardrail_blocks', 'alert'));
    expect(seen).toEqual([
      ['victim', 2],
      ['other', 2],
    ]);
  });

  it('puts no points on the account an auth_failure_burst alert names (anyone can fail its logins), by default', () => {
    const { seen, limiter } = recording();
    const hook = alertViolationHook(limiter, { weights: { warning: 1, alert: 2, critical: 5 } });
    hook(ruleAlert('auth_failure_burst', 'warning'));
    hook(ruleAlert('auth_failure_burst', 'critical'));
    expect(seen).toEqual([]);
    hook(ruleAlert('rate_limit_persistence', 'warning'));
    expect(seen).toEqual([
      ['victim', 1],
      ['other', 1],
    ]);
  });

  it('puts no points on the accounts a credential_stuffing alert names (tried from one address), by default', () => {
    const { seen, limiter } = recording();
    const hook = alertViolationHook(limiter);
    // Severity alert (2 points for any other rule), thirty accounts and more: none gets any.
    hook({ ...ruleAlert('credential_stuffing', 'alert'), labels: { source_ip: '203.0.113.7' } });
    hook(ruleAlert('credential_stuffing', 'critical'));
    expect(seen).toEqual([]);
    hook(ruleAlert('tool_abuse_repeated', 'alert'));
    expect(seen).toEqual([
      ['victim', 2],
      ['other', 2],
    ]);
  });

  it('exemptRules: [] puts points for every rule; a list of its own replaces the default', () => {
    const all = recording();
    alertViolationHook(all.limiter, { exemptRules: [] })(ruleAlert('indirect_prompt_injection', 'alert'));
    expect(all.seen).toEqual([
      ['victim', 2],
      ['other', 2],
    ]);
    const own = recording();
    const hook = alertViolationHook(own.limiter, { exemptRules: ['my_rule'] });
    hook(ruleAlert('my_rule', 'critical'));
    hook(ruleAlert('indirect_prompt_injection', 'alert'));
    expect(own.seen.map(([u]) => u)).toEqual(['victim', 'other']);
  });

  it('rejects an exemptRules that is not a list of rule ids at construction', () => {
    const { limiter } = recording();
    expect(() => alertViolationHook(limiter, { exemptRules: 'indirect_prompt_injection' as never })).toThrow(
      /exemptRules/,
    );
    expect(() => alertViolationHook(limiter, { exemptRules: [1] as never })).toThrow(/exemptRules/);
  });
});
