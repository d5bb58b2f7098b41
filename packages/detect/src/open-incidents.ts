import type { Incident } from './incident.ts';

/**
 * One rule's open incidents: found by group key, and kept in lastTrueAt order (oldest first)
 * for resolving (the scan stops at the first incident not yet due) and for evicting the one
 * quiet longest. The order is a doubly linked list through the incidents themselves
 * (`older` / `newer`), so extending, resolving and evicting are O(1).
 *
 * Why not the Map's own insertion order (delete and re-insert to move an incident to the back,
 * take the first entry to resolve or evict): V8 leaves a hole per deleted entry until the
 * table is rebuilt, and iteration from the start walks every hole, so at the cap (a flood of
 * users each opening an incident) each eviction cost O(holes): 8 µs per event at 20,000 users
 * over the default cap of 10,000. Here the Map only answers lookups, and nothing iterates it.
 */
export class OpenIncidents {
  private readonly byKey = new Map<string, Incident>();
  /** Quiet longest (resolves first). */
  private oldest: Incident | undefined;
  /** Extended or opened last. */
  private newest: Incident | undefined;

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Incident | undefined {
    return this.byKey.get(key);
  }

  /** The incident quiet longest, if any. */
  first(): Incident | undefined {
    return this.oldest;
  }

  /** Adds a new incident as the newest (its key must not be open). */
  add(incident: Incident): void {
    this.byKey.set(incident.key, incident);
    this.link(incident);
  }

  /** Moves an open incident to the newest end (it has just been extended). */
  extended(incident: Incident): void {
    if (this.newest === incident) return;
    this.unlink(incident);
    this.link(incident);
  }

  /**
   * Adds a new incident at its place in lastTrueAt order (after every one not newer), searching
   * from the newest end: for a caller whose incidents do not arrive in event-time order (shared
   * mode's overflow tier, fed by group steps in the order they complete). O(incidents newer).
   */
  addPlaced(incident: Incident): void {
    this.byKey.set(incident.key, incident);
    this.linkAfter(incident, this.lastNotNewer(incident.lastTrueAt));
  }

  /** Moves an incident whose lastTrueAt changed to its place in lastTrueAt order (see addPlaced). */
  placed(incident: Incident): void {
    this.unlink(incident);
    this.linkAfter(incident, this.lastNotNewer(incident.lastTrueAt));
  }

  /** Removes an open incident. */
  remove(incident: Incident): void {
    this.byKey.delete(incident.key);
    this.unlink(incident);
  }

  /** Oldest first. */
  *values(): IterableIterator<Incident> {
    for (let inc = this.oldest; inc !== undefined; inc = inc.newer) yield inc;
  }

  private link(incident: Incident): void {
    incident.older = this.newest;
    incident.newer = undefined;
    if (this.newest === undefined) this.oldest = incident;
    else this.newest.newer = incident;
    this.newest = incident;
  }

  /** The newest incident whose lastTrueAt is at most `t` (undefined: none). */
  private lastNotNewer(t: number): Incident | undefined {
    let at = this.newest;
    while (at !== undefined && at.lastTrueAt > t) at = at.older;
    return at;
  }

  /** Links an unlinked incident right after `after` (undefined: as the oldest). */
  private linkAfter(incident: Incident, after: Incident | undefined): void {
    if (after === this.newest) return this.link(incident);
    const newer = after === undefined ? this.oldest! : after.newer!;
    incident.older = after;
    incident.newer = newer;
    newer.older = incident;
    if (after === undefined) this.oldest = incident;
    else after.newer = incident;
  }

  private unlink(incident: Incident): void {
    const { older, newer } = incident;
    if (older === undefined) this.oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.newest = older;
    else newer.older = older;
    incident.older = undefined;
    incident.newer = undefined;
  }
}
