import { describe, expect, it } from 'vitest';
import { bearerChecker } from '../src/otlp/auth.ts';

describe('bearerChecker', () => {
  const check = bearerChecker('s3cret-token', 'test')!;

  it('takes the token under the Bearer scheme in any case (RFC 9110: schemes are case-insensitive)', () => {
    expect(check('Bearer s3cret-token')).toBe(true);
    expect(check('bearer s3cret-token')).toBe(true);
    expect(check('BEARER s3cret-token')).toBe(true);
    expect(check('Bearer  s3cret-token')).toBe(true);
  });

  it('refuses another token, another scheme, a missing token or no header', () => {
    expect(check('Bearer S3CRET-TOKEN')).toBe(false);
    expect(check('Bearer s3cret-token-and-more')).toBe(false);
    expect(check('Bearer s3cret-toke')).toBe(false);
    expect(check('Basic s3cret-token')).toBe(false);
    expect(check('Bearers3cret-token')).toBe(false);
    expect(check('s3cret-token')).toBe(false);
    expect(check('Bearer ')).toBe(false);
    expect(check(undefined)).toBe(false);
    expect(check(['Bearer s3cret-token'])).toBe(false);
  });

  it('no token configured: no checker', () => {
    expect(bearerChecker(undefined, 'test')).toBeUndefined();
  });
});
