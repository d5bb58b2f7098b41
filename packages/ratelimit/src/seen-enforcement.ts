/**
 * The bans and blocks this limiter's store refused with, and the fleet's bans read from Redis,
 * kept in process so that failing open does not admit them. A ban set by another process (the
 * CLI, the detector's fleet enforcement, another replica's refusals driving a score) reached
 * this replica only as the store's refusal; the fallback store never heard of it, and a banned
 * client was admitted for as long as Redis was away (an outage it may have provoked itself).
 * Now the limiter also reads the fleet's ban index every few seconds (fleet-bans.ts,
 * redis-ban-index.ts) into a set of its own here. Best effort and bounded: what this process
 * was refused with, until the end the store gave, and the fleet's bans ending last as last
 * read; a subject noted here is forgotten once the store admits it again (lifted elsewhere),
 * the fleet's copy at the next read.
 */
import { LEVEL_BANNED, LEVEL_BLOCKED } from './enforcement.ts';
import { subjectTag } from './keys.ts';
import {
  CODE_BANNED,
  CODE_BLOCKED,
  type AcquireOp,
  type AcquireOutcome,
  type SubjectOutcome,
  type SyncLimiterStore,
} from './store.ts';

/**
 * Subjects noted at most (the fleet's bans are held apart). Past it a block goes before a ban,
 * the one noted longest ago first (Map insertion order), and a block is not kept in place of a ban: refusals alone block a
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
  /**
   * The fleet's bans as last read (ban end by subject key tag, local clock), replaced whole at
   * each read: bounded by the reader (MAX_FLEET_BANS, the bans ending last) and apart from the
   * two maps above, so no block or ban noted here can push one out, nor one of these a ban
   * noted here.
   */
  private fleet = new Map<string, number>();
  private readonly cap: number;

  constructor(cap = MAX_SEEN_ENFORCED) {
    this.cap = cap;
  }

  get size(): number {
    return this.bans.size + this.blocks.size + this.fleet.size;
  }

  /** Subjects noted from this process's refusals (the fleet's copy apart). */
  get noted(): number {
    return this.bans.size + this.blocks.size;
  }

  /** The fleet's bans, read from Redis: end (local clock) by subject tag (keys.ts). */
  holdFleet(ends: Map<string, number>): void {
    this.fleet = ends;
  }

  /** The store refused `subject` as banned or blocked until `untilMs` (local clock). */
  note(subject: string, level: SeenEnforcementEntry['level'], untilMs: number): void {
    // Deleted first so that a noted-again subject moves to the young end, at its new level.
    this.forget(subject);
    const into = level === LEVEL_BANNED ? this.bans : this.blocks;
    if (this.bans.size + this.blocks.size >= this.cap) {
      if (this.blocks.size !== 0) this.blocks.delete(this.blocks.keys().next().value!);
      else if (into === this.bans) this.bans.delete(this.bans.keys().next().value!);
      else return; // full of bans: a block does not displace one
    }
    into.set(subject, { level, untilMs });
  }

  /**
   * The store found the subject neither banned nor blocked. The fleet's copy is left to the
   * next read (a lift takes the member out of the index): dropping it here cost a key-tag
   * computation and a lookup on every admitted request (189 against 72 ns per call with 1,000
   * fleet bans, a micro-benchmark at load 18), for a copy replaced every few seconds anyway.
   */
  forget(subject: string): void {
    if (!this.bans.delete(subject)) this.blocks.delete(subject);
  }

  /** An operator lifted or reset the subject through this limiter: dropped from both. */
  lifted(subject: string): void {
    this.forget(subject);
    if (this.fleet.size !== 0) this.fleet.delete(subjectTag(subject));
  }

  /** The enforcement in force for `subject` at `nowMs`, if this process was refused with one or the fleet banned it. */
  at(subject: string, nowMs: number): SeenEnforcementEntry | undefined {
    const e = this.bans.get(subject) ?? this.blocks.get(subject);
    if (e !== undefined && e.untilMs > nowMs) return e;
    if (e !== undefined && !this.bans.delete(subject)) this.blocks.delete(subject); // ended
    if (this.fleet.size === 0) return undefined;
    const tag = subjectTag(subject);
    const end = this.fleet.get(tag);
    if (end === undefined) return undefined;
    if (end > nowMs) return { level: LEVEL_BANNED, untilMs: end };
    this.fleet.delete(tag);
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
