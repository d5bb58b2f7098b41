// The GroupTable before issue 13 (eviction by deleting the Map's first entry), kept as the
// baseline of bench/detect/groups.ts. Not used by the engine.
/**
 * One group's condition state: a slot per engine rule, then one more slot for the
 * second-chance bit (touched since the eviction hand last passed), which saves an object
 * per group.
 */
type GroupRecord = unknown[];

/**
 * Per-group condition state for all the rules that share a group key (`user_id` for most):
 * one Map lookup per event however many rules read it. Bounded: past `maxGroups` the least
 * recently seen group is evicted, approximated with the second-chance (CLOCK) algorithm so
 * that a touch is one flag write instead of a Map re-insertion: the Map keeps insertion order,
 * and the eviction hand moves touched groups to the back and evicts the first untouched one.
 */
export class GroupTableV1 {
  readonly field: string;
  private readonly groups = new Map<string, GroupRecord>();
  private readonly maxGroups: number;
  private readonly slots: number;
  private lastKey: string | undefined;
  private lastRecord: GroupRecord | undefined;
  evicted = 0;

  constructor(field: string, maxGroups: number, slots: number) {
    this.field = field;
    this.maxGroups = maxGroups;
    this.slots = slots;
  }

  get size(): number {
    return this.groups.size;
  }

  /** The group's state slots (one per engine rule), created on first sight. */
  touch(key: string): unknown[] {
    // The same group again (a burst from one user, or the next rule for this event).
    if (key === this.lastKey) return this.lastRecord!;
    let record = this.groups.get(key);
    if (record === undefined) {
      if (this.groups.size >= this.maxGroups) this.evictOne();
      record = new Array<unknown>(this.slots + 1).fill(undefined);
      record[this.slots] = false;
      this.groups.set(key, record);
    } else {
      record[this.slots] = true;
    }
    this.lastKey = key;
    this.lastRecord = record;
    return record;
  }

  private evictOne(): void {
    // Each pass clears the bit of the groups it moves, so this ends within size + 1 steps.
    for (;;) {
      const first = this.groups.entries().next();
      if (first.done) return;
      const [key, record] = first.value;
      this.groups.delete(key);
      if (record[this.slots] === true) {
        record[this.slots] = false;
        this.groups.set(key, record);
      } else {
        if (key === this.lastKey) {
          this.lastKey = undefined;
          this.lastRecord = undefined;
        }
        this.evicted++;
        return;
      }
    }
  }
}
