// The open-incident bookkeeping before issue 13 (a Map in lastTrueAt order: an extended
// incident deleted and re-inserted, the first entry resolved or evicted first), kept as the
// baseline of bench/detect/groups.ts. Not used by the engine.
import type { Incident } from '../../packages/detect/src/incident.ts';

export class OpenIncidentsV1 {
  private readonly open = new Map<string, Incident>();
  /** The key inserted last (an incident extended again and again is not moved each time). */
  private lastKey: string | undefined;

  get size(): number {
    return this.open.size;
  }

  get(key: string): Incident | undefined {
    return this.open.get(key);
  }

  first(): Incident | undefined {
    return this.open.values().next().value;
  }

  add(incident: Incident): void {
    this.open.set(incident.key, incident);
    this.lastKey = incident.key;
  }

  extended(incident: Incident): void {
    if (this.lastKey === incident.key) return;
    this.open.delete(incident.key);
    this.open.set(incident.key, incident);
    this.lastKey = incident.key;
  }

  remove(incident: Incident): void {
    this.open.delete(incident.key);
    if (this.lastKey === incident.key) this.lastKey = undefined;
  }
}
