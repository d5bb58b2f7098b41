/**
 * A bounded set of recently seen event ids: the same security event reaches the engine as a
 * span event, as a log record and possibly through the SDK's onEvent hook, and must count
 * once. Oldest ids are forgotten first (FIFO), so memory is fixed at `capacity` ids.
 */
export class RecentIds {
  private readonly set = new Set<string>();
  private readonly ring: string[];
  private next = 0;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new Error(`RecentIds: capacity must be at least 1, got ${capacity}`);
    this.ring = new Array<string>(capacity).fill('');
  }

  /** Records the id; false when it was already recorded (a duplicate). */
  add(id: string): boolean {
    if (this.set.has(id)) return false;
    const old = this.ring[this.next]!;
    if (old !== '') this.set.delete(old);
    this.ring[this.next] = id;
    this.next = this.next + 1 === this.ring.length ? 0 : this.next + 1;
    this.set.add(id);
    return true;
  }

  get size(): number {
    return this.set.size;
  }
}
