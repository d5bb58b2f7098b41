import { describe, expect, it } from 'vitest';
import {
  CATEGORIES,
  DEFAULT_SEVERITY,
  ManualClock,
  SEVERITIES,
  SEVERITY_RANK,
  isBlockCategory,
  isCategory,
  isSeverity,
  readsOnlyVictimCategories,
  systemClock,
} from '@llmsec/core';

describe('model', () => {
  it('has the categories and severities of events.md, ranked', () => {
    expect(CATEGORIES).toHaveLength(10);
    expect(SEVERITIES).toEqual(['info', 'warning', 'alert', 'critical']);
    expect(SEVERITIES.map((s) => SEVERITY_RANK[s])).toEqual([0, 1, 2, 3]);
    for (const c of CATEGORIES) expect(isSeverity(DEFAULT_SEVERITY[c])).toBe(true);
    expect(DEFAULT_SEVERITY.system_prompt_leakage).toBe('critical');
  });

  it('guards reject unknown and non-string values', () => {
    expect(isCategory('pii_detected')).toBe(true);
    expect(isCategory('PII_DETECTED')).toBe(false);
    expect(isCategory(3)).toBe(false);
    expect(isSeverity('alert')).toBe(true);
    expect(isSeverity('error')).toBe(false);
    expect(isSeverity(undefined)).toBe(false);
  });

  it('block categories are the two filters', () => {
    expect(CATEGORIES.filter(isBlockCategory)).toEqual(['guardrail_block', 'output_filter_block']);
  });

  it('a rule names victims only when every category it reads is victim-side (auth_failure)', () => {
    expect(CATEGORIES.filter((c) => readsOnlyVictimCategories([c]))).toEqual(['auth_failure']);
    expect(readsOnlyVictimCategories(['auth_failure', 'auth_failure'])).toBe(true);
    // Mixed in with a category whose user is the caller: actors too.
    expect(readsOnlyVictimCategories(['auth_failure', 'guardrail_block'])).toBe(false);
    // Reads nothing: names nobody, so no claim.
    expect(readsOnlyVictimCategories([])).toBe(false);
    expect(readsOnlyVictimCategories(['custom_login_event'])).toBe(false);
  });
});

describe('clocks', () => {
  it('ManualClock moves only when told to', () => {
    const clock = new ManualClock(1000);
    expect(clock.now()).toBe(1000);
    clock.advance(250);
    expect(clock.now()).toBe(1250);
    clock.set(5);
    expect(clock.now()).toBe(5);
    expect(new ManualClock().now()).toBe(0);
  });

  it('systemClock reads the wall clock', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
