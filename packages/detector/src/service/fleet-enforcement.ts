import { createHash, randomBytes } from 'node:crypto';
import { ANONYMOUS_USER, formatTimestamp, type Alert, type SecurityEvent } from '@llmsec/core';
import type { AlertSink } from '@llmsec/detect';
import { RateLimiter, RedisStore, VICTIM_RULES, type EnforcementOptions } from '@llmsec/ratelimit';
import { userSubject } from '@llmsec/ratelimit/http';
import type { Cluster, Redis } from 'ioredis';
import type { EnforcementActionName } from './config-schema.ts';
import type { Logger } from './log.ts';
import type { DetectorMetrics } from './metrics.ts';

/** One line of the severity/rule → action mapping. */
export interface EnforcementAction {
  severity?: 'warning' | 'alert' | 'critical';
  rule?: string;
  action: EnforcementActionName;
  /** throttle, block: ms (required); warn: ms (default 5 min); ban, none: none. */
  duration?: number;
}

/** The apps' limiter thresholds (the defaults of @llmsec/ratelimit when not given). */
export interface FleetThresholds {
  warningAt?: number;
  throttledAt?: number;
  blockedAt?: number;
  bannedAt?: number;
  halfLifeMs?: number;
}

export interface FleetEnforcementOptions {
  /** The rate limiter's Redis, owned by the caller. */
  client: Redis | Cluster;
  /** First match wins, rule matches before severity matches. */
  actions: EnforcementAction[];
  thresholds?: FleetThresholds;
  /** @default 100 */
  maxUsersPerAlert?: number;
  /**
   * Rules whose alerts act on nobody unless an action names the rule itself (a severity
   * match does not apply to them): their users are the victims, not the actors. An alert
   * marked `users_are_victims` (its rule reads only auth_failure events, built-in or custom) is
   * treated so whatever this list.
   * @default VICTIM_RULES of @llmsec/ratelimit (`indirect_prompt_injection`, `auth_failure_burst`, `credential_stuffing`)
   */
  exemptRules?: readonly string[];
  metrics?: DetectorMetrics;
  logger: Logger;
  /** Each action taken, as a security event (e.g. an OTLP log record back to the Collector). */
  onAction?: (event: SecurityEvent) => void;
  /** @default Date.now */
  now?: () => number;
  /** Store timeout per command. @default 2000 */
  commandTimeoutMs?: number;
  /** Actions in flight at most (an alert storm against a slow Redis); past it they are dropped and counted. @default 10000 */
  maxPending?: number;
  /**
   * A failed action (the limiter's Redis down or slow when the alert fired) is tried again,
   * after 1 s doubling to 30 s, until this long after the alert reached the sink, and once more
   * at shutdown; 0: tried once. Waiting actions count in `maxPending`. @default 300000 (5 min)
   */
  retryForMs?: number;
}

const DEFAULTS = { warningAt: 5, throttledAt: 10, blockedAt: 20, bannedAt: 50, halfLifeMs: 600_000 };
/** How long a warn lasts when the mapping gives no duration. */
const DEFAULT_WARN_MS = 300_000;
/** First wait before a failed action is tried again; doubled each time up to the max. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** One action on one user, as sent and retried. */
interface ActionTry {
  user: string;
  subject: string;
  action: EnforcementAction;
  alert: Alert;
  /** When the alert reached the sink (`now()`), and the attempts made. */
  firstAt: number;
  attempts: number;
  /** The incident's acted-on set and the user's key in it: given up, the key leaves it. */
  done: Set<string>;
  key: string;
}

/**
 * Fleet enforcement: an AlertSink that turns a firing alert into an enforcement action on
 * each implicated user, written into the rate limiter's shared Redis state with
 * @llmsec/ratelimit's own scripts, so every app replica's RateLimiter applies it at that
 * user's next request, and `llmsec limits lift USER` reverses it.
 *
 * The limiter's enforcement is a decaying violation score with thresholds; the actions set
 * that score to where the apps' thresholds give the wanted level (so an action repeated by a
 * second detector replica or a re-fired alert changes nothing):
 * - warn D (default 5 min): score raised to `warningAt × 2^(D / halfLife)`, which decays below
 *   `warningAt` after D (level warning: events only, no limit change).
 * - throttle D: score raised to `throttledAt × 2^(D / halfLife)`, which decays below
 *   `throttledAt` after D (limits scaled by the apps' throttle factor meanwhile). D is capped
 *   by the construction check so the score stays under `blockedAt`.
 * - block D: score raised to at least `blockedAt` with a block of D (refused until then).
 * - ban: banned until lifted.
 * Thresholds must match the apps' `enforcement` options (defaults: the library's).
 */
export class FleetEnforcement implements AlertSink {
  readonly name = 'enforcement';
  private readonly o: Required<
    Omit<
      FleetEnforcementOptions,
      'metrics' | 'onAction' | 'thresholds' | 'maxPending' | 'exemptRules' | 'retryForMs'
    >
  > &
    Pick<FleetEnforcementOptions, 'metrics' | 'onAction'>;
  private readonly t: Required<FleetThresholds>;
  private readonly scoreLimiter: RateLimiter;
  private readonly blockLimiters = new Map<number, RateLimiter>();
  private readonly pending = new Set<Promise<void>>();
  /** Failed actions waiting for their next attempt, by their timer. */
  private readonly waiting = new Map<ReturnType<typeof setTimeout>, ActionTry>();
  private readonly maxPending: number;
  private readonly retryForMs: number;
  private readonly exempt: ReadonlySet<string>;
  /**
   * Per open incident (alert id), the users already acted on (by userKey), so an update acts only
   * on those who joined since. At most MAX_TRACKED_INCIDENTS, oldest dropped first; a dropped
   * or unknown incident (fired by another replica) acts on every user an update names.
   */
  private readonly actedOn = new Map<string, Set<string>>();
  private droppedWarned = false;
  private closed = false;

  constructor(options: FleetEnforcementOptions) {
    this.t = { ...DEFAULTS, ...definedOnly(options.thresholds ?? {}) };
    this.o = {
      client: options.client,
      actions: options.actions,
      maxUsersPerAlert: options.maxUsersPerAlert ?? 100,
      logger: options.logger,
      now: options.now ?? Date.now,
      commandTimeoutMs: options.commandTimeoutMs ?? 2_000,
      metrics: options.metrics,
      onAction: options.onAction,
    };
    this.maxPending = options.maxPending ?? 10_000;
    this.retryForMs = options.retryForMs ?? 300_000;
    this.exempt = new Set(options.exemptRules ?? VICTIM_RULES);
    checkEnforcementActions(options.actions, this.t);
    this.scoreLimiter = this.limiter({ bannedAt: Infinity });
    for (const a of options.actions)
      if (a.action === 'block' && !this.blockLimiters.has(a.duration!))
        this.blockLimiters.set(a.duration!, this.limiter({ bannedAt: Infinity, blockMs: a.duration! }));
  }

  /**
   * The action for an alert: rule matches first, then severity (not for an exempt rule);
   * undefined when none applies or the match is `none`.
   */
  actionFor(alert: Pick<Alert, 'rule' | 'severity' | 'users_are_victims'>): EnforcementAction | undefined {
    const byRule = this.o.actions.find((a) => a.rule !== undefined && a.rule === alert.rule);
    if (byRule !== undefined) return byRule.action === 'none' ? undefined : byRule;
    // An exempt rule's users did not do what it reports (VICTIM_RULES), nor those of a rule
    // reading only victim-side categories (a custom auth_failure rule names the accounts tried):
    // only an action that names the rule, the operator's deliberate choice, acts on them.
    if (this.exempt.has(alert.rule) || alert.users_are_victims === true) return undefined;
    const bySeverity = this.o.actions.find((a) => a.rule === undefined && a.severity === alert.severity);
    return bySeverity?.action === 'none' ? undefined : bySeverity;
  }

  send(alert: Alert): void {
    if (this.closed || alert === undefined || alert === null) return;
    if (alert.status !== 'firing') {
      this.actedOn.delete(alert.alert_id);
      return;
    }
    this.act(alert, new Set());
  }

  /**
   * Users who joined an open incident (a campaign's later accounts) get its action too, once:
   * those this sink already acted on for the incident are skipped, so their block or throttle
   * is not started again. The engine calls this in the replica that saw the join, which may
   * not be the one that fired the incident. That replica knows no earlier users and acts on
   * every user named, which starts their action again from then.
   */
  update(alert: Alert): void {
    if (this.closed || alert?.status !== 'firing') return;
    this.act(alert, this.actedOn.get(alert.alert_id) ?? new Set());
  }

  /** Applies the alert's action to its users not in `done` (userKey of each), at most maxUsersPerAlert in all. */
  private act(alert: Alert, done: Set<string>): void {
    const action = this.actionFor(alert);
    if (action === undefined) return;
    this.actedOn.delete(alert.alert_id);
    this.actedOn.set(alert.alert_id, done);
    if (this.actedOn.size > MAX_TRACKED_INCIDENTS)
      this.actedOn.delete(this.actedOn.keys().next().value as string);
    for (const user of (alert.user_ids ?? []).slice(0, this.o.maxUsersPerAlert)) {
      if (typeof user !== 'string') continue;
      const key = userKey(user);
      if (done.has(key) || done.size >= this.o.maxUsersPerAlert) continue;
      // The user's rate-limit subject as the apps' middleware and SDK name it: the bare id, or
      // user:<id> for an id beginning with ip: or key:, so an alert cannot act on an address.
      // Checked after the mapping: 'anonymous ' is the anonymous subject too.
      const subject = userSubject(user);
      if (subject === undefined || subject === ANONYMOUS_USER) {
        done.add(key);
        continue;
      }
      // Dropped here, the user is not marked done: the incident's next update tries again
      // (nothing is kept for it, so a flood of names grows no memory).
      if (this.pending.size + this.waiting.size >= this.maxPending) {
        this.o.metrics?.enforcement(action.action, 'dropped');
        if (!this.droppedWarned) {
          this.droppedWarned = true;
          this.o.logger.warn(
            'enforcement actions dropped: too many in flight (is the rate limiter Redis slow?)',
            {
              max_pending: this.maxPending,
            },
          );
        }
        continue;
      }
      done.add(key);
      this.start({ user, subject, action, alert, firstAt: this.o.now(), attempts: 0, done, key });
    }
  }

  /** Waits for the attempts in flight (not for failed actions waiting to be tried again). */
  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /** Tries each waiting action once more (a last attempt, given up if it fails), then waits for all. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const [timer, t] of this.waiting) {
      clearTimeout(timer);
      this.waiting.delete(timer);
      this.start(t);
    }
    await this.forceFlush();
  }

  private start(t: ActionTry): void {
    const p = this.attempt(t).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /**
   * One attempt; on failure, another after a backoff while within `retryForMs` of the alert
   * and not shutting down, else the action is given up (logged as failed). Never rejects.
   */
  private async attempt(t: ActionTry): Promise<void> {
    t.attempts++;
    const err = await this.apply(t.user, t.subject, t.action, t.alert);
    if (err === undefined) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (t.attempts - 1));
    const fields = { action: t.action.action, rule: t.alert.rule, alert_id: t.alert.alert_id, error: err };
    if (this.closed || this.o.now() + delay - t.firstAt > this.retryForMs) {
      // Given up: the incident's next update (if it is still open) tries again.
      t.done.delete(t.key);
      this.o.metrics?.enforcement(t.action.action, 'failed');
      this.o.logger.error('enforcement action failed', { ...fields, attempts: t.attempts });
      return;
    }
    this.o.metrics?.enforcement(t.action.action, 'retried');
    // Said once per action: a long outage must not log a line per user per backoff step.
    if (t.attempts === 1) this.o.logger.warn('enforcement action failed; retrying', fields);
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      this.start(t);
    }, delay);
    timer.unref();
    this.waiting.set(timer, t);
  }

  /** Applies one action to one user (on its subject): undefined once applied, else the error. Never rejects. */
  private async apply(
    user: string,
    subject: string,
    action: EnforcementAction,
    alert: Alert,
  ): Promise<unknown> {
    try {
      let level: string;
      if (action.action === 'ban') {
        await this.scoreLimiter.ban(subject);
        level = 'banned';
      } else {
        const status = await this.scoreLimiter.status(subject);
        const target = this.targetScore(action);
        const weight = Math.max(target - status.violationScore, action.action === 'block' ? 1e-6 : 0);
        const limiter =
          action.action === 'block' ? this.blockLimiters.get(action.duration!)! : this.scoreLimiter;
        if (weight > 0) {
          const after = await limiter.recordViolation(subject, weight);
          if (after === undefined) throw new Error('rate limiter store did not answer');
          level = after;
        } else level = status.level;
      }
      this.o.metrics?.enforcement(action.action, 'applied');
      this.record(user, subject, action, alert, level);
      return undefined;
    } catch (err) {
      return err ?? new Error('enforcement action failed');
    }
  }

  private targetScore(action: EnforcementAction): number {
    const t = this.t;
    if (action.action === 'block') return t.blockedAt;
    // Decays to the level's threshold after `duration`; kept under the next one (checked at construction).
    const [at, next] = action.action === 'warn' ? [t.warningAt, t.throttledAt] : [t.throttledAt, t.blockedAt];
    return Math.min(at * Math.pow(2, (action.duration ?? DEFAULT_WARN_MS) / t.halfLifeMs), next * 0.999);
  }

  /** `subject` in the lift command: for a user id `ip:x` it is `user:ip:x` (`lift ip:x` lifts the address). */
  private record(
    user: string,
    subject: string,
    action: EnforcementAction,
    alert: Alert,
    level: string,
  ): void {
    const now = this.o.now();
    const event: SecurityEvent = {
      event_id: `EVT-enf-${alert.alert_id.slice(4)}-${idHash(user)}`,
      timestamp: formatTimestamp(now),
      category: 'anomalous_pattern',
      severity: action.action === 'ban' || action.action === 'block' ? 'alert' : 'warning',
      user_id: user,
      description: `enforcement: ${action.action}${action.duration !== undefined ? ` for ${action.duration}ms` : ''} after ${alert.rule} (${alert.alert_id}); reversible with \`llmsec limits lift ${subject}\``,
      metadata: {
        anomaly_type: 'enforcement_action',
        action: action.action,
        level,
        rule: alert.rule,
        alert_id: alert.alert_id,
        ...(action.duration !== undefined ? { duration_ms: action.duration } : {}),
      },
      correlated_events: alert.evidence.slice(0, 10),
    };
    this.o.logger.info('enforcement action', { event });
    try {
      this.o.onAction?.(event);
    } catch (err) {
      this.o.logger.warn('enforcement event not recorded', { error: err });
    }
  }

  private limiter(enforcement: EnforcementOptions): RateLimiter {
    return new RateLimiter({
      store: new RedisStore({ client: this.o.client }),
      tiers: { detector: {} },
      failurePolicy: 'closed',
      commandTimeoutMs: this.o.commandTimeoutMs,
      enforcement: {
        warningAt: this.t.warningAt,
        throttledAt: this.t.throttledAt,
        blockedAt: this.t.blockedAt,
        halfLifeMs: this.t.halfLifeMs,
        ...enforcement,
      },
    });
  }
}

/**
 * Throws a TypeError naming the action whose duration the apps' thresholds cannot express
 * (a warn or throttle that would decay past the next level's threshold).
 */
export function checkEnforcementActions(
  actions: readonly EnforcementAction[],
  thresholds: FleetThresholds = {},
): void {
  const t: Required<FleetThresholds> = { ...DEFAULTS, ...definedOnly(thresholds) };
  if (!(t.warningAt <= t.throttledAt && t.throttledAt <= t.blockedAt && t.blockedAt <= t.bannedAt))
    throw new TypeError(
      `enforcement: thresholds must not decrease (warning_at ${t.warningAt} <= throttled_at ${t.throttledAt} <= blocked_at ${t.blockedAt} <= banned_at ${t.bannedAt})`,
    );
  for (const a of actions) {
    if (a.action === 'throttle' || a.action === 'warn') {
      const max = maxDecayMs(t, a.action);
      const d = a.duration ?? DEFAULT_WARN_MS;
      if (!(d <= max))
        throw new TypeError(
          `enforcement: ${a.action} duration ${d}ms is longer than the apps' thresholds allow (${Math.floor(max)}ms = half_life × log2(${a.action === 'warn' ? 'throttled_at / warning_at' : 'blocked_at / throttled_at'})); use ${a.action === 'warn' ? 'throttle' : 'block'}, or raise half_life`,
        );
    }
  }
}

/** Longest warn / throttle the thresholds allow before the score would reach the next level. */
export function maxDecayMs(t: Required<FleetThresholds>, action: 'warn' | 'throttle'): number {
  return action === 'warn'
    ? t.halfLifeMs * Math.log2((t.throttledAt * 0.999) / t.warningAt)
    : t.halfLifeMs * Math.log2((t.blockedAt * 0.999) / t.throttledAt);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Open incidents whose acted-on users are remembered (for `update`): ~100 keys of 16 characters each. */
const MAX_TRACKED_INCIDENTS = 1_000;
const KEY = randomBytes(16);

/**
 * What the sink remembers of a user it acted on: 96 bits of SHA-256 under a key made at start,
 * so user ids chosen to collide (an attacker naming its accounts) cannot make one account pass
 * for another, and 16 characters whatever the id's length.
 */
function userKey(user: string): string {
  return createHash('sha256').update(KEY).update(user).digest('base64url').slice(0, 16);
}

/**
 * The user's part of the action event's id: 32 hex (128 bits) of SHA-256, so ids an attacker
 * picks cannot give two users' actions one event id (a collector or SIEM dropping the second as
 * a copy); 8 hex of FNV-1a collided in a second of counting names. Not keyed, unlike userKey:
 * every replica (and a restart) gives one action the same id, and the event names the user in
 * clear anyway (user_id).
 */
function idHash(user: string): string {
  return createHash('sha256').update(user).digest('hex').slice(0, 32);
}
