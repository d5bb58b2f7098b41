import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { EventQueue } from '../src/state/event-queue.ts';
import { GroupCache } from '../src/state/group-cache.ts';
import { emptyBody, type RuleTable } from '../src/state/group-runner.ts';
import { PendingGroups } from '../src/state/pending-groups.ts';

/**
 * The shared engine's bounded parts against plain models: the event queue (drops the oldest
 * when full, FIFO, oldest time), the write cache (byte bound, oldest write evicted first, take
 * removes), the pending-group memory (count bound, the note made longest ago forgotten first).
 */

const ev = (t: number) => ({ t, event: { event_id: `e${t}` } as SecurityEvent });
const table = { field: 'user_id', index: 0, rules: [], ttlMs: 1 } as unknown as RuleTable;

describe('shared state parts', () => {
  it('EventQueue is a FIFO that drops its oldest past the cap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(-1), fc.constant(-2)), {
          maxLength: 300,
        }),
        (cap, ops) => {
          const q = new EventQueue(cap);
          let model: number[] = [];
          for (const op of ops) {
            if (op === -1) {
              const n = 1 + (model.length % 3);
              expect(q.take(n).map((e) => e.t)).toEqual(model.slice(0, n));
              model = model.slice(n);
            } else if (op === -2) {
              expect(q.drain().map((e) => e.t)).toEqual(model);
              model = [];
            } else {
              const full = model.length >= cap;
              expect(q.push(ev(op))).toBe(!full);
              if (full) model.shift();
              model.push(op);
            }
            expect(q.length).toBe(model.length);
            expect(q.oldestTime()).toBe(model.length > 0 ? Math.min(...model) : Number.POSITIVE_INFINITY);
          }
        },
      ),
    );
  });

  it('EventQueue compacts its taken prefix (5,000 pushes and takes keep the length right)', () => {
    const q = new EventQueue(100_000);
    for (let i = 0; i < 5_000; i++) q.push(ev(i));
    for (let i = 0; i < 4_999; i++) expect(q.take(1)[0]!.t).toBe(i);
    expect(q.length).toBe(1);
    expect(q.take(10).map((e) => e.t)).toEqual([4_999]);
  });

  it('GroupCache keeps the newest writes within its byte bound; take removes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 200 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 60 }), fc.boolean()), {
          maxLength: 300,
        }),
        (maxBytes, ops) => {
          const cache = new GroupCache(maxBytes);
          // Model: keys in write order with their bytes.
          let model: [string, number, number][] = [];
          let v = 0;
          for (const [k, bytes, isTake] of ops) {
            const key = `g${k}`;
            if (isTake) {
              const got = cache.take(key);
              const m = model.find(([mk]) => mk === key);
              expect(got?.v).toBe(m?.[2]);
              model = model.filter(([mk]) => mk !== key);
              expect(cache.take(key)).toBeUndefined();
            } else {
              v++;
              cache.remember(key, v, emptyBody(key), bytes);
              model = model.filter(([mk]) => mk !== key);
              let total = model.reduce((s, [, b]) => s + b, 0);
              while (total + bytes > maxBytes && model.length > 0) total -= model.shift()![1];
              model.push([key, bytes, v]);
            }
          }
          for (const [key, , mv] of model) expect(cache.take(key)?.v).toBe(mv);
        },
      ),
    );
  });

  it('PendingGroups forgets the note made longest ago past its bound', () => {
    const pending = new PendingGroups(3);
    for (const [key, from] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['a', 4],
      ['d', 5],
    ] as const)
      pending.note(key, table, from);
    expect([...pending.entries()].map(([k, p]) => [k, p.from])).toEqual([
      ['c', 3],
      ['a', 4],
      ['d', 5],
    ]);
    pending.delete('a');
    expect(pending.size).toBe(2);
  });
});
