// The public event API recorded whatever it was given: requestCompleted({ promptTokens: -5,
// latencyMs: -1, costUsd: -3, blocked: 'yes' }) and unusualTokenUsage({ promptTokens: -1e9 })
// went out as such, into the token baselines, prompt-length rules and cost sums. Counts are now
// read as the instrumentation reads a provider's usage (whole numbers 0 .. 2^53 - 1), measures
// as finite numbers >= 0, blocked as a boolean; anything else is not reported (left out), the
// event still emitted, nothing thrown.
import { describe, expect, it } from 'vitest';
import { ManualClock, createIdGenerator, seededRandom } from '@llmsec/core';
import { SecurityEvents } from '../src/security-events.ts';

const events = (): SecurityEvents =>
  new SecurityEvents({
    serviceName: 'svc',
    clock: new ManualClock(Date.parse('2026-12-04T10:00:00.000Z')),
    ids: createIdGenerator(seededRandom(7)),
    fingerprintKey: 'k'.repeat(32),
  });

describe('the event API reads counts, measures and flags', () => {
  it('leaves out negative, fractional, huge and wrongly typed values of request_completed', () => {
    const e = events().requestCompleted({
      userId: 'u',
      model: 'm',
      promptTokens: -5,
      completionTokens: 1.5,
      latencyMs: -1,
      costUsd: -3,
      promptLength: 2 ** 53,
      newInputLength: Number.NaN,
      turnIndex: Infinity,
      blocked: 'yes' as unknown as boolean,
    });
    expect(e.category).toBe('request_completed');
    expect(e.metadata).toEqual({ model: 'm' });
  });

  it('keeps good values, fractions of a measure and numeric strings included', () => {
    const e = events().requestCompleted({
      userId: 'u',
      model: 'm',
      promptTokens: 12,
      completionTokens: '7' as unknown as number,
      latencyMs: 12.5,
      costUsd: 0.0031,
      promptLength: 0,
      turnIndex: 2 ** 53 - 1,
      blocked: false,
    });
    expect(e.metadata).toEqual({
      model: 'm',
      prompt_tokens: 12,
      completion_tokens: 7,
      latency_ms: 12.5,
      cost_usd: 0.0031,
      prompt_length: 0,
      turn_index: 2 ** 53 - 1,
      blocked: false,
    });
  });

  it('unusual_token_usage: a negative or fractional count is not reported', () => {
    const e = events().unusualTokenUsage({ userId: 'u', promptTokens: -1e9, completionTokens: 0.5 });
    expect(e.metadata ?? {}).toEqual({});
    const ok = events().unusualTokenUsage({ userId: 'u', promptTokens: 90_000, completionTokens: 10 });
    expect(ok.metadata).toEqual({ prompt_tokens: 90_000, completion_tokens: 10 });
  });
});
