import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupTable } from '../src/group-table.ts';

/**
 * The table's eviction against the textbook second-chance queue it implements: a FIFO of
 * groups where a touched group at the front goes to the back with its bit cleared, and the
 * first untouched one is evicted; a new group joins at the back. Both must hold the same
 * groups, with the same states, after any sequence of touches. Like the table, the model
 * treats a touch of the group touched just before as already counted (the table's one-entry
 * cache for the rules of one event and for bursts; it does not set the bit again).
 */
class SecondChanceQueue {
  readonly queue: { key: string; touched: boolean }[] = [];
  evicted = 0;
  private last: string | undefined;
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }

  touch(key: string): void {
    if (key === this.last) return;
    this.last = key;
    const entry = this.queue.find((e) => e.key === key);
    if (entry !== undefined) {
      entry.touched = true;
      return;
    }
    if (this.queue.length >= this.max) {
      for (;;) {
        const first = this.queue.shift()!;
        if (!first.touched) break;
        first.touched = false;
        this.queue.push(first);
      }
      this.evicted++;
    }
    this.queue.push({ key, touched: false });
  }
}

describe('GroupTable', () => {
  it('evicts exactly as a second-chance queue does, and keeps each group its state', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 300 }),
        (max, touches) => {
          const table = new GroupTable('user_id', max, 2);
          const model = new SecondChanceQueue(max);
          const counts = new Map<string, number>();
          for (const k of touches) {
            const key = `u${k}`;
            model.touch(key);
            const g = table.touch(key);
            // A fresh row means the group was new or evicted: its count starts again.
            const n = ((table.states[g * 2 + 1] as number | undefined) ?? 0) + 1;
            table.states[g * 2 + 1] = n;
            counts.set(key, n);
          }
          expect(table.size).toBe(model.queue.length);
          expect(table.evicted).toBe(model.evicted);
          // Each held group still has its state; touching it again does not create a new one.
          for (const { key } of model.queue)
            expect(table.states[table.touch(key) * 2 + 1]).toBe(counts.get(key));
          expect(table.size).toBe(model.queue.length);
        },
      ),
      { numRuns: 500 },
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
