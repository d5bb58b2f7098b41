import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { emptyBody, encodeBody, stepGroup, type RuleTable } from '../src/state/group-runner.ts';
import { appendable, decodeStored, encodeDelta, splitStored } from '../src/state/stored-group.ts';

/**
 * A stored body followed by appended steps reads back as the body the writer holds after those
 * steps (stored-group.ts), pending order and ties included, whatever the times, duplicates
 * and late events of the steps.
 */

const TABLE: RuleTable = { field: 'user_id', index: 0, rules: [], ttlMs: 60_000 };
const LIMITS = { maxUsersPerAlert: 10, maxPending: 1_000, recentIds: 32 };

function event(id: number, t: number): { t: number; event: SecurityEvent } {
  return {
    t,
    event: {
      event_id: `e${id}`,
      timestamp: '',
      category: 'guardrail_block',
      severity: 'warning',
      user_id: 'u',
    },
  };
}

describe('stored group: appended steps', () => {
  it('decode(body + deltas) equals the body after the same steps', () => {
    let appended = 0;
    let deltasRead = 0;
    fc.assert(
      fc.property(
        // Steps: each a few events (times from a small range, so ties are common; ids repeat, so
        // duplicates happen) and a watermark that may move (events behind it are late).
        fc.array(
          fc.record({
            events: fc.array(fc.tuple(fc.nat(30), fc.nat(12)), { minLength: 1, maxLength: 5 }),
            watermark: fc.integer({ min: -5, max: 3 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (steps) => {
          const body = emptyBody('u');
          let stored = encodeBody(body);
          for (const s of steps) {
            const step = stepGroup(
              TABLE,
              body,
              s.events.map(([id, t]) => event(id, t)),
              s.watermark,
              LIMITS,
            );
            if (!step.changed) continue;
            if (appendable(step)) {
              stored += `\n${encodeDelta(body, step)}`;
              appended++;
            } else stored = encodeBody(body);
            expect(encodeBody(decodeStored(stored))).toBe(encodeBody(body));
            deltasRead += stored.split('\n').length - 1;
          }
        },
      ),
      { numRuns: 300, seed: 7 },
    );
    // Both kinds of step happened, and reads went through chains of several appended steps.
    expect(appended).toBeGreaterThan(300);
    expect(deltasRead).toBeGreaterThan(2 * appended);
  });

  it('the version of either stored form', () => {
    expect(splitStored('12|{"k":"a"}')).toEqual([12, '{"k":"a"}']);
    expect(splitStored('13+|{"k":"a|b"}\n[1,2,[]]')).toEqual([13, '{"k":"a|b"}\n[1,2,[]]']);
  });

  it('a damaged appended step throws (the engine reports it), not misreads', () => {
    const body = encodeBody(emptyBody('u'));
    expect(() => decodeStored(`${body}\n[1,2]`)).toThrow();
    expect(() => decodeStored(`${body}\n{"x":1}`)).toThrow();
    expect(() => decodeStored(`${body}\n[1,2,[7]]`)).toThrow();
  });
});
