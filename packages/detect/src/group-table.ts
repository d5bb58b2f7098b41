import { GroupIds } from './group-ids.ts';
import type { KeyHashFactory } from './group-index.ts';
import { GroupIndex } from './group-index.ts';
import type { GroupPrefetch } from './group-prefetch.ts';
import { SlabStore } from './slab/slab-store.ts';
import type { SlabRule } from './slab/slab-rule.ts';

/**
 * Per-group condition state for all the rules that share a group key (`user_id` for most):
 * one lookup per event however many rules read it. Each group has an index g (its row), a
 * small integer the index finds by the key (group-index.ts: open addressing over a typed array,
 * not a Map since issue 13's seventeenth round; why there). The object states of the rules
 * without a slab implementation sit in a row of `width` slots per group (states[g][slot]),
 * made when one of those rules first takes an event of the group; the rules with one keep their
 * state in the slab (slab/slab-store.ts), row g too.
 *
 * Why a row made on demand and not one flat array of `width` slots per group (until issue 13's
 * sixth round): with the default rules the nine object-state rules are the block, auth, tool
 * and limit rules, and most users only send requests: every group paid 9 slots (72 B, ~104 B
 * with the flat array's growth by push and its copies) for states it never had, and with many
 * users a new group's bytes are what it costs (see SlabStore). Now a group pays one slot until
 * an object rule sees it, then its row (+48 B of array header over the flat slots). An event of
 * an object rule loads one more object (the row) on its way to the state; the slab rules (the
 * request rules) load none of it.
 *
 * Bounded: past `maxGroups` a group is evicted by a weighted CLOCK (GCLOCK): each group has a
 * weight, a byte per group in a Uint8Array (100,000 groups take 100 KB, which stays in cache
 * where the rows do not), raised by one for every touch (each rule that reads an event of the
 * group) up to MAX_WEIGHT, 0 for a group just created. The hand walks the rows in order
 * (`keys[g]` owns row g), lowers each weight it passes by one and reuses the first row it finds
 * at 0, in place.
 *
 * Why a weight and not a second-chance bit: the keys are what an attacker invents most cheaply
 * (an auth_failure's user_id is the account name tried, its source_ip any address of a /64).
 * With one bit, a lap of the table of one-shot invented keys (maxGroups events) evicted every
 * group not seen during that lap: an attacker nine guardrail blocks in, or a stuffer at its
 * 49th account, was forgotten for the price of one lap between two of its own events. A group
 * of weight w now outlives w laps of one-shot keys, so forgetting it costs its own event count
 * times maxGroups invented events (test/group-eviction-flood.test.ts); one-shot keys are still
 * the first to go, and the table stays bounded.
 *
 * Why not the Map's own insertion order (delete the first entry, re-insert touched ones at
 * the back): V8 leaves a hole per deleted entry until the table is rebuilt, and
 * `entries().next()` walks every hole from the start, so with more groups than `maxGroups`
 * (a flood of invented user ids) each eviction cost O(evictions so far): 46 µs per event at
 * 200,000 users against 3 µs at 100,000. Here an eviction is O(1) amortised: each step of the
 * hand clears one bit that a touch set.
 */
/**
 * The most a group's weight counts (a byte): above every built-in threshold (credential_stuffing's
 * 50 the highest), so a group short of firing outlives as many laps of invented keys as it has
 * events. A stale heavy group (a user gone quiet) is gone within MAX_WEIGHT laps.
 */
export const MAX_WEIGHT = 255;

export class GroupTable {
  readonly field: string;
  /** Group index (row) by group key. */
  private readonly rows: GroupIndex;
  /** Per row: the object-state rules' states, `width` slots (undefined until one of them first sees the group: `stateRow`). */
  readonly states: (unknown[] | undefined)[] = [];
  /** The slab of the rules with a slab implementation (undefined when the table has none). */
  readonly slab: SlabStore | undefined;
  private readonly width: number;
  private readonly maxGroups: number;
  /** The key owning each row; grows to `maxGroups` and then stays. */
  private readonly keys: string[] = [];
  /** The weight per row: touches, up to MAX_WEIGHT, less one each time the hand passes. */
  private weight = new Uint8Array(64);
  /** The next row the eviction hand looks at. */
  private hand = 0;
  private lastKey: string | undefined;
  private lastRow = 0;
  evicted = 0;
  /** Each group's last processed event ids (repeats of one are dropped in that group: group-ids.ts). */
  readonly held: GroupIds;
  /** The engine's event sequence number whose repeat answer `heldRepeat` is (one check per event and table). */
  heldSeq = -1;
  heldRepeat = false;

  /**
   * `slots`: the rules that keep object states in this table (slot i: states[g][i]); `slabRules`:
   * the others; `hashOf`: the index's key hash per seed (the tests force collisions; default
   * seededKeyHash, seeded at random).
   */
  constructor(
    field: string,
    maxGroups: number,
    slots: number,
    slabRules: SlabRule[] = [],
    hashOf?: KeyHashFactory,
  ) {
    if (!(maxGroups >= 1)) throw new Error(`GroupTable: maxGroups must be at least 1, got ${maxGroups}`);
    this.field = field;
    // Whole groups: with 2.5 the row count (compared with `<`) would reach 3.
    this.maxGroups = Math.floor(maxGroups);
    this.width = slots;
    this.slab = slabRules.length > 0 ? new SlabStore(slabRules) : undefined;
    this.held = new GroupIds(this.maxGroups);
    this.rows = new GroupIndex(this.keys, hashOf);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Times the index took a new hash seed, and whether it fell back to a Map (group-index.ts; the tests read them). */
  get indexReseeds(): number {
    return this.rows.reseeds;
  }

  get indexFellBack(): boolean {
    return this.rows.fellBack;
  }

  /**
   * The group's row g, created (all object slots undefined, the slab row fresh) on first sight.
   * `hints`: the engine's read-ahead, which may have found the row already (GroupPrefetch.rowHint).
   */
  touch(key: string, hints?: GroupPrefetch): number {
    // The same group again (a burst from one user, or the next rule for this event): a touch
    // all the same, or a burst would weigh as one event.
    if (key === this.lastKey) {
      const row = this.lastRow;
      const w = this.weight[row]!;
      if (w < MAX_WEIGHT) this.weight[row] = w + 1;
      return row;
    }
    let row = hints === undefined ? -1 : hints.rowHint(this, key);
    let h = 0;
    if (row < 0) {
      h = this.rows.hash(key);
      row = this.rows.find(key, h);
    }
    if (row < 0) {
      const n = this.keys.length;
      if (n < this.maxGroups) {
        row = n;
        this.keys.push(key);
        this.states.push(undefined);
        if (n >= this.weight.length) {
          const weight = new Uint8Array(Math.min(this.maxGroups, n * 2));
          weight.set(this.weight);
          this.weight = weight;
        }
        this.slab?.reset(n, true);
      } else {
        row = this.replaceOne(key);
      }
      this.rows.insert(h, row);
    } else {
      const w = this.weight[row]!;
      if (w < MAX_WEIGHT) this.weight[row] = w + 1;
    }
    this.lastKey = key;
    this.lastRow = row;
    return row;
  }

  /** Row g's object states (`width` slots), made empty if it has none yet. */
  stateRow(g: number): unknown[] {
    return (this.states[g] ??= new Array<unknown>(this.width).fill(undefined));
  }

  /** The group's row, or -1: a lookup only (no weight raised, nothing created). */
  rowOf(key: string): number {
    return this.rows.find(key, this.rows.hash(key));
  }

  /**
   * The read-ahead's lookup in steps (group-prefetch.ts runs each for a whole batch, so the
   * misses of its keys overlap): the key's hash, then its first slot loaded (0 or 1, only so the
   * load is not optimised away), then the row as rowOf gives it.
   */
  keyHash(key: string): number {
    return this.rows.hash(key);
  }

  peekSlot(h: number): number {
    return this.rows.peek(h);
  }

  rowOfHashed(key: string, h: number): number {
    return this.rows.find(key, h);
  }

  /**
   * Reads, without writing, object state `slot` of row `row` (the slab rules' rows are read
   * ahead by SlabLane.peek). Returns 0 or 1, only so the loads are not optimised away
   * (group-prefetch.ts).
   */
  peekState(row: number, slot: number): number {
    return this.states[row]?.[slot] === undefined ? 0 : 1;
  }

  /** Evicts the first group the hand finds at weight 0 and gives its row, emptied, to `key`. */
  private replaceOne(key: string): number {
    const keys = this.keys;
    const weight = this.weight;
    const n = keys.length;
    let hand = this.hand;
    // Each step lowers a weight a touch raised (O(1) amortised). A whole lap without a 0 (every
    // group touched since): the laps the hand would still walk until one is at 0 are taken at
    // once, every weight lowered by the least of them. The same row ends up found (the first
    // from the hand among the lightest) in at most 2n + 1 steps, not MAX_WEIGHT laps.
    let steps = 0;
    while (weight[hand] !== 0) {
      weight[hand]--;
      hand = hand + 1 === n ? 0 : hand + 1;
      if (++steps === n) {
        let least = MAX_WEIGHT;
        for (let i = 0; i < n; i++) if (weight[i]! < least) least = weight[i]!;
        for (let i = 0; i < n; i++) weight[i] -= least;
      }
    }
    const victim = keys[hand]!;
    // Hashed again rather than a hash kept per row (4 B a group): evictions are the flood's path.
    this.rows.remove(this.rows.hash(victim), hand);
    if (victim === this.lastKey) this.lastKey = undefined;
    this.evicted++;
    keys[hand] = key;
    // The evicted group's states go with their row; the new group makes one if it needs one.
    this.states[hand] = undefined;
    this.slab?.reset(hand, false);
    this.held.reset(hand);
    this.hand = hand + 1 === n ? 0 : hand + 1;
    return hand;
  }
}
