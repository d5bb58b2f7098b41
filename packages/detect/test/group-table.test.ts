import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupTable, MAX_WEIGHT } from '../src/group-table.ts';

/**
 * The table's eviction against the textbook weighted second-chance (GCLOCK) queue it implements:
 * a FIFO of groups where a group at the front with a weight above 0 goes to the back with its
 * weight lowered by one, and the first at 0 is evicted; a new group joins at the back at 0, and
 * every touch of a held group (the next rule of one event too) raises its weight, up to
 * MAX_WEIGHT. Both must hold the same groups, with the same states, after any sequence of
 * touches. The table walks a lap at a time and takes whole laps at once when none is at 0; the
 * model walks them all.
 */
class WeightedSecondChanceQueue {
  readonly queue: { key: string; weight: number }[] = [];
  evicted = 0;
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }

  touch(key: string): void {
    const entry = this.queue.find((e) => e.key === key);
    if (entry !== undefined) {
      entry.weight = Math.min(MAX_WEIGHT, entry.weight + 1);
      return;
    }
    if (this.queue.length >= this.max) {
      for (;;) {
        const first = this.queue.shift()!;
        if (first.weight === 0) break;
        first.weight--;
        this.queue.push(first);
      }
      this.evicted++;
    }
    this.queue.push({ key, weight: 0 });
  }
}

describe('GroupTable', () => {
  const agreesWithModel = (max: number, touches: number[], hash?: (key: string) => number): void => {
    const table = new GroupTable('user_id', max, 2, [], hash && (() => hash));
    const model = new WeightedSecondChanceQueue(max);
    const counts = new Map<string, number>();
    for (const k of touches) {
      const key = `u${k}`;
      model.touch(key);
      const g = table.touch(key);
      // A fresh row means the group was new or evicted: its count starts again.
      const n = ((table.stateRow(g)[1] as number | undefined) ?? 0) + 1;
      table.stateRow(g)[1] = n;
      counts.set(key, n);
    }
    expect(table.size).toBe(model.queue.length);
    expect(table.evicted).toBe(model.evicted);
    // Each held group still has its state; touching it again does not create a new one.
    for (const { key } of model.queue) expect(table.stateRow(table.touch(key))[1]).toBe(counts.get(key));
    expect(table.size).toBe(model.queue.length);
  };

  it('evicts exactly as a weighted second-chance queue does, and keeps each group its state', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 300 }),
        (max, touches) => agreesWithModel(max, touches),
      ),
      { numRuns: 500 },
    );
  });

  it('evicts as the model does with every key in one of two hashes (collisions and removes in the index)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 300 }),
        (max, touches) => agreesWithModel(max, touches, (key) => key.length % 2),
      ),
      { numRuns: 300 },
    );
  });

  it('agrees with the model where weights reach MAX_WEIGHT (bursts of a few keys)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 400 })), {
          maxLength: 12,
        }),
        (max, bursts) =>
          agreesWithModel(
            max,
            bursts.flatMap(([k, n]) => Array<number>(n).fill(k)),
          ),
      ),
      { numRuns: 200 },
    );
  });

  it('stays bounded under a flood of distinct keys', () => {
    const table = new GroupTable('user_id', 1_000, 2);
    for (let i = 0; i < 50_000; i++) table.touch(`flood-${i}`);
    expect(table.size).toBe(1_000);
    expect(table.evicted).toBe(49_000);
    // The newest thousand are the ones held.
    expect(table.touch('flood-49999')).toBe(table.touch('flood-49999'));
    table.touch('flood-0');
    expect(table.evicted).toBe(49_001);
  });
});

describe('GroupTable cap', () => {
  it('holds whole groups only: a fractional cap rounds down', () => {
    for (const [cap, held] of [
      [1.5, 1],
      [2.5, 2],
      [100.5, 100],
    ] as const) {
      const table = new GroupTable('user_id', cap, 1);
      for (let i = 0; i < 1_000; i++) table.touch(`k${i}`);
      expect(table.size, `cap ${cap}`).toBe(held);
      expect(table.evicted).toBe(1_000 - held);
    }
  });
});
