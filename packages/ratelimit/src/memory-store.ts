import { systemClock, type Clock } from '@llmsec/core';
import { amountFor, CONCURRENT_INDEX, deltaFor, scaledLimit, WINDOW_DIMS, WINDOW_MS } from './dimensions.ts';
import {
  addViolation,
  enforcementTtlMs,
  LEVEL_BANNED,
  LEVEL_BLOCKED,
  LEVEL_NORMAL,
  LEVEL_THROTTLED,
  levelOf,
  decayedScore,
  type EnforcementParams,
  type EnforcementState,
} from './enforcement.ts';
import { EPSILON_MS } from './gcra.ts';
import {
  CODE_BANNED,
  CODE_BLOCKED,
  CODE_DIMENSION,
  CODE_ESTIMATE,
  CODE_OK,
  type AcquireOp,
  type AcquireOutcome,
  type SyncLimiterStore,
  type SettleOp,
  type SubjectOutcome,
  type SubjectSnapshot,
  type ViolationOutcome,
} from './store.ts';

export interface MemoryStoreOptions {
  /** Subjects kept at most; past it the least recently used are evicted. @default 100_000 */
  maxSubjects?: number;
  /**
   * Blocked or banned subjects kept aside when the LRU would evict them, so that inventing
   * ids cannot evict one's own ban. Past it the oldest is dropped (blocked ones before
   * banned ones) and counted in `enforcedDropped`. @default ceil(maxSubjects / 10)
   */
  maxEnforcedSubjects?: number;
  /** Time source (epoch ms). @default systemClock */
  clock?: Clock;
}

class SubjectRecord {
  readonly tat = new Float64Array(WINDOW_DIMS);
  readonly enf: EnforcementState = { score: 0, scoreAtMs: 0, blockedUntilMs: 0, banned: false, lastLevel: 0 };
  leases: Map<string, number> | null = null;
  /**
   * Like the Redis state key's TTL: past it the buckets and the enforcement (a ban included)
   * are gone, while leases live on, as RedisStore keeps them in a key of their own.
   */
  stateExpiresAtMs = 0;
  /** Past it (the state's expiry and every lease's) the record is equivalent to a fresh one. */
  expiresAtMs = 0;
  /** Insertion sequence, for the approximate LRU. */
  seq = 0;

  clear(): void {
    this.clearState();
    this.leases = null;
  }

  /** What the Redis state key held: buckets and enforcement (not the leases). */
  clearState(): void {
    this.tat.fill(0);
    this.enf.score = 0;
    this.enf.scoreAtMs = 0;
    this.enf.blockedUntilMs = 0;
    this.enf.banned = false;
    this.enf.lastLevel = 0;
    this.stateExpiresAtMs = 0;
  }

  /**
   * Forgets what expired by `now`: everything, or the state while leases are still open. The
   * record never expires before its state (touchTtl), so a live state costs one comparison.
   */
  expire(now: number): void {
    if (this.stateExpiresAtMs > now) return;
    if (this.expiresAtMs <= now) this.clear();
    else this.clearState();
  }
}

/**
 * The embedded store: the same semantics as RedisStore (GCRA buckets, leases, graduated
 * enforcement, TTLs) for one process, synchronous, bounded by `maxSubjects`.
 *
 * Eviction is approximately LRU: a record is moved to the young end of the map when it is
 * touched while in the older half, so hot subjects survive a flood of invented ids, at the
 * price of one Map delete+set per maxSubjects/2 insertions per subject. An evicted subject
 * starts again from empty: size `maxSubjects` for your population, or use RedisStore where
 * state must survive.
 *
 * Enforcement survives eviction: a blocked or banned subject that reaches the old end is moved
 * to a separate set bounded by `maxEnforcedSubjects` instead of being dropped, and comes back
 * with its whole record when it is next seen. An attacker flooding the store with invented
 * ids therefore cycles only unenforced records; to lose a ban, the set itself must overflow,
 * which takes that many other subjects blocked or banned at once (counted in `enforcedDropped`).
 */
export class MemoryStore implements SyncLimiterStore {
  readonly name = 'memory';
  readonly synchronous = true as const;
  private readonly records = new Map<string, SubjectRecord>();
  /**
   * Banned, and blocked, records moved out of the LRU (insertion order = age). Two sets under
   * one cap (keepEnforced), so that an overflow drops a block before any ban however old.
   */
  private readonly enforcedBans = new Map<string, SubjectRecord>();
  private readonly enforcedBlocks = new Map<string, SubjectRecord>();
  private readonly maxSubjects: number;
  private readonly maxEnforced: number;
  private dropped = 0;
  private readonly clock: Clock;
  private seq = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxSubjects = options.maxSubjects ?? 100_000;
    this.clock = options.clock ?? systemClock;
    if (!Number.isSafeInteger(this.maxSubjects) || this.maxSubjects < 1) {
      throw new TypeError(
        `MemoryStore: maxSubjects must be a positive integer (got ${String(options.maxSubjects)})`,
      );
    }
    this.maxEnforced = options.maxEnforcedSubjects ?? Math.ceil(this.maxSubjects / 10);
    if (!Number.isSafeInteger(this.maxEnforced) || this.maxEnforced < 1) {
      throw new TypeError(
        `MemoryStore: maxEnforcedSubjects must be a positive integer (got ${String(options.maxEnforcedSubjects)})`,
      );
    }
  }

  /**
   * Subjects currently held (expired ones included until touched or evicted), at most
   * maxSubjects + maxEnforcedSubjects.
   */
  get size(): number {
    return this.records.size + this.enforcedBans.size + this.enforcedBlocks.size;
  }

  /** Blocked or banned subjects lost because the enforced set overflowed. */
  get enforcedDropped(): number {
    return this.dropped;
  }

  acquire(op: AcquireOp): AcquireOutcome {
    const now = this.clock.now();
    const p = op.enforcement;
    const n = op.subjects.length;
    const recs: SubjectRecord[] = new Array<SubjectRecord>(n);
    const prevLevels: number[] = new Array<number>(n);
    const factors: number[] = new Array<number>(n);
    let code = CODE_OK;
    let refusedSubject = -1;
    let refusedDim = -1;
    let retryAfterMs = 0;

    for (let s = 0; s < n; s++) {
      const sub = op.subjects[s]!;
      const rec = this.record(sub.subject, now);
      recs[s] = rec;
      prevLevels[s] = rec.enf.lastLevel;
      const level = levelOf(rec.enf, now, p);
      const factor = level === LEVEL_THROTTLED ? p.throttleFactor : 1;
      factors[s] = factor;
      const climit = sub.limits[CONCURRENT_INDEX]!;
      const leases = climit !== 0 ? purgeLeases(rec, now) : null;
      if (code !== CODE_OK) continue;
      if (level === LEVEL_BANNED) {
        // A ban ends when its state expires (banTtlMs after the ban, or later while a bucket
        // drains), as the Redis state key holding it does: RedisStore answers the key's PTTL.
        // Not when the record does: open leases keep that, and Redis keeps them elsewhere.
        code = CODE_BANNED;
        refusedSubject = s;
        retryAfterMs = Math.max(0, Math.ceil(rec.stateExpiresAtMs - now));
        continue;
      }
      if (level === LEVEL_BLOCKED) {
        code = CODE_BLOCKED;
        refusedSubject = s;
        retryAfterMs = Math.ceil(rec.enf.blockedUntilMs - now);
        continue;
      }
      const limits = sub.limits;
      for (let i = 0; i < WINDOW_DIMS; i++) {
        const limit = limits[i]!;
        if (limit === 0) continue;
        const amount = amountFor(i, op.tokens, op.costMicroUsd);
        if (amount === 0) continue;
        const eff = scaledLimit(limit, factor);
        if (amount > eff) {
          code = CODE_ESTIMATE;
          refusedSubject = s;
          refusedDim = i;
          // Over the throttled limit only (the limiter refuses an estimate above the full
          // limit before the store): it fits once the score decays below throttledAt
          // (throttleRetry in redis-lua.ts, the same expression).
          // At least 1 ms: the throttle is in force now, and 0 would read as "no wait cures
          // it" (retryCannotHelp) at its last millisecond (throttle-end-retry.test.ts).
          if (factor !== 1) {
            const e = rec.enf;
            retryAfterMs = Math.max(
              1,
              Math.ceil(e.scoreAtMs + (p.halfLifeMs * Math.log(e.score / p.throttledAt)) / Math.log(2) - now),
            );
          }
          break;
        }
        const w = WINDOW_MS[i]!;
        const stored = rec.tat[i]!;
        const over = (stored > now ? stored : now) + (amount * w) / eff - now - w;
        if (over > EPSILON_MS) {
          code = CODE_DIMENSION;
          refusedSubject = s;
          refusedDim = i;
          retryAfterMs = Math.ceil(over);
          break;
        }
      }
      if (code !== CODE_OK) continue;
      if (leases !== null) {
        if (leases.size + 1 > scaledLimit(climit, factor)) {
          code = CODE_DIMENSION;
          refusedSubject = s;
          refusedDim = CONCURRENT_INDEX;
          let earliest = Infinity;
          for (const exp of leases.values()) if (exp < earliest) earliest = exp;
          retryAfterMs = Math.max(0, Math.ceil(earliest - now));
        }
      }
    }

    const leaseExpiresAtMs = now + op.leaseTtlMs;
    if (code === CODE_OK) {
      for (let s = 0; s < n; s++) {
        const sub = op.subjects[s]!;
        const rec = recs[s]!;
        const factor = factors[s]!;
        for (let i = 0; i < WINDOW_DIMS; i++) {
          const limit = sub.limits[i]!;
          if (limit === 0) continue;
          const amount = amountFor(i, op.tokens, op.costMicroUsd);
          if (amount === 0) continue;
          const stored = rec.tat[i]!;
          rec.tat[i] = (stored > now ? stored : now) + (amount * WINDOW_MS[i]!) / scaledLimit(limit, factor);
        }
        if (sub.limits[CONCURRENT_INDEX]! !== 0) purgeLeases(rec, now).set(op.leaseId, leaseExpiresAtMs);
      }
    } else if (code === CODE_DIMENSION && p.refusalWeight > 0) {
      addViolation(recs[refusedSubject]!.enf, now, p.refusalWeight, p);
    }

    const subjects: SubjectOutcome[] = new Array<SubjectOutcome>(n);
    for (let s = 0; s < n; s++) {
      const rec = recs[s]!;
      const level = levelOf(rec.enf, now, p);
      // The TTL is recomputed only where the Redis script writes the state: the subject was
      // charged, earned a violation, or changed level. A refusal that changes nothing keeps
      // it, so a banned client's refused retries do not push its ban's end further away.
      const wrote =
        code === CODE_OK ||
        (code === CODE_DIMENSION && p.refusalWeight > 0 && s === refusedSubject) ||
        level !== rec.enf.lastLevel;
      rec.enf.lastLevel = level;
      if (wrote) this.touchTtl(rec, now, p);
      subjects[s] = {
        prevLevel: prevLevels[s]!,
        level,
        factor: factors[s]!,
        leases: rec.leases ? rec.leases.size : 0,
        busyMs: busy(rec, now),
      };
    }
    return { code, refusedSubject, refusedDim, retryAfterMs, nowMs: now, leaseExpiresAtMs, subjects };
  }

  settle(op: SettleOp): void {
    const now = this.clock.now();
    const charges = op.requests > 0 || op.tokens > 0 || op.costMicroUsd > 0;
    for (const sub of op.subjects) {
      let rec = this.find(sub.subject, now);
      if (!rec || rec.expiresAtMs <= now) {
        // Like the Redis script: refunds never create state, charges do.
        if (!charges) continue;
        rec = this.record(sub.subject, now);
      }
      for (let i = 0; i < WINDOW_DIMS; i++) {
        const limit = sub.limits[i]!;
        if (limit === 0) continue;
        const delta = deltaFor(i, op.requests, op.tokens, op.costMicroUsd);
        if (delta === 0) continue;
        const step = (delta * WINDOW_MS[i]!) / scaledLimit(limit, sub.factor);
        const stored = rec.tat[i]!;
        let next = delta > 0 ? (stored > now ? stored : now) + step : stored + step;
        if (next <= now) next = 0;
        rec.tat[i] = next;
      }
      rec.leases?.delete(op.leaseId);
      // No enforcement parameters: the expiry only grows to what the buckets need, so a
      // settle (usage, not a violation) never moves a ban's end; RedisStore's settle keeps a
      // banned key's TTL the same way (settleBanKeep in redis-lua.ts).
      this.touchTtl(rec, now, undefined);
    }
  }

  violation(subject: string, weight: number, p: EnforcementParams): ViolationOutcome {
    const now = this.clock.now();
    const rec = this.record(subject, now);
    const prevLevel = rec.enf.lastLevel;
    addViolation(rec.enf, now, weight, p);
    const level = levelOf(rec.enf, now, p);
    rec.enf.lastLevel = level;
    this.touchTtl(rec, now, p);
    return { prevLevel, level, score: rec.enf.score };
  }

  snapshot(subject: string, p: EnforcementParams): SubjectSnapshot {
    const now = this.clock.now();
    const rec = this.find(subject, now);
    if (!rec || rec.expiresAtMs <= now) {
      return {
        nowMs: now,
        busyMs: new Array<number>(WINDOW_DIMS).fill(0),
        leases: 0,
        score: 0,
        blockedUntilMs: 0,
        banned: false,
        level: LEVEL_NORMAL,
      };
    }
    let leases = 0;
    if (rec.leases) for (const exp of rec.leases.values()) if (exp > now) leases++;
    return {
      nowMs: now,
      busyMs: busy(rec, now),
      leases,
      score: decayedScore(rec.enf, now, p),
      blockedUntilMs: rec.enf.blockedUntilMs > now ? rec.enf.blockedUntilMs : 0,
      banned: rec.enf.banned,
      level: levelOf(rec.enf, now, p),
    };
  }

  reset(subject: string): void {
    this.records.delete(subject);
    this.enforcedBans.delete(subject);
    this.enforcedBlocks.delete(subject);
  }

  lift(subject: string, p: EnforcementParams): number {
    const now = this.clock.now();
    const rec = this.find(subject, now);
    if (!rec || rec.expiresAtMs <= now) return LEVEL_NORMAL;
    const before = levelOf(rec.enf, now, p);
    rec.enf.score = 0;
    rec.enf.scoreAtMs = 0;
    rec.enf.blockedUntilMs = 0;
    rec.enf.banned = false;
    rec.enf.lastLevel = LEVEL_NORMAL;
    this.touchTtl(rec, now, p);
    return before;
  }

  ban(subject: string, p: EnforcementParams): number {
    const now = this.clock.now();
    const rec = this.record(subject, now);
    const before = levelOf(rec.enf, now, p);
    rec.enf.banned = true;
    rec.enf.lastLevel = LEVEL_BANNED;
    this.touchTtl(rec, now, p);
    return before;
  }

  /** A subject's record wherever it is, without moving it, its expired part forgotten. */
  private find(subject: string, now: number): SubjectRecord | undefined {
    const rec = this.records.get(subject) ?? this.keptAside(subject);
    rec?.expire(now);
    return rec;
  }

  /** The live record of a subject, created (or recycled when expired) as needed. */
  private record(subject: string, now: number): SubjectRecord {
    let rec = this.records.get(subject);
    if (rec === undefined) {
      // Only a subject missing from the LRU pays for the second lookup.
      rec = this.keptAside(subject);
      if (rec !== undefined) {
        this.enforcedBans.delete(subject);
        this.enforcedBlocks.delete(subject);
        rec.expire(now);
      } else {
        rec = new SubjectRecord();
      }
      if (this.records.size >= this.maxSubjects) this.evict(now);
      rec.seq = ++this.seq;
      this.records.set(subject, rec);
      return rec;
    }
    rec.expire(now);
    if (this.seq - rec.seq > this.maxSubjects >> 1) {
      this.records.delete(subject);
      rec.seq = ++this.seq;
      this.records.set(subject, rec);
    }
    return rec;
  }

  /**
   * Drops expired records among the oldest few, else the oldest one; a blocked or banned
   * oldest one is moved to the enforced set instead of being dropped.
   */
  private evict(now: number): void {
    let scanned = 0;
    let freed = false;
    for (const [key, rec] of this.records) {
      if (rec.expiresAtMs <= now) {
        this.records.delete(key);
        freed = true;
      }
      if (++scanned >= 32) break;
    }
    if (freed) return;
    const oldest = this.records.entries().next();
    if (oldest.done) return;
    const [key, rec] = oldest.value;
    this.records.delete(key);
    if (isEnforced(rec, now)) this.keepEnforced(key, rec, now);
  }

  /** A record moved out of the LRU as banned or blocked, without moving it back. */
  private keptAside(subject: string): SubjectRecord | undefined {
    return this.enforcedBans.get(subject) ?? this.enforcedBlocks.get(subject);
  }

  /**
   * Adds a record to the enforced sets, making room if they are full: records among the oldest
   * few of each that are expired or no longer enforced (lifted, block over) go first, then the
   * oldest block, then, for a ban, the oldest ban; a block does not take a ban's place (it is
   * dropped instead). Refusals alone block a subject, so an attacker with many addresses or
   * accounts can fill the sets with blocks; a ban takes detection evidence or an operator. With
   * one set, where only the oldest 32 were searched for a block, 32 bans kept aside longer (users
   * banned and gone quiet) made the overflow drop the oldest ban for those blocks.
   */
  private keepEnforced(key: string, rec: SubjectRecord, now: number): void {
    const into = rec.enf.banned ? this.enforcedBans : this.enforcedBlocks;
    if (this.enforcedBans.size + this.enforcedBlocks.size >= this.maxEnforced) {
      const freed = dropLapsed(this.enforcedBlocks, now) + dropLapsed(this.enforcedBans, now);
      if (freed === 0) {
        this.dropped++;
        if (this.enforcedBlocks.size !== 0)
          this.enforcedBlocks.delete(this.enforcedBlocks.keys().next().value!);
        else if (into === this.enforcedBans) this.enforcedBans.delete(this.enforcedBans.keys().next().value!);
        else return; // full of bans: the block is the one dropped
      }
    }
    into.set(key, rec);
  }

  /** Recomputes the TTLs: the state's, until its buckets drain and its enforcement lapses; the record's, that or its leases' end. */
  private touchTtl(rec: SubjectRecord, now: number, p: EnforcementParams | undefined): void {
    let state = now;
    for (let i = 0; i < WINDOW_DIMS; i++) if (rec.tat[i]! > state) state = rec.tat[i]!;
    if (p) {
      const enf = enforcementTtlMs(rec.enf, now, p);
      if (now + enf > state) state = now + enf;
    } else if (rec.stateExpiresAtMs > state) {
      state = rec.stateExpiresAtMs;
    }
    rec.stateExpiresAtMs = state;
    let until = state;
    if (rec.leases) for (const exp of rec.leases.values()) if (exp > until) until = exp;
    rec.expiresAtMs = until;
  }
}

/** Drops the records among the oldest few of `set` that are expired or no longer enforced; how many. */
function dropLapsed(set: Map<string, SubjectRecord>, now: number): number {
  let scanned = 0;
  let freed = 0;
  for (const [k, r] of set) {
    if (r.expiresAtMs <= now || !isEnforced(r, now)) {
      set.delete(k);
      freed++;
    }
    if (++scanned >= 32) break;
  }
  return freed;
}

/** Banned, or blocked right now: the state an attacker would like to evict. */
function isEnforced(rec: SubjectRecord, now: number): boolean {
  return rec.stateExpiresAtMs > now && (rec.enf.banned || rec.enf.blockedUntilMs > now);
}

function purgeLeases(rec: SubjectRecord, now: number): Map<string, number> {
  let leases = rec.leases;
  if (leases === null) {
    leases = new Map();
    rec.leases = leases;
    return leases;
  }
  for (const [id, exp] of leases) if (exp <= now) leases.delete(id);
  return leases;
}

function busy(rec: SubjectRecord, now: number): number[] {
  const out = new Array<number>(WINDOW_DIMS);
  for (let i = 0; i < WINDOW_DIMS; i++) {
    const t = rec.tat[i]!;
    out[i] = t > now ? t - now : 0;
  }
  return out;
}
