/**
 * The bans and blocks this limiter's store refused with, kept in process so that failing open
 * does not admit them. A ban set by another process (the CLI, the detector's fleet
 * enforcement, another replica's refusals driving a score) reaches this replica only as the
 * store's refusal; the fallback store never heard of it, and a banned client was admitted for
 * as long as Redis was away (an outage it may have provoked itself). Best effort and bounded:
 * only what this process was refused with, until the end the store gave, forgotten once the
 * store admits the subject again (lifted elsewhere).
 */
import { LEVEL_BANNED, LEVEL_BLOCKED } from './enforcement.ts';
import {
  CODE_BANNED,
  CODE_BLOCKED,
  type AcquireOp,
  type AcquireOutcome,
  type SubjectOutcome,
  type SyncLimiterStore,
} from './store.ts';

/**
 * Subjects kept at most. Past it a block goes before a ban, the one noted longest ago first
 * (Map insertion order), and a block is not kept in place of a ban: refusals alone block a
 * subject, so an attacker with many addresses or accounts can have thousands blocked and
 * refused, while a ban takes detection evidence or an operator. With one queue for both, 10,000
 * throwaway blocks pushed a ban noted earlier out, and the banned client was admitted once Redis
 * went away.
 */
export const MAX_SEEN_ENFORCED = 10_000;

export interface SeenEnforcementEntry {
  level: typeof LEVEL_BANNED | typeof LEVEL_BLOCKED;
  untilMs: number;
}

export class SeenEnforcement {
  private readonly bans = new Map<string, SeenEnforcementEntry>();
  private readonly blocks = new Map<string, SeenEnforcementEntry>();
  private readonly cap: number;

  constructor(cap = MAX_SEEN_ENFORCED) {
    this.cap = cap;
  }

  get size(): number {
    return this.bans.size + this.blocks.size;
  }

  /** The store refused `subject` as banned or blocked until `untilMs` (local clock). */
  note(subject: string, level: SeenEnforcementEntry['level'], untilMs: number): void {
    // Deleted first so that a noted-again subject moves to the young end, at its new level.
    this.forget(subject);
    const into = level === LEVEL_BANNED ? this.bans : this.blocks;
    if (this.size >= this.cap) {
      if (this.blocks.size !== 0) this.blocks.delete(this.blocks.keys().next().value!);
      else if (into === this.bans) this.bans.delete(this.bans.keys().next().value!);
      else return; // full of bans: a block does not displace one
    }
    into.set(subject, { level, untilMs });
  }

  /** The store found the subject neither banned nor blocked (or an operator lifted it here). */
  forget(subject: string): void {
    if (!this.bans.delete(subject)) this.blocks.delete(subject);
  }

  /** The enforcement in force for `subject` at `nowMs`, if this process was refused with one. */
  at(subject: string, nowMs: number): SeenEnforcementEntry | undefined {
    const e = this.bans.get(subject) ?? this.blocks.get(subject);
    if (e === undefined) return undefined;
    if (e.untilMs > nowMs) return e;
    this.forget(subject);
    return undefined;
  }
}

/**
 * The refusal for a subject of `op` this process was refused with as banned or blocked, while
 * the store is failing; undefined when none is. The refusing subject's buckets and leases are
 * the fallback store's (what a degraded decision reports); the other subject is not reached.
 */
export function seenRefusal(
  seen: SeenEnforcement,
  op: AcquireOp,
  nowMs: number,
  fallback: SyncLimiterStore,
): AcquireOutcome | undefined {
  const n = op.subjects.length;
  for (let s = 0; s < n; s++) {
    const e = seen.at(op.subjects[s]!.subject, nowMs);
    if (e === undefined) continue;
    const local = fallback.snapshot(op.subjects[s]!.subject, op.enforcement);
    const subjects: SubjectOutcome[] = op.subjects.map((_, i) =>
      i === s
        ? { prevLevel: e.level, level: e.level, factor: 1, leases: local.leases, busyMs: local.busyMs }
        : { prevLevel: -1, level: -1, factor: 1, leases: 0, busyMs: [] },
    );
    return {
      code: e.level === LEVEL_BANNED ? CODE_BANNED : CODE_BLOCKED,
      refusedSubject: s,
      refusedDim: -1,
      retryAfterMs: Math.ceil(e.untilMs - nowMs),
      nowMs,
      leaseExpiresAtMs: 0,
      subjects,
    };
  }
  return undefined;
}
