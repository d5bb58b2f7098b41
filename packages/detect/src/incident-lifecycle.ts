import { diag, type Counter } from '@opentelemetry/api';
import type { Alert, SecurityEvent } from '@llmsec/core';
import type { AlertDispatch } from './alert-dispatch.ts';
import type { Dispatch, RuleRuntime } from './dispatch-table.ts';
import type { ExtendHeldElsewhere } from './engine-internal-options.ts';
import type { EngineLimits } from './engine-limits.ts';
import type { EngineCounts } from './engine-stats.ts';
import { openIncident, type Incident } from './incident.ts';
import type { OpenIncidents } from './open-incidents.ts';
import type { OverflowIncidents } from './overflow-incidents.ts';

/** The engine's counters this lifecycle moves (the engine's own object, shared). */
type IncidentCounts = Pick<
  EngineCounts,
  'alertsFired' | 'alertsResolved' | 'incidentsRefused' | 'overflowResolvedEarly'
>;

export interface IncidentLifecycleOptions {
  runtimes: readonly RuleRuntime[];
  alerts: AlertDispatch;
  counts: IncidentCounts;
  refusedCounter: Counter;
  /** maxDistinctValues is also the most users an alert names. */
  limits: Pick<EngineLimits, 'maxOpenIncidentsPerRule' | 'maxOverflowIncidentsPerRule' | 'maxDistinctValues'>;
  /** Whether anyone takes updates of open incidents (onUpdate, or a sink with `update`). */
  wantsUpdates: boolean;
  /** Shared mode's fallback engine only: see EXTEND_HELD_ELSEWHERE. */
  extendHeldElsewhere?: ExtendHeldElsewhere | undefined;
}

/**
 * The incidents of an in-memory engine, from opening to resolving: a rule holding for a group
 * opens an incident (one firing alert) or extends the group's open one; at
 * maxOpenIncidentsPerRule the newcomer opens in the overflow tier instead (none evicted);
 * incidents resolve once their quiet period has passed in event time.
 */
export class IncidentLifecycle {
  /** The earliest resolve time of any incident held (the engine checks it per event). */
  nextResolveAt = Number.POSITIVE_INFINITY;
  private readonly runtimes: readonly RuleRuntime[];
  private readonly alerts: AlertDispatch;
  private readonly counts: IncidentCounts;
  private readonly refusedCounter: Counter;
  private readonly maxOpenPerRule: number;
  private readonly maxOverflowPerRule: number;
  private readonly maxUsersPerAlert: number;
  private readonly wantsUpdates: boolean;
  private readonly extendHeldElsewhere: ExtendHeldElsewhere | undefined;
  private warnedRefused = false;

  constructor(options: IncidentLifecycleOptions) {
    this.runtimes = options.runtimes;
    this.alerts = options.alerts;
    this.counts = options.counts;
    this.refusedCounter = options.refusedCounter;
    this.maxOpenPerRule = options.limits.maxOpenIncidentsPerRule;
    this.maxOverflowPerRule = options.limits.maxOverflowIncidentsPerRule;
    this.maxUsersPerAlert = options.limits.maxDistinctValues;
    this.wantsUpdates = options.wantsUpdates;
    this.extendHeldElsewhere = options.extendHeldElsewhere;
  }

  /** The rule of `d` holds for group `key` (row g): `state` is its object state, undefined for a slab rule. */
  holds(d: Dispatch, g: number, key: string, state: unknown, event: SecurityEvent, t: number): void {
    const rt = d.rt;
    // An overflow incident of the group is extended like an open one (read only while the
    // overflow tier holds any: the hot path pays one size check).
    const overflowed = rt.overflow.size > 0 ? rt.overflow.get(key) : undefined;
    const existing = overflowed ?? rt.open.get(key);
    if (existing !== undefined) {
      // Extended, not re-announced; moved to the newest end so rt.open stays in lastTrueAt order.
      existing.lastTrueAt = t;
      existing.addEvidence(event.event_id, event.trace_id);
      // A user joining an open incident (the campaign's sixth account) reaches onUpdate and the
      // sinks that re-send firing alerts; no new firing line. The alert is built only when
      // someone takes it: it lists up to maxDistinctValues users, and a campaign adds them one
      // by one (without a taker, 170 bytes of garbage per event in bench/detect's mix).
      if (existing.addUser(event.user_id)) {
        existing.triggerTrace = event.trace_id;
        if (this.wantsUpdates) this.alerts.update(existing.toAlert('firing', event));
      }
      if (overflowed !== undefined) rt.overflow.extended(existing);
      else rt.open.extended(existing);
      return;
    }
    // Shared mode's fallback: the group's incident may be open in the shared engine's overflow
    // tier (opening, so rare: not per event).
    const elsewhere = this.extendHeldElsewhere;
    if (elsewhere !== undefined && elsewhere(rt.rule.id, key, event, t)) return;
    // At the cap no open incident is evicted: ids an attacker invents (each needs the rule to
    // fire) cannot push out what protects against them. The newcomer still alerts, from the
    // overflow tier (unless it is off: then only counted).
    const atCap = rt.open.size >= this.maxOpenPerRule;
    if (atCap && this.maxOverflowPerRule === 0) return this.refused(rt);
    // A slab rule's state as the object condition's, for its describe and evidence (only here: rare).
    const objectState = d.slab !== undefined ? d.slab.state(d.table.slab!, g, event) : state;
    const incident = openIncident(rt.rule, key, objectState, event, t, this.maxUsersPerAlert);
    if (atCap) {
      this.refused(rt);
      const early = rt.overflow.add(incident);
      if (early !== undefined) {
        // Resolved now, before its quiet period ended: it ends at this event's time.
        this.counts.overflowResolvedEarly++;
        this.counts.alertsResolved++;
        this.alerts.deliver(early.toAlert('resolved', event, t));
      }
    } else rt.open.add(incident);
    if (incident.resolveAt < this.nextResolveAt) this.nextResolveAt = incident.resolveAt;
    this.counts.alertsFired++;
    this.alerts.deliver(incident.toAlert('firing', event));
  }

  /**
   * Resolves every incident whose quiet period ended at or before `t`. Each rule's open map is
   * in lastTrueAt order and the quiet period is per rule, so the scan stops at the first
   * incident not yet due.
   */
  resolveDue(t: number, trigger: SecurityEvent | undefined): void {
    let next = Number.POSITIVE_INFINITY;
    for (const rt of this.runtimes) {
      // Each tier on its own (no array of the two per rule and call: this runs on every event
      // past a resolve time).
      if (rt.open.size > 0) next = this.resolveList(rt.open, t, trigger, next);
      if (rt.overflow.size > 0) next = this.resolveList(rt.overflow, t, trigger, next);
    }
    this.nextResolveAt = next;
  }

  /**
   * Resolves every incident held, both tiers, each with a resolved line ending at `endsAt` (or
   * its last event if later): for shared mode's in-memory engines when their process leaves the
   * fleet (nobody else holds their incidents; see SharedModeEngines.shutdown). Overflow members
   * count in overflowResolvedEarly, as when a full tier pushes one out. Those already due by
   * `endsAt` (the fleet's time may be ahead of this engine's) resolve first as due, ending at
   * their due time, not early.
   */
  resolveAll(endsAt: number): void {
    this.resolveDue(endsAt, undefined);
    for (const rt of this.runtimes) {
      for (const [list, early] of [
        [rt.open, false],
        [rt.overflow, true],
      ] as const) {
        for (let inc = list.first(); inc !== undefined; inc = list.first()) {
          list.remove(inc);
          if (early) this.counts.overflowResolvedEarly++;
          this.counts.alertsResolved++;
          this.alerts.deliver(inc.toAlert('resolved', undefined, Math.max(endsAt, inc.lastTrueAt)));
        }
      }
    }
    this.nextResolveAt = Number.POSITIVE_INFINITY;
  }

  /** The open incidents (not the overflow tier's), for shared mode's hand-back (state/hand-back.ts). */
  openIncidents(): Incident[] {
    const out: Incident[] = [];
    for (const rt of this.runtimes) for (const inc of rt.open.values()) out.push(inc);
    return out;
  }

  /**
   * An open incident now held by the shared state (handed back after a degraded episode): removed
   * without a line, since the fleet goes on with it under its alert id. nextResolveAt may stay
   * early: the next resolveDue finds nothing due and recomputes it.
   */
  handedOver(incident: Incident): void {
    for (const rt of this.runtimes) if (rt.open.get(incident.key) === incident) rt.open.remove(incident);
  }

  /** Open incidents of both tiers, as firing alerts. */
  active(): Alert[] {
    const out: Alert[] = [];
    for (const rt of this.runtimes) {
      for (const inc of rt.open.values()) out.push(inc.toAlert('firing', undefined));
      for (const inc of rt.overflow.values()) out.push(inc.toAlert('firing', undefined));
    }
    return out;
  }

  /** The rule held for a group, but the rule has maxOpenIncidentsPerRule open: counted (once per overflow incident). */
  private refused(rt: RuleRuntime): void {
    this.counts.incidentsRefused++;
    this.refusedCounter.add(1, { rule: rt.rule.id });
    if (this.warnedRefused) return;
    this.warnedRefused = true;
    diag.warn(
      `llmsec detect: rule ${rt.rule.id} has maxOpenIncidentsPerRule (${this.maxOpenPerRule}) incidents open: ` +
        (this.maxOverflowPerRule > 0
          ? `its new incidents open in the process-local overflow tier (at most ${this.maxOverflowPerRule}, ` +
            'the quiet-longest resolved early) until some resolve'
          : 'its new incidents are refused (not opened, no firing line) until some resolve') +
        ' (llmsec.detect.incidents.refused)',
    );
  }

  /** resolveDue for one tier of one rule: returns min(next, its first resolve time after t). */
  private resolveList(
    list: OpenIncidents | OverflowIncidents,
    t: number,
    trigger: SecurityEvent | undefined,
    next: number,
  ): number {
    for (let incident = list.first(); incident !== undefined; incident = list.first()) {
      const at = incident.resolveAt;
      if (at > t) return at < next ? at : next;
      list.remove(incident);
      this.counts.alertsResolved++;
      this.alerts.deliver(incident.toAlert('resolved', trigger));
    }
    return next;
  }
}

/**
 * Each engine's incident lifecycle, for shared mode's resolving of its in-memory engines'
 * incidents when the process leaves (a WeakMap, not a member: nothing public to add to
 * DetectionEngine, and it goes with the engine).
 */
const lifecycles = new WeakMap<object, IncidentLifecycle>();

export function registerLifecycle(engine: object, lifecycle: IncidentLifecycle): void {
  lifecycles.set(engine, lifecycle);
}

export function lifecycleOf(engine: object): IncidentLifecycle | undefined {
  return lifecycles.get(engine);
}
