import type { RuleTable } from './group-runner.ts';

/**
 * Groups this process left events pending in: key -> oldest pending time. A group is released
 * (stepped) once the watermark passes its oldest pending event, as the in-memory reorder buffer
 * releases each event: keyed on the newest, an idle group's attack fired only when the
 * watermark passed the burst's last event (the lateness plus the burst's span late). Bounded
 * (maxPendingGroups): past it the group noted longest ago is forgotten here, and released by
 * whichever process finds it in the shared pending index.
 */
export class PendingGroups {
  private readonly max: number;
  private readonly groups = new Map<string, { table: RuleTable; from: number }>();

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.groups.size;
  }

  /** `key` has events pending from time `from` (its oldest). */
  note(key: string, table: RuleTable, from: number): void {
    this.groups.delete(key);
    if (this.groups.size >= this.max) {
      const oldest = this.groups.keys().next().value;
      if (oldest !== undefined) this.groups.delete(oldest);
    }
    this.groups.set(key, { table, from });
  }

  delete(key: string): void {
    this.groups.delete(key);
  }

  entries(): IterableIterator<[string, { table: RuleTable; from: number }]> {
    return this.groups.entries();
  }
}
