import type { Incident } from './incident.ts';
import { OpenIncidents } from './open-incidents.ts';

/**
 * One rule's overflow incidents: the second, process-local tier of open incidents, for groups
 * whose rule held while the rule already had maxOpenIncidentsPerRule open. The open set is
 * protected (invented ids cannot push a real incident out of it), but a rule at its cap must
 * still alert: an attacker who fills the cap with invented ids and then attacks for real would
 * otherwise get neither a firing line nor the fleet enforcement that acts on it. So a refused
 * incident still opens here, fires as it would have, is extended by its group's events and
 * resolves with a resolved line; the tier holds at most `max`, and when full its quiet-longest
 * member is resolved early (a resolved line too) to make room. A flood churns this tier, never
 * the open set, and every incident that fired gets its resolved line.
 */
export class OverflowIncidents {
  protected readonly list = new OpenIncidents();

  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.list.size;
  }

  get(key: string): Incident | undefined {
    return this.list.get(key);
  }

  /** The member quiet longest (resolves first), if any. */
  first(): Incident | undefined {
    return this.list.first();
  }

  /**
   * Adds a newly opened incident (its key must not be here). When the tier is full, returns the
   * quiet-longest member it removed to make room: the caller sends its resolved line.
   */
  add(incident: Incident): Incident | undefined {
    let early: Incident | undefined;
    if (this.list.size >= this.max) {
      early = this.list.first();
      // The engine counts these (EngineStats.overflowResolvedEarly) when it sends their lines.
      if (early !== undefined) this.list.remove(early);
    }
    this.insert(incident);
    return early;
  }

  /** A member was extended (lastTrueAt moved): keeps the quiet-longest order. */
  extended(incident: Incident): void {
    this.list.extended(incident);
  }

  /** In memory events come in event-time order: a new incident is the newest. */
  protected insert(incident: Incident): void {
    this.list.add(incident);
  }

  remove(incident: Incident): void {
    this.list.remove(incident);
  }

  /** Oldest first. */
  values(): IterableIterator<Incident> {
    return this.list.values();
  }
}

/**
 * The overflow tier of shared mode, where incidents are opened and extended by group steps in
 * the order the steps complete, not in event time (one round's groups are stepped concurrently,
 * and an event may arrive up to the lateness after a newer one): each opened or extended member
 * is placed by its lastTrueAt, searching from the newest end (usually no step). So resolving
 * stops at the first member not due without passing over one that is (kept in arrival order, a
 * member could resolve rounds late behind a later-due one), and a full tier pushes out the
 * member strictly quiet longest, as in memory.
 */
export class PlacedOverflowIncidents extends OverflowIncidents {
  override extended(incident: Incident): void {
    this.list.placed(incident);
  }

  protected override insert(incident: Incident): void {
    this.list.addPlaced(incident);
  }
}
