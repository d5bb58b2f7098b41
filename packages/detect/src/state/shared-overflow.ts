import type { Alert, SecurityEvent } from '@llmsec/core';
import type { CompiledRule } from '../compile.ts';
import type { Incident } from '../incident.ts';
import { OverflowIncidents } from '../overflow-incidents.ts';

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
        let grew: SecurityEvent | undefined;
        for (const { t, event } of run.events) {
          if (t > existing.lastTrueAt) existing.lastTrueAt = t;
          existing.addEvidence(event.event_id, event.trace_id);
          if (existing.addUser(event.user_id)) grew = event;
        }
        tier.extended(existing);
        if (grew !== undefined) this.out.update(existing.toAlert('firing', grew));
        continue;
      }
      if (existing !== undefined) {
        // Due before this run's first event: resolved first, as the memory engine would.
        tier.remove(existing);
        this.out.counts.alertsResolved++;
        this.out.deliver(existing.toAlert('resolved', first.event));
      }
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

  /** This process's overflow incidents, as firing alerts. */
  alerts(): Alert[] {
    const out: Alert[] = [];
    for (const tier of this.byRule.values()) for (const inc of tier.values()) out.push(inc.toAlert('firing', undefined));
    return out;
  }

  private tier(ruleId: string): OverflowIncidents {
    let tier = this.byRule.get(ruleId);
    if (tier === undefined) {
      tier = new OverflowIncidents(this.max);
      this.byRule.set(ruleId, tier);
    }
    return tier;
  }
}
