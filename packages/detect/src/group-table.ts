/**
 * Per-group condition state for all the rules that share a group key (`user_id` for most):
 * one Map lookup per event however many rules read it. Bounded: past `maxGroups` the least
 * recently seen group is evicted (a Map keeps insertion order, and a touched group is
 * re-inserted at the end, so the first key is the least recently seen).
 */
export class GroupTable {
  readonly field: string;
  private readonly groups = new Map<string, unknown[]>();
  private readonly maxGroups: number;
  private readonly slots: number;
  private lastKey: string | undefined;
  private lastStates: unknown[] | undefined;
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
    // The same group again (a burst from one user) needs no re-ordering.
    if (key === this.lastKey) return this.lastStates!;
    let states = this.groups.get(key);
    if (states === undefined) {
      states = new Array<unknown>(this.slots).fill(undefined);
      if (this.groups.size >= this.maxGroups) this.evictOldest();
    } else {
      this.groups.delete(key);
    }
    this.groups.set(key, states);
    this.lastKey = key;
    this.lastStates = states;
    return states;
  }

  private evictOldest(): void {
    for (const key of this.groups.keys()) {
      this.groups.delete(key);
      this.evicted++;
      return;
    }
  }
}
