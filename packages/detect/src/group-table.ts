/**
 * Per-group condition state for all the rules that share a group key (`user_id` for most):
 * one Map lookup per event however many rules read it. The states of all groups sit in one
 * flat array, a row of `width` slots per group (a slot per rule of the table, then the
 * second-chance bit), and the Map holds each group's row offset, a small integer stored in
 * the Map itself. With many users every event's first read of its group is a cache miss per
 * object on the way; a record array per group (two objects: the array and its elements)
 * added two to each event, the row adds one.
 *
 * Bounded: past `maxGroups` the least recently seen group is evicted, approximated with the
 * second-chance (CLOCK) algorithm so that a touch is one flag write. The hand walks the rows
 * in order (`keys[g]` owns row g); it clears the bit of touched groups as it passes and
 * reuses the first untouched group's row in place.
 *
 * Why not the Map's own insertion order (delete the first entry, re-insert touched ones at
 * the back): V8 leaves a hole per deleted entry until the table is rebuilt, and
 * `entries().next()` walks every hole from the start, so with more groups than `maxGroups`
 * (a flood of invented user ids) each eviction cost O(evictions so far): 46 µs per event at
 * 200,000 users against 3 µs at 100,000. Here an eviction is O(1) amortised: each step of the
 * hand clears one bit that a touch set.
 */
export class GroupTable {
  readonly field: string;
  /** Row offset into `states` by group key. */
  private readonly rows = new Map<string, number>();
  /** `width` slots per group: the rules' states (undefined until a rule first sees the group), then the bit. */
  readonly states: unknown[] = [];
  private readonly width: number;
  private readonly maxGroups: number;
  /** The key owning each row (row g starts at g * width); grows to `maxGroups` and then stays. */
  private readonly keys: string[] = [];
  /** The next row the eviction hand looks at. */
  private hand = 0;
  private lastKey: string | undefined;
  private lastRow = 0;
  evicted = 0;

  /** `slots`: the rules that keep state in this table (slot i: states[row + i]). */
  constructor(field: string, maxGroups: number, slots: number) {
    if (!(maxGroups >= 1)) throw new Error(`GroupTable: maxGroups must be at least 1, got ${maxGroups}`);
    this.field = field;
    this.maxGroups = maxGroups;
    this.width = slots + 1;
  }

  get size(): number {
    return this.rows.size;
  }

  /** The offset of the group's row in `states`, created (all slots undefined) on first sight. */
  touch(key: string): number {
    // The same group again (a burst from one user, or the next rule for this event).
    if (key === this.lastKey) return this.lastRow;
    let row = this.rows.get(key);
    if (row === undefined) {
      if (this.keys.length < this.maxGroups) {
        row = this.keys.length * this.width;
        this.keys.push(key);
        const states = this.states;
        for (let i = 1; i < this.width; i++) states.push(undefined);
        states.push(false);
      } else {
        row = this.replaceOne(key);
      }
      this.rows.set(key, row);
    } else {
      this.states[row + this.width - 1] = true;
    }
    this.lastKey = key;
    this.lastRow = row;
    return row;
  }

  /** Evicts the first group the hand finds untouched and gives its row, emptied, to `key`. */
  private replaceOne(key: string): number {
    const keys = this.keys;
    const states = this.states;
    const width = this.width;
    const bit = width - 1;
    const n = keys.length;
    let hand = this.hand;
    // Each step clears a bit, so this ends within n + 1 steps (n when one group is untouched).
    while (states[hand * width + bit] === true) {
      states[hand * width + bit] = false;
      hand = hand + 1 === n ? 0 : hand + 1;
    }
    const victim = keys[hand]!;
    this.rows.delete(victim);
    if (victim === this.lastKey) this.lastKey = undefined;
    this.evicted++;
    keys[hand] = key;
    const row = hand * width;
    for (let i = 0; i < bit; i++) states[row + i] = undefined;
    this.hand = hand + 1 === n ? 0 : hand + 1;
    return row;
  }
}
