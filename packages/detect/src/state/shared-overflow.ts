import type { Alert, SecurityEvent } from '@llmsec/core';
import type { CompiledRule } from '../compile.ts';
import type { Incident } from '../incident.ts';
import { PlacedOverflowIncidents, type OverflowIncidents } from '../overflow-incidents.ts';

/**
 * Events of one group on which a rule held while the fleet's resolve index for it was full
 * (or while this process holds an overflow incident of the group): the incident the first of
 * them opens (as openIncident at that event, its firing line built then, so the alert is the
 * one the memory engine sends) and the events after it, which extend it. Built by the group
 * step, applied to the process-local overflow tier only once the group write has landed.
 */
export interface OverflowRun {
  rule: CompiledRule;
  incident: Incident;
  /** The firing line of `incident`, as opened. */
  firing: Alert;
  events: { t: number; event: SecurityEvent }[];
}

/** Where the shared engine sends what the overflow tier decides. */
export interface OverflowOutputs {
  deliver: (alert: Alert) => void;
  update: (alert: Alert) => void;
  counts: { alertsFired: number; alertsResolved: number; overflowResolvedEarly: number };
  /** One incident refused a slot by the fleet's cap (llmsec.detect.incidents.refused, stats). */
  refused: (ruleId: string) => void;
}

/**
 * The overflow tier of shared mode: per rule, this process's overflow incidents (see
 * OverflowIncidents). The fleet's cap stays exact in the Redis index; this tier is not
 * shared, so several processes may each open an overflow incident for one group. Their
 * firing lines carry the same labels (rule, severity, group), which is what Alertmanager
 * identifies an alert by, so they are one alert there; fleet enforcement actions are
 * idempotent.
 */
export class SharedOverflow {
  private readonly byRule = new Map<string, OverflowIncidents>();
  private readonly max: number;
  private readonly out: OverflowOutputs;

  constructor(max: number, out: OverflowOutputs) {
    this.max = max;
    this.out = out;
  }

  /** Whether this process holds an overflow incident of (rule, group) still open at `t`. */
  live(ruleId: string, key: string, t: number): boolean {
    const inc = this.byRule.get(ruleId)?.get(key);
    return inc !== undefined && inc.resolveAt > t;
  }

  /** A group step's runs, once its write landed: extends, opens (fires), resolves early. */
  apply(key: string, runs: readonly OverflowRun[]): void {
    for (const run of runs) {
      const tier = this.tier(run.rule.id);
      const first = run.events[0]!;
      const existing = tier.get(key);
      if (existing !== undefined && existing.resolveAt > first.t) {
        this.extend(tier, existing, run.events);
        continue;
      }
      // Due before this run's first event: resolved first, as the memory engine would.
      if (existing !== undefined) this.resolveNow(tier, existing, first.event);
      this.out.refused(run.rule.id);
      const early = tier.add(run.incident);
      if (early !== undefined) {
        this.out.counts.overflowResolvedEarly++;
        this.out.counts.alertsResolved++;
        this.out.deliver(early.toAlert('resolved', first.event, Math.max(first.t, early.lastTrueAt)));
      }
      this.out.counts.alertsFired++;
      this.out.deliver(run.firing);
    }
  }

  /**
   * The degraded-mode fallback engine's rule holds for a group it has no incident of (see
   * EXTEND_HELD_ELSEWHERE): if this tier holds one still open at `t`, the event extends it and
   * this returns true (the fallback opens none); one due by `t` is resolved first (its resolved
   * line, as before an event in memory) and the fallback opens the group's next incident.
   */
  extendHeld(ruleId: string, key: string, event: SecurityEvent, t: number): boolean {
    const tier = this.byRule.get(ruleId);
    const existing = tier?.get(key);
    if (tier === undefined || existing === undefined) return false;
    if (existing.resolveAt > t) {
      this.extend(tier, existing, [{ t, event }]);
      return true;
    }
    this.resolveNow(tier, existing, event);
    return false;
  }

  /** Resolves every overflow incident due by `watermark` (each with its resolved line). */
  resolveDue(watermark: number): void {
    for (const tier of this.byRule.values()) {
      for (let inc = tier.first(); inc !== undefined && inc.resolveAt <= watermark; inc = tier.first()) {
        tier.remove(inc);
        this.out.counts.alertsResolved++;
        this.out.deliver(inc.toAlert('resolved', undefined));
      }
    }
  }

  /**
   * This process is leaving the fleet (shutdown() without an end of input): resolves every
   * overflow incident it still holds, ending at `endsAt` (the newest event time it knows), or at
   * the incident's last event if later. Nobody else holds them (the tier is per process), so
   * left firing they would never get their resolved line; counted as resolved early, since
   * their quiet period has not ended.
   */
  resolveAll(endsAt: number): void {
    for (const tier of this.byRule.values()) {
      for (let inc = tier.first(); inc !== undefined; inc = tier.first()) {
        tier.remove(inc);
        this.out.counts.overflowResolvedEarly++;
        this.out.counts.alertsResolved++;
        this.out.deliver(inc.toAlert('resolved', undefined, Math.max(endsAt, inc.lastTrueAt)));
      }
    }
  }

  /** This process's overflow incidents, as firing alerts. */
  alerts(): Alert[] {
    const out: Alert[] = [];
    for (const tier of this.byRule.values())
      for (const inc of tier.values()) out.push(inc.toAlert('firing', undefined));
    return out;
  }

  /** Events of the group extend its open overflow incident (an update when a user joins). */
  private extend(
    tier: OverflowIncidents,
    existing: Incident,
    events: readonly { t: number; event: SecurityEvent }[],
  ): void {
    let grew: SecurityEvent | undefined;
    for (const { t, event } of events) {
      if (t > existing.lastTrueAt) existing.lastTrueAt = t;
      existing.addEvidence(event.event_id, event.trace_id);
      if (existing.addUser(event.user_id)) grew = event;
    }
    tier.extended(existing);
    if (grew !== undefined) this.out.update(existing.toAlert('firing', grew));
  }

  /** Resolved at its due time, before `trigger` (an event past it). */
  private resolveNow(tier: OverflowIncidents, existing: Incident, trigger: SecurityEvent): void {
    tier.remove(existing);
    this.out.counts.alertsResolved++;
    this.out.deliver(existing.toAlert('resolved', trigger));
  }

  private tier(ruleId: string): OverflowIncidents {
    let tier = this.byRule.get(ruleId);
    if (tier === undefined) {
      tier = new PlacedOverflowIncidents(this.max);
      this.byRule.set(ruleId, tier);
    }
    return tier;
  }
}
