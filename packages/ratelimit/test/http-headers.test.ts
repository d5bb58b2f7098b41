import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rateLimitHeaders, retryAfterSeconds } from '../src/http/headers.ts';
import { serializeItem, serializeString } from '../src/http/structured-fields.ts';
import type { AcquireResult, DimensionState } from '../src/types.ts';

const USER = 'user:alice';
const IP = 'ip:10.0.0.7';

function state(
  dimension: DimensionState['dimension'],
  subject: string,
  limit: number,
  current: number,
  windowSeconds: number,
  resetMs: number,
): DimensionState {
  return {
    dimension,
    subject,
    limit,
    current,
    remaining: Math.max(0, limit - current),
    windowSeconds,
    resetMs,
  };
}

const allowedMany: AcquireResult = {
  allowed: true,
  retryAfterMs: 0,
  level: 'normal',
  dimensions: [
    state('rpm', USER, 60, 12, 60, 30_000),
    state('rpd', USER, 1000, 990, 86_400, 3_600_500),
    state('tpm', USER, 100_000, 1_200, 60, 45_001),
    state('cost_day', USER, 5_000_000, 250_000, 86_400, 7_200_000),
    state('concurrent', USER, 4, 1, 0, 0),
    state('rpm', IP, 600, 40, 60, 10_000),
  ],
  lease: { id: 'l1', subject: USER, reservedTokens: 1200, reservedCostMicroUsd: 0, expiresAtMs: 0 },
};

describe('rateLimitHeaders: allowed, several dimensions', () => {
  const headers = rateLimitHeaders(allowedMany, { primarySubject: USER });

  it('lists every policy with quota, window and unit', () => {
    expect(headers['RateLimit-Policy']).toBe(
      '"rpm";q=60;w=60, "rpd";q=1000;w=86400, "tpm";q=100000;w=60;llmsec-qu="tokens", ' +
        '"cost_day";q=5000000;w=86400;llmsec-qu="micro-usd", "concurrent";q=4;qu="concurrent-requests", ' +
        '"secondary-rpm";q=600;w=60',
    );
  });

  it('gives remaining and seconds to reset (rounded up) per policy; no t for an idle concurrency slot', () => {
    expect(headers.RateLimit).toBe(
      '"rpm";r=48;t=30, "rpd";r=10;t=3601, "tpm";r=98800;t=46, "cost_day";r=4750000;t=7200, ' +
        '"concurrent";r=3, "secondary-rpm";r=560;t=10',
    );
  });

  it('legacy headers describe the most constrained request-count dimension, reset as delta-seconds', () => {
    expect(headers['X-RateLimit-Limit']).toBe('1000');
    expect(headers['X-RateLimit-Remaining']).toBe('10');
    expect(headers['X-RateLimit-Reset']).toBe('3601');
  });

  it('has no Retry-After when allowed', () => {
    expect(headers['Retry-After']).toBeUndefined();
    expect(Object.keys(headers).sort()).toEqual([
      'RateLimit',
      'RateLimit-Policy',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ]);
  });

  it('takes the first subject as primary when none is given', () => {
    expect(rateLimitHeaders(allowedMany)).toEqual(headers);
  });

  it('names the other subject as primary when told so', () => {
    const swapped = rateLimitHeaders(allowedMany, { primarySubject: IP, secondaryPolicyPrefix: 'u-' });
    expect(swapped['RateLimit-Policy']).toMatch(/^"u-rpm";q=60;w=60, "u-rpd"/);
    expect(swapped['RateLimit-Policy']).toMatch(/, "rpm";q=600;w=60$/);
  });
});

describe('rateLimitHeaders: refused', () => {
  const tpm = state('tpm', USER, 10_000, 9_500, 60, 50_000);
  const refusedByTpm: AcquireResult = {
    allowed: false,
    reason: 'tpm',
    refusedBy: tpm,
    retryAfterMs: 12_300,
    level: 'normal',
    dimensions: [state('rpm', USER, 60, 3, 60, 20_000), tpm],
  };

  it('sends Retry-After as the true wait for the refusing dimension, rounded up', () => {
    const h = rateLimitHeaders(refusedByTpm);
    expect(h['Retry-After']).toBe('13');
  });

  it('caps the refusing policy t at Retry-After (the draft: Retry-After not earlier than reset)', () => {
    const h = rateLimitHeaders(refusedByTpm);
    expect(h.RateLimit).toBe('"rpm";r=57;t=20, "tpm";r=500;t=13');
    expect(h['RateLimit-Policy']).toBe('"rpm";q=60;w=60, "tpm";q=10000;w=60;llmsec-qu="tokens"');
  });

  it('keeps legacy headers on requests when tokens refused', () => {
    const h = rateLimitHeaders(refusedByTpm);
    expect([h['X-RateLimit-Limit'], h['X-RateLimit-Remaining'], h['X-RateLimit-Reset']]).toEqual([
      '60',
      '57',
      '20',
    ]);
  });

  it('legacy headers show the refusing request dimension', () => {
    const rpd = state('rpd', USER, 100, 100, 86_400, 4_000_000);
    const h = rateLimitHeaders({
      allowed: false,
      reason: 'rpd',
      refusedBy: rpd,
      retryAfterMs: 4_000_000,
      level: 'normal',
      dimensions: [state('rpm', USER, 60, 0, 60, 0), rpd],
    });
    expect([
      h['X-RateLimit-Limit'],
      h['X-RateLimit-Remaining'],
      h['X-RateLimit-Reset'],
      h['Retry-After'],
    ]).toEqual(['100', '0', '4000', '4000']);
  });

  it('refused by concurrency: unit concurrent-requests, no window, Retry-After from the limiter', () => {
    const conc = state('concurrent', USER, 2, 2, 0, 0);
    const h = rateLimitHeaders({
      allowed: false,
      reason: 'concurrent',
      refusedBy: conc,
      retryAfterMs: 250,
      level: 'normal',
      dimensions: [conc],
    });
    expect(h).toEqual({
      'RateLimit-Policy': '"concurrent";q=2;qu="concurrent-requests"',
      RateLimit: '"concurrent";r=0',
      'X-RateLimit-Limit': '2',
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': '0',
      'Retry-After': '1',
    });
  });

  it('a refusal without dimensions (banned) has Retry-After (the ban end) and X-Should-Retry: false only', () => {
    expect(
      rateLimitHeaders({
        allowed: false,
        reason: 'banned',
        retryAfterMs: 3_600_000,
        level: 'banned',
        dimensions: [],
      }),
    ).toEqual({
      'Retry-After': '3600',
      'X-Should-Retry': 'false',
    });
  });

  it('a blocked refusal keeps Retry-After alone: the block ends by itself', () => {
    expect(
      rateLimitHeaders({
        allowed: false,
        reason: 'blocked',
        retryAfterMs: 300_000,
        level: 'blocked',
        dimensions: [],
      }),
    ).toEqual({ 'Retry-After': '300' });
  });
});

describe('rateLimitHeaders: options', () => {
  it('partition keys are 8 bytes of SHA-256 of the subject, as a Byte Sequence', () => {
    const pk = createHash('sha256').update(USER).digest().subarray(0, 8).toString('base64');
    const h = rateLimitHeaders(
      { allowed: true, retryAfterMs: 0, level: 'normal', dimensions: [state('rpm', USER, 60, 1, 60, 1000)] },
      { partitionKeys: true },
    );
    expect(h['RateLimit-Policy']).toBe(`"rpm";q=60;w=60;pk=:${pk}:`);
    expect(h.RateLimit).toBe(`"rpm";r=59;t=1;pk=:${pk}:`);
    expect(h.RateLimit).not.toContain('alice');
  });

  it('mostConstrainedOnly keeps one RateLimit item (lowest remaining share)', () => {
    const h = rateLimitHeaders(allowedMany, { mostConstrainedOnly: true });
    expect(h.RateLimit).toBe('"rpd";r=10;t=3601');
    expect(h['RateLimit-Policy']?.split(', ')).toHaveLength(6);
  });

  it('either family can be switched off', () => {
    expect(Object.keys(rateLimitHeaders(allowedMany, { legacyHeaders: false }))).toEqual([
      'RateLimit-Policy',
      'RateLimit',
    ]);
    expect(Object.keys(rateLimitHeaders(allowedMany, { draftHeaders: false }))).toEqual([
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ]);
  });

  it('without request-count dimensions the legacy headers use the most constrained dimension', () => {
    const h = rateLimitHeaders({
      allowed: true,
      retryAfterMs: 0,
      level: 'normal',
      dimensions: [state('tpm', USER, 1000, 900, 60, 5000), state('tph', USER, 10_000, 1000, 3600, 100_000)],
    });
    expect([h['X-RateLimit-Limit'], h['X-RateLimit-Remaining'], h['X-RateLimit-Reset']]).toEqual([
      '1000',
      '100',
      '5',
    ]);
  });

  it('duplicate states are listed once; negative remaining shows as 0', () => {
    const over = { ...state('rpm', USER, 10, 12, 60, 1500), remaining: -2 };
    const h = rateLimitHeaders({ allowed: true, retryAfterMs: 0, level: 'normal', dimensions: [over, over] });
    expect(h.RateLimit).toBe('"rpm";r=0;t=2');
  });
});

describe('Retry-After rounding', () => {
  it.each([
    [0, 1],
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [12_300, 13],
    [59_999, 60],
    [Number.NaN, 1],
    [-5, 1],
  ])('%d ms → %d s', (ms, s) => {
    expect(retryAfterSeconds(ms)).toBe(s);
  });
});

describe('structured-field serialization', () => {
  it('escapes quotes and backslashes and replaces non-printable characters', () => {
    expect(serializeString('a"b\\c\u00e9\n')).toBe('"a\\"b\\\\c??"');
  });
  it('rejects parameter keys that are not lowercase keys', () => {
    expect(() => serializeItem('x', [['Llmsec-Unit', 'tokens']])).toThrow(
      /invalid structured-field parameter key/,
    );
  });
  it('clamps integers to 15 digits', () => {
    expect(serializeItem('x', [['q', 1e20]])).toBe('"x";q=999999999999999');
  });
});
