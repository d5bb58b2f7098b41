import { createHash, randomBytes } from 'node:crypto';
import { ANONYMOUS_USER, type Alert, type AlertSeverity } from '@llmsec/core';
import { ErrorFunnel } from '@llmsec/core/internal';
import { userSubject } from './http/subject.ts';
import type { RateLimiter } from './limiter.ts';

export interface AlertViolationOptions {
  /** Violation points per firing alert, by severity; 0 or absent ignores that severity. @default { critical: 5, alert: 2 } */
  weights?: Partial<Record<AlertSeverity, number>>;
  /** Users per alert that get points (a campaign alert may implicate many). @default 100 */
  maxUsersPerAlert?: number;
  /**
   * Rules whose alerts put no points on their users, whatever their severity. `[]` puts
   * points for every rule by id; an alert marked `users_are_victims` (its rule reads only
   * auth_failure events, built-in or custom) never gets points, whatever this list.
   * @default VICTIM_RULES (`indirect_prompt_injection`, `auth_failure_burst`, `credential_stuffing`)
   */
  exemptRules?: readonly string[];
}

/**
 * Built-in rules whose alerts name the users a thing happened to, not the users who did it:
 * `indirect_prompt_injection` lists the users whose requests carried a poisoned tool result
 * (a page, a document) that they did not write. Enforcement on them would punish the victims
 * of the injection, so the alert→ban bridge and the detector's fleet enforcement skip these
 * rules unless the operator maps one explicitly. (Its users can include a client that wrote
 * its own tool results; tool_injection_variety, not listed here, flags one that varies them.)
 * `auth_failure_burst` names the account whose logins failed: usually the one being guessed,
 * and anyone can make another account's logins fail, so points on it would let a stranger lock
 * its owner out. `credential_stuffing` names the many accounts one address failed to log into:
 * the ones tried with leaked or sprayed passwords, fifty and more at a time; points on them
 * would let anyone lock out any list of accounts by failing logins in their names (the
 * attacker is the address in its labels, which the limiter's address subject can answer).
 * The two auth rules are here for compatibility: any rule reading only auth_failure events is
 * exempt by what it reads (Alert.users_are_victims, core's VICTIM_CATEGORIES), whatever its id.
 */
export const VICTIM_RULES: readonly string[] = Object.freeze([
  'indirect_prompt_injection',
  'auth_failure_burst',
  'credential_stuffing',
]);

/**
 * The bridge from detection to enforcement: returns a function that, for each firing alert,
 * records a violation for every implicated user (on `userSubject(id)`: the bare id, or
 * `user:<id>` for an id in the `ip:`/`key:` namespaces; never `anonymous`), so detection can
 * tighten limits. It has the shape of an AlertSink's `send` (sync, never throws); wire it
 * where alerts are delivered, and to the engine's `onUpdate` too: an update of an open
 * incident (a campaign's later accounts) then puts points on the users who joined, and a
 * user already given points for that incident gets none again.
 */
// One failing store fails every violation of every alert: counted each time, logged once per
// episode (core's funnel), never once per user.
const errors = new ErrorFunnel(undefined, 'ratelimit.alert_hook', { meterName: '@llmsec/ratelimit' });

/** Open incidents whose users the hook remembers (at most `maxUsersPerAlert` subjects each). */
const MAX_TRACKED_INCIDENTS = 1_000;
const KEY = randomBytes(16);

export function alertViolationHook(
  limiter: RateLimiter,
  options: AlertViolationOptions = {},
): (alert: Alert) => void {
  const weights = options.weights ?? { critical: 5, alert: 2 };
  const maxUsers = options.maxUsersPerAlert ?? 100;
  const exempt = options.exemptRules ?? VICTIM_RULES;
  if (!Array.isArray(exempt) || exempt.some((r) => typeof r !== 'string'))
    throw new TypeError('alertViolationHook: exemptRules must be an array of rule ids');
  const exemptSet = new Set(exempt);
  // Per open incident (alert id), the subjects given points (subjectKey each, at most
  // maxUsers): the same alert again (an update naming users who joined since, or a repeated
  // delivery) adds points only for the others. At most MAX_TRACKED_INCIDENTS incidents, oldest
  // dropped first; a resolve forgets its incident.
  const given = new Map<string, Set<string>>();
  return function recordAlertViolation(alert: Alert): void {
    try {
      if (alert === undefined || alert === null) return;
      if (alert.status !== 'firing') {
        given.delete(alert.alert_id);
        return;
      }
      // The users of such an alert did not do what it reports (VICTIM_RULES), nor those of any
      // rule reading only victim-side categories: a custom auth_failure rule names the accounts
      // tried, and points on them would let a stranger lock them out by failing logins.
      if (exemptSet.has(alert.rule) || alert.users_are_victims === true) return;
      const weight = weights[alert.severity] ?? 0;
      if (!(weight > 0)) return;
      const users: readonly unknown[] = Array.isArray(alert.user_ids) ? alert.user_ids : [];
      const n = Math.min(users.length, maxUsers);
      const done = given.get(alert.alert_id) ?? new Set<string>();
      given.delete(alert.alert_id);
      given.set(alert.alert_id, done);
      if (given.size > MAX_TRACKED_INCIDENTS) given.delete(given.keys().next().value as string);
      for (let i = 0; i < n; i++) {
        const user = users[i];
        // The user's subject as the middleware and the SDK name it; an alert naming `ip:x` (a
        // user whose id says so) cannot put points on the address x. Never the anonymous
        // subject, which every caller without a user id shares (as the detector's fleet
        // enforcement): one anonymous abuser's alert would refuse them all.
        const subject = typeof user === 'string' ? userSubject(user) : undefined;
        if (subject === undefined || subject === ANONYMOUS_USER) continue;
        const key = subjectKey(subject);
        if (done.has(key) || done.size >= maxUsers) continue;
        done.add(key);
        limiter
          .recordViolation(subject, weight)
          .catch((err: unknown) => errors.report('record_violation', err));
      }
    } catch (err) {
      // A malformed alert or a limiter that throws synchronously: counted, never raised into the sink.
      errors.report('alert', err);
    }
  };
}

/**
 * What the hook remembers of a subject it gave points to: 96 bits of SHA-256 under a key made
 * at start, so user ids chosen to collide (an attacker naming its accounts) cannot make one
 * account pass for another, and 16 characters whatever the id's length.
 */
function subjectKey(subject: string): string {
  return createHash('sha256').update(KEY).update(subject).digest('base64url').slice(0, 16);
}
