import { ENFORCEMENT_LEVELS, type EnforcementLevel } from './types.ts';

/**
 * Graduated enforcement: a violation score that decays exponentially (half-life) maps to a
 * level. Thresholds are crossed with `>=`, so a jump of several points never skips a level.
 * `blocked` is a timed state entered when the score crosses `blockedAt` (it lasts `blockMs`);
 * `banned` is entered when the score crosses `bannedAt` (or by an operator) and lasts until
 * lifted. When a block expires the subject returns to the level its decayed score implies,
 * capped at `throttled`: only a new violation while the score is still high blocks it again.
 * Refusals while blocked or banned add no points, so rate-limit refusals alone escalate at
 * most to `blocked`; a ban takes detection evidence (recordViolation) or an operator, unless
 * `bannedAt` is set close to `blockedAt`.
 *
 * The same rules run in Lua (redis-lua.ts) and in MemoryStore; both call into these numbers.
 */
export interface EnforcementOptions {
  /** Score at which the level becomes `warning` (no limit change, events only). @default 5 */
  warningAt?: number;
  /** Score at which limits are scaled by `throttleFactor`. @default 10 */
  throttledAt?: number;
  /** Score at which the subject is refused for `blockMs`. @default 20 */
  blockedAt?: number;
  /** Score at which the subject is banned until lifted; `Infinity` never bans automatically. @default 50 */
  bannedAt?: number;
  /** Half-life of the violation score. @default 600_000 (10 min) */
  halfLifeMs?: number;
  /** How long a block lasts. @default 300_000 (5 min) */
  blockMs?: number;
  /** Multiplier applied to every limit while throttled (0 < f < 1). @default 0.5 */
  throttleFactor?: number;
  /** Violation points a refusal by a limit adds; 0 disables. @default 1 */
  refusalWeight?: number;
  /** TTL of a ban record (every key has a TTL); a ban lasts until lifted or this long. @default 365 days */
  banTtlMs?: number;
}

/** Resolved enforcement parameters (numbers only; Infinity encoded as a huge number for Lua). */
export interface EnforcementParams {
  warningAt: number;
  throttledAt: number;
  blockedAt: number;
  bannedAt: number;
  halfLifeMs: number;
  blockMs: number;
  throttleFactor: number;
  refusalWeight: number;
  banTtlMs: number;
}

/** Stands in for Infinity where the value travels to Lua as a string. */
export const NEVER = 1e300;

export const LEVEL_NORMAL = 0;
export const LEVEL_WARNING = 1;
export const LEVEL_THROTTLED = 2;
export const LEVEL_BLOCKED = 3;
export const LEVEL_BANNED = 4;

export function levelName(level: number): EnforcementLevel {
  return ENFORCEMENT_LEVELS[level] ?? 'normal';
}

export function resolveEnforcement(options: EnforcementOptions | false | undefined): EnforcementParams {
  if (options === false) {
    return {
      warningAt: NEVER,
      throttledAt: NEVER,
      blockedAt: NEVER,
      bannedAt: NEVER,
      halfLifeMs: 600_000,
      blockMs: 300_000,
      throttleFactor: 1,
      refusalWeight: 0,
      banTtlMs: 365 * 86_400_000,
    };
  }
  const o = options ?? {};
  const p: EnforcementParams = {
    warningAt: o.warningAt ?? 5,
    throttledAt: o.throttledAt ?? 10,
    blockedAt: o.blockedAt ?? 20,
    bannedAt: o.bannedAt ?? 50,
    halfLifeMs: o.halfLifeMs ?? 600_000,
    blockMs: o.blockMs ?? 300_000,
    throttleFactor: o.throttleFactor ?? 0.5,
    refusalWeight: o.refusalWeight ?? 1,
    banTtlMs: o.banTtlMs ?? 365 * 86_400_000,
  };
  const order: (keyof EnforcementParams)[] = ['warningAt', 'throttledAt', 'blockedAt', 'bannedAt'];
  for (const k of order) {
    const v = p[k];
    if (!(v > 0) || Number.isNaN(v)) throw new TypeError(`enforcement.${k} must be > 0 (got ${String(v)})`);
  }
  for (let i = 1; i < order.length; i++) {
    const a = order[i - 1] as keyof EnforcementParams;
    const b = order[i] as keyof EnforcementParams;
    if (p[b] < p[a]) throw new TypeError(`enforcement.${b} (${p[b]}) must be >= enforcement.${a} (${p[a]})`);
  }
  for (const k of ['halfLifeMs', 'blockMs', 'banTtlMs'] as const) {
    if (!Number.isSafeInteger(p[k]) || p[k] <= 0)
      throw new TypeError(`enforcement.${k} must be a positive integer of ms`);
  }
  if (!(p.throttleFactor > 0 && p.throttleFactor <= 1)) {
    throw new TypeError(`enforcement.throttleFactor must be in (0, 1] (got ${p.throttleFactor})`);
  }
  if (!(p.refusalWeight >= 0) || !Number.isFinite(p.refusalWeight)) {
    throw new TypeError('enforcement.refusalWeight must be a finite number >= 0');
  }
  for (const k of order) if (p[k] === Infinity) p[k] = NEVER;
  return p;
}

/** Mutable enforcement state of one subject (MemoryStore's copy of the Redis hash fields). */
export interface EnforcementState {
  score: number;
  scoreAtMs: number;
  blockedUntilMs: number;
  banned: boolean;
  /** Last level reported, so each transition is reported once. */
  lastLevel: number;
}

export function decayedScore(s: EnforcementState, now: number, p: EnforcementParams): number {
  if (s.score === 0) return 0;
  const dt = now - s.scoreAtMs;
  return dt <= 0 ? s.score : s.score * Math.pow(2, -dt / p.halfLifeMs);
}

export function levelOf(s: EnforcementState, now: number, p: EnforcementParams): number {
  if (s.banned) return LEVEL_BANNED;
  if (now < s.blockedUntilMs) return LEVEL_BLOCKED;
  const score = decayedScore(s, now, p);
  if (score >= p.throttledAt) return LEVEL_THROTTLED;
  if (score >= p.warningAt) return LEVEL_WARNING;
  return LEVEL_NORMAL;
}

/** Adds a violation; may start a block or a ban. */
export function addViolation(s: EnforcementState, now: number, weight: number, p: EnforcementParams): void {
  const score = decayedScore(s, now, p) + weight;
  s.score = score;
  s.scoreAtMs = now;
  if (score >= p.bannedAt) s.banned = true;
  else if (score >= p.blockedAt && now >= s.blockedUntilMs) s.blockedUntilMs = now + p.blockMs;
}

/** How long enforcement state must be kept: a ban for banTtlMs, else the block plus ten half-lives. */
export function enforcementTtlMs(s: EnforcementState, now: number, p: EnforcementParams): number {
  if (s.banned) return p.banTtlMs;
  if (s.score === 0 && s.blockedUntilMs <= now && s.lastLevel === LEVEL_NORMAL) return 0;
  return Math.max(0, s.blockedUntilMs - now) + 10 * p.halfLifeMs;
}
