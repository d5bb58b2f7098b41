/**
 * Operator operations on one subject (status, reset, lift, ban) and the detection hook
 * (recordViolation). They go to the store with the operator timeout (ten times the request
 * path's) and reject when the store fails, except recordViolation, which detection calls
 * fire-and-forget: it resolves undefined instead, and while failing open the fallback store
 * records the violation. Every change is mirrored into the fallback store, so a ban also
 * holds while the limiter runs on it; a lift or reset also drops what the limiter remembers of
 * the store's refusals (seen-enforcement.ts). On a RedisStore a ban (or a violation that bans)
 * is also written to the fleet's ban index, and a lift or reset takes the subject out of it
 * first (fleet-bans.ts).
 */
import { dimensionAt, WINDOW_DIMS } from './dimensions.ts';
import { LEVEL_BANNED, LEVEL_NORMAL, levelName } from './enforcement.ts';
import type { StoreFailurePolicy } from './failure-policy.ts';
import type { FleetBans } from './fleet-bans.ts';
import type { ResolvedOptions } from './options.ts';
import { appendDimensionStates } from './result.ts';
import type { SeenEnforcement } from './seen-enforcement.ts';
import type { LimiterTelemetry } from './telemetry.ts';
import type { Dimension, DimensionState, EnforcementLevel, SubjectStatus } from './types.ts';

export class SubjectOperations {
  private readonly o: ResolvedOptions;
  private readonly telemetry: LimiterTelemetry;
  private readonly policy: StoreFailurePolicy;
  private readonly seen: SeenEnforcement;
  private readonly fleet: FleetBans | undefined;

  constructor(
    o: ResolvedOptions,
    telemetry: LimiterTelemetry,
    policy: StoreFailurePolicy,
    seen: SeenEnforcement,
    fleet: FleetBans | undefined,
  ) {
    this.o = o;
    this.telemetry = telemetry;
    this.policy = policy;
    this.seen = seen;
    this.fleet = fleet;
  }

  async recordViolation(subject: string, weight: number): Promise<EnforcementLevel | undefined> {
    if (typeof subject !== 'string' || subject === '' || !(weight > 0) || !Number.isFinite(weight))
      return undefined;
    try {
      const v = await this.policy.call((s) => s.violation(subject, weight, this.o.enforcement));
      if (v.level !== v.prevLevel) this.telemetry.transition(subject, v.prevLevel, v.level, 'violation');
      // Banned now (or still, its end moved by this violation): into the fleet's index.
      if (v.level === LEVEL_BANNED && this.fleet !== undefined) await this.fleet.added(subject);
      return levelName(v.level);
    } catch (err) {
      this.policy.failed(err);
      if (this.o.failurePolicy === 'open') {
        const v = this.o.fallbackStore.violation(subject, weight, this.o.enforcement);
        if (v.level !== v.prevLevel) this.telemetry.transition(subject, v.prevLevel, v.level, 'violation');
      }
      return undefined;
    }
  }

  async status(subject: string, tier?: string): Promise<SubjectStatus> {
    const snap = await this.policy.call((s) => s.snapshot(subject, this.o.enforcement), true);
    const tierName = tier !== undefined && this.o.tiers.has(tier) ? tier : this.o.defaultTier;
    const dimensions: DimensionState[] = [];
    const factor = snap.level === 2 ? this.o.enforcement.throttleFactor : 1;
    appendDimensionStates(dimensions, subject, this.o.tiers.get(tierName)!, factor, snap.busyMs, snap.leases);
    const busyMs: Partial<Record<Dimension, number>> = {};
    for (let i = 0; i < WINDOW_DIMS; i++)
      if (snap.busyMs[i]! > 0) busyMs[dimensionAt(i)] = Math.ceil(snap.busyMs[i]!);
    return {
      subject,
      nowMs: snap.nowMs,
      level: levelName(snap.level),
      violationScore: Math.round(snap.score * 1000) / 1000,
      ...(snap.blockedUntilMs > 0 ? { blockedUntilMs: snap.blockedUntilMs } : {}),
      banned: snap.banned,
      activeLeases: snap.leases,
      busyMs,
      dimensions,
      tier: tierName,
    };
  }

  async reset(subject: string): Promise<void> {
    // Out of the fleet's index first: a failure then leaves the ban out of it, never a reset subject in.
    await this.policy.call(async (s) => {
      await this.fleet?.removed(subject);
      return s.reset(subject);
    }, true);
    this.o.fallbackStore.reset(subject);
    this.seen.lifted(subject);
  }

  async lift(subject: string): Promise<EnforcementLevel> {
    const before = await this.policy.call(async (s) => {
      await this.fleet?.removed(subject); // first, as in reset
      return s.lift(subject, this.o.enforcement);
    }, true);
    this.o.fallbackStore.lift(subject, this.o.enforcement);
    this.seen.lifted(subject);
    if (before !== LEVEL_NORMAL) this.telemetry.transition(subject, before, LEVEL_NORMAL, 'lift');
    return levelName(before);
  }

  async ban(subject: string): Promise<EnforcementLevel> {
    const before = await this.policy.call((s) => s.ban(subject, this.o.enforcement), true);
    this.o.fallbackStore.ban(subject, this.o.enforcement);
    // After the ban: a failure (counted) leaves it out of the index, held only where it is met.
    await this.fleet?.added(subject);
    if (before !== LEVEL_BANNED) this.telemetry.transition(subject, before, LEVEL_BANNED, 'ban');
    return levelName(before);
  }
}
