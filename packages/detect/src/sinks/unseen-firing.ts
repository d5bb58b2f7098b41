import type { AlertmanagerAlert } from './alertmanager-payload.ts';

/**
 * Resolves that stand for an incident its Alertmanager never saw firing: posted as a firing
 * copy (see AlertmanagerSink.stamped). A WeakSet, so the marker goes with the payload.
 */
const unseen = new WeakSet<AlertmanagerAlert>();

/**
 * The resolve `resolve`, marked to be posted as a firing copy that ends `holdMs` after its POST,
 * with the incident's real end in a `resolved_at` annotation. Alertmanager notifies a resolve
 * only for an alert it notified as firing: an incident whose resolve replaced its firing in a
 * target's queue (the target was down for the incident's whole life, or both came in one tick,
 * as with a backlog of old events) reached it as a resolve only, and nobody was paged.
 */
export function unseenResolve(resolve: AlertmanagerAlert): AlertmanagerAlert {
  const held: AlertmanagerAlert = {
    ...resolve,
    annotations: { ...resolve.annotations, resolved_at: resolve.endsAt ?? '' },
  };
  unseen.add(held);
  return held;
}

export function isUnseenResolve(payload: AlertmanagerAlert): boolean {
  return unseen.has(payload);
}

/**
 * The alert ids whose firing an Alertmanager of the sink's cluster has received, so a resolve
 * that replaces a queued firing of one of them (an instance answered it, this one was down or
 * failed since) goes out as a plain resolve. Bounded: past `max` the oldest is forgotten, and a forgotten incident's
 * resolve is at worst held as unseen (shown active `holdMs` longer), never lost.
 */
export class ShownFirings {
  private readonly ids = new Set<string>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** After a POST to one of the targets succeeded: what the cluster now knows of each alert. */
  delivered(ids: readonly string[], items: readonly AlertmanagerAlert[]): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const item = items[i] as AlertmanagerAlert;
      // A plain resolve ends the alert there; an unseen one is now shown firing until its hold
      // ends, so a later resolve (the fleet check's) is a plain one.
      if (item.endsAt !== undefined && !isUnseenResolve(item)) {
        this.ids.delete(id);
        continue;
      }
      this.ids.delete(id);
      this.ids.add(id);
      if (this.ids.size > this.max) {
        const oldest = this.ids.values().next().value as string;
        this.ids.delete(oldest);
      }
    }
  }
}
