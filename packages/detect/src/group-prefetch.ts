import type { FieldGetter } from './fields.ts';
import { FINGERPRINT_FIELD } from './fields.ts';
import type { GroupTable } from './group-table.ts';
import type { ReorderBuffer } from './reorder-buffer.ts';

/**
 * Internal option (not part of the public API): the engine reads no group ahead. The tests
 * compare engines with and without the read-ahead; the benchmark's A/B can use it too.
 */
export const NO_PREFETCH: unique symbol = Symbol('llmsec.detect.noPrefetch');

/** Internal option: read ahead whatever the tables' sizes (the tests, with few groups). */
export const PREFETCH_ALWAYS: unique symbol = Symbol('llmsec.detect.prefetchAlways');

/**
 * Events whose groups are read ahead together. With 100,000 users, 4 to 16 measured the same
 * when the rows read were not the lines a request touches (before SlabStore's lanes); since,
 * 16 against 8 (bench/detect/engine-ab.ts, the same engine with 8 and 16, load 12-15):
 * 100,000 users 1.05x and 1.08x, 200,000 1.11x, 30,000 1.00x; 32 against 16 at 100,000, 1.01x.
 * More misses in flight per loop: a Map.get (the index until issue 13's seventeenth round) is a
 * builtin call, so only a few of them fit in the CPU's out-of-order window at once.
 */
export const PREFETCH_BATCH = 16;

/**
 * Below this many groups in every table nothing is read ahead: the rows stay in the CPU's
 * caches and the reads would only cost. On the shared two-core machine (2 MiB of L2 per core),
 * bench/detect/profile-engine.ts: 1,000 users 20-50 ns per event slower with the read-ahead,
 * 10,000 the same, 30,000 ~60 ns faster, 100,000 ~250 ns.
 */
export const PREFETCH_MIN_GROUPS = 8192;

/** What the events of one category look up first: its first rule's table and group key. */
interface Target {
  table: GroupTable;
  groupKey: FieldGetter;
  /** The rule's object-state slot in the table's rows, -1 for a slab rule (see GroupTable.peekState). */
  slot: number;
  /** A slab rule's lane (SlabStore.laneOf) and the last double of its row SlabLane.peek reads (laneLast). */
  lane: number;
  last: number;
}

/**
 * Reads ahead the groups of the events the reorder buffer holds next. With many users each
 * event's first reads of its group miss the CPU caches twice in a row (the index entry, then
 * the group's row), and JavaScript has no prefetch instruction: a load stalls the thread until it
 * completes, so the misses of one event cannot overlap with the work of another. They can
 * overlap with each other: every PREFETCH_BATCH events the groups of the next batch are looked
 * up in short loops (the key strings; their hashes, then their first index slots, then the
 * rows, the key text compared (group-index.ts); the slab lane's row index or the object state,
 * and the ids the group holds; the slab rows' first lines), each loop's loads
 * independent of one another, so the CPU has several misses in flight at once; the events' own
 * lookups then find those lines in cache. The row index and the row's lines were one loop until
 * issue 13's twelfth round: a dependent pair of misses per iteration, fewer rows in flight.
 *
 * Only reads: the index is only searched, the eviction weights and rows are not written,
 * so the tables evolve exactly as without it (tests: test/engine-prefetch.test.ts). The row
 * found is handed to the event's own touch (rowHint) when it is still the group's: one lookup
 * of the event's key string instead of two (issue 13, sixteenth round). Events
 * in the buffer that are not released yet, or that an out-of-order arrival moves back, are
 * only read early. Group keys that are not strings (a number is converted per rule) and the
 * fingerprint (a hash) are not read ahead.
 */
export class GroupPrefetch {
  private readonly targets = new Map<string, Target>();
  /** The distinct tables of the targets. */
  private readonly tables: GroupTable[] = [];
  /** Groups a table must hold before it is read ahead (0: always). */
  private readonly minGroups: number;
  /** The previous batch event's category and its target (decoded category strings are not internalized). */
  private lastCategory: string | undefined = undefined;
  private lastTarget: Target | undefined = undefined;
  /** Events at the buffer's head already read ahead (a hint: an out-of-order insert may shift them). */
  private ahead = 0;
  private readonly keys: string[] = new Array<string>(PREFETCH_BATCH).fill('');
  private readonly batch: (Target | undefined)[] = new Array<Target | undefined>(PREFETCH_BATCH).fill(
    undefined,
  );
  private readonly rows: number[] = new Array<number>(PREFETCH_BATCH).fill(0);
  /** Per batch event: its key's hash in its table's index (GroupTable.keyHash). */
  private readonly hashes = new Int32Array(PREFETCH_BATCH);
  /** Per batch event: its table's evictions when its row was looked up (the row is its group's until the next). */
  private readonly evictedAt: number[] = new Array<number>(PREFETCH_BATCH).fill(0);
  /** The batch position of the event the engine takes next (after next()), and whether the batch was read. */
  private pos = 0;
  private readOk = false;
  /** Per batch event: its group's row in the target's slab lane, -1 for none (or an object state). */
  private readonly laneRows: number[] = new Array<number>(PREFETCH_BATCH).fill(-1);
  /** Keeps the reads from being optimised away. */
  private sink = 0;
  /** Batches read and groups found in their tables (the tests count that the path runs). */
  batches = 0;
  found = 0;
  /** Rows handed to GroupTable.touch (rowHint). */
  hinted = 0;

  constructor(minGroups = PREFETCH_MIN_GROUPS) {
    this.minGroups = minGroups;
  }

  /** Registers a category's first rule; later rules of a category are not read ahead. */
  add(
    category: string,
    table: GroupTable,
    groupBy: string,
    groupKey: FieldGetter,
    slot: number,
    lane: number,
    last: number,
  ): void {
    if (this.targets.has(category) || groupBy === FINGERPRINT_FIELD) return;
    this.targets.set(category, { table, groupKey, slot, lane, last });
    if (!this.tables.includes(table)) this.tables.push(table);
  }

  /** Called before the buffer's oldest event is taken: every PREFETCH_BATCH events, reads the next batch's groups. */
  next(buffer: ReorderBuffer): void {
    if (this.ahead > 0) {
      this.ahead--;
      this.pos++;
      return;
    }
    const n = Math.min(PREFETCH_BATCH, buffer.size);
    this.pos = 0;
    this.readOk = false;
    if (n === 0) return;
    this.ahead = n - 1;
    // Small tables stay in cache: reading them ahead would only cost (skip this batch).
    if (!this.worthIt()) return;
    try {
      this.read(buffer, n);
      this.readOk = true;
    } catch {
      // A hint only. An event it cannot read (a caller's null, a throwing getter) must not fail
      // here, before the engine takes it out of the buffer: every later drain would fail on it
      // and the buffer grow past maxBufferedEvents. The engine's own read of it reports it.
    }
  }

  /** Reads the groups of the buffer's first n events, in the four loops below. */
  private read(buffer: ReorderBuffer, n: number): void {
    const keys = this.keys;
    const batch = this.batch;
    const rows = this.rows;
    let sink = this.sink;
    // 1. The events and their key strings (their text, which the next loop hashes).
    for (let k = 0; k < n; k++) {
      const event = buffer.eventAt(k);
      const category = event.category;
      let target: Target | undefined;
      if (category === this.lastCategory) target = this.lastTarget;
      else {
        target = this.targets.get(category);
        this.lastCategory = category;
        this.lastTarget = target;
      }
      batch[k] = undefined;
      if (target === undefined) continue;
      const key = target.groupKey(event);
      if (typeof key !== 'string') continue;
      sink = (sink + key.length) | 0;
      keys[k] = key;
      batch[k] = target;
    }
    // 2. The keys' hashes (the text just read is in cache), then their first index slots (each
    // load independent of the others: the misses overlap), then the rows, comparing the text.
    const hashes = this.hashes;
    for (let k = 0; k < n; k++) {
      const target = batch[k];
      if (target !== undefined) hashes[k] = target.table.keyHash(keys[k]!);
    }
    for (let k = 0; k < n; k++) {
      const target = batch[k];
      if (target !== undefined) sink = (sink + target.table.peekSlot(hashes[k]!)) | 0;
    }
    const evictedAt = this.evictedAt;
    for (let k = 0; k < n; k++) {
      const target = batch[k];
      if (target === undefined) rows[k] = -1;
      else {
        rows[k] = target.table.rowOfHashed(keys[k]!, hashes[k]!);
        evictedAt[k] = target.table.evicted;
      }
    }
    // 3. Where each group's row is: its slab lane's row index (SlabLane.rowOf, 4 B a group), or
    // its object state; and the ids the group holds (the repeated-id check: group-ids.ts).
    const laneRows = this.laneRows;
    let found = 0;
    for (let k = 0; k < n; k++) {
      const target = batch[k];
      const row = rows[k]!;
      laneRows[k] = -1;
      if (target === undefined || row < 0) continue;
      const table = target.table;
      if (target.slot >= 0) sink = (sink + table.peekState(row, target.slot)) | 0;
      else laneRows[k] = table.slab!.lanes[target.lane]!.rowIfAny(row);
      sink = (sink + table.held.peek(row)) | 0;
      found++;
    }
    // 4. The slab rows' first lines: their own loop, so that each iteration's loads depend only
    // on the index read in loop 3 and the CPU keeps more of them in flight at once.
    for (let k = 0; k < n; k++) {
      const r = laneRows[k]!;
      if (r < 0) continue;
      const target = batch[k]!;
      sink = (sink + target.table.slab!.lanes[target.lane]!.peek(r, target.last)) | 0;
    }
    this.sink = sink;
    this.found += found;
    this.batches++;
  }

  /**
   * The row this batch's read found for the group `key` of `table`, for the event the engine
   * takes now (the read-ahead looked it up at that event's place in the buffer), or -1: then
   * GroupTable.touch looks it up itself. A row changes hands only when its table evicts a group,
   * so a row found for the same key and table with no eviction since is still the group's,
   * whichever event's place it was found at (an out-of-order insert may have moved the events).
   * With fresh id strings (real input) the read-ahead's lookup hashed the event's string and
   * compared it with the table's; this saves touch a second lookup of the same string.
   */
  rowHint(table: GroupTable, key: string): number {
    const k = this.pos;
    if (!this.readOk || k >= PREFETCH_BATCH) return -1;
    if (this.batch[k]?.table !== table || this.keys[k] !== key || this.evictedAt[k] !== table.evicted)
      return -1;
    const row = this.rows[k]!;
    if (row >= 0) this.hinted++;
    return row;
  }

  /** Whether some table holds enough groups for its rows to fall out of the CPU caches. */
  private worthIt(): boolean {
    const tables = this.tables;
    for (let i = 0; i < tables.length; i++) if (tables[i]!.size >= this.minGroups) return true;
    return false;
  }
}
