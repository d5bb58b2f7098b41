/**
 * The last HELD_IDS event ids each group of a table processed (as idHash numbers), to drop an
 * event whose id its group already counted: the shared state's rule (group-runner.ts keeps a
 * group's last 32 processed ids), so one process in memory and a fleet on Redis drop the same
 * repeats. Per group, not per process: an id repeated in another group (a bug, or a forged id:
 * Bob's block carrying the id of Alice's) counts there, where the fleet's group never held it;
 * and one group's traffic cannot push another group's ids out.
 *
 * Rows as the group table numbers them, HELD_IDS doubles each in one Float64Array (0 = empty),
 * allocated only once an event fed through `ingestOnce` reaches the table and grown with its
 * rows: 257 bytes per group row, none for an engine fed through `ingest` only.
 */
export const HELD_IDS = 32;

export class GroupIds {
  private ids = new Float64Array(0);
  /** Per row: the ring position the next id is written to. */
  private next = new Uint8Array(0);

  private readonly maxRows: number;

  constructor(maxRows: number) {
    this.maxRows = maxRows;
  }

  /**
   * Whether row `row` holds id `h` (a repeat: true); otherwise records it, pushing out the
   * row's oldest when HELD_IDS are held. O(HELD_IDS).
   */
  repeat(row: number, h: number): boolean {
    if (row >= this.next.length) this.grow(row + 1);
    const ids = this.ids;
    const base = row * HELD_IDS;
    for (let i = base, end = base + HELD_IDS; i < end; i++) if (ids[i] === h) return true;
    const k = this.next[row]!;
    ids[base + k] = h;
    this.next[row] = k + 1 === HELD_IDS ? 0 : k + 1;
    return false;
  }

  /** Empties row `row` (its group was evicted and the row given to another). */
  reset(row: number): void {
    if (row >= this.next.length) return;
    this.ids.fill(0, row * HELD_IDS, (row + 1) * HELD_IDS);
    this.next[row] = 0;
  }

  private grow(rows: number): void {
    let size = Math.max(64, this.next.length);
    while (size < rows) size *= 2;
    size = Math.max(rows, Math.min(size, this.maxRows));
    const ids = new Float64Array(size * HELD_IDS);
    ids.set(this.ids);
    const next = new Uint8Array(size);
    next.set(this.next);
    this.ids = ids;
    this.next = next;
  }
}
