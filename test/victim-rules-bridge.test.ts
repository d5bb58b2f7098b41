/**
 * The alert→violation bridge (alertViolationHook) on a real redis-server, fed by a detection
 * engine running custom rules: a rule reading only auth_failure names the accounts an attacker
 * typed (count or distinct grouped by source_ip name every account tried, a per-account count
 * names the account), so its alerts put no points on them, whatever the rule's id and whatever
 * exemptRules says; the attacker's own user, named by a rule on its guardrail blocks, is banned.
 */
import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { DetectionEngine, parseRules } from '../packages/detect/src/index.ts';
import { alertViolationHook, RateLimiter, RedisStore } from '../packages/ratelimit/src/index.ts';
import { useRedis } from './support/redis-per-file.ts';

const db = useRedis();
const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const TRIED = ['alice', 'bob', 'carol', 'dave', 'erin'];
const AUTH_RULES = ['stuffing_by_address', 'accounts_by_address', 'login_failures_per_account'];

const RULES = parseRules(
  `rules:
  - id: stuffing_by_address
    title: Failed logins from one address
    severity: critical
    match: { categories: [auth_failure] }
    group_by: source_ip
    window: 5m
    condition: { kind: count, min: 5 }
  - id: accounts_by_address
    title: Many accounts tried from one address
    severity: critical
    match: { categories: [auth_failure] }
    group_by: source_ip
    window: 5m
    condition: { kind: cross_group, across: user_id, min: 4 }
  - id: login_failures_per_account
    title: Failed logins for one account
    severity: critical
    match: { categories: [auth_failure] }
    group_by: user_id
    window: 5m
    condition: { kind: count, min: 3 }
  - id: blocks_per_user
    title: Guardrail blocks by one user
    severity: critical
    match: { categories: [guardrail_block] }
    group_by: user_id
    window: 5m
    condition: { kind: count, min: 3 }
`,
  'victims.yaml',
);

/** mallory, from one address, fails logins as five accounts (alice twice more), then is blocked three times as herself. */
function attack(engine: DetectionEngine): void {
  let i = 0;
  const emit = (category: string, user: string): void => {
    const t = T0 + i * 1000;
    const event: SecurityEvent = {
      event_id: `EVT-${i++}`,
      timestamp: new Date(t).toISOString(),
      category,
      severity: 'warning',
      user_id: user,
      source_ip: '203.0.113.66',
    };
    engine.ingest(event, t);
  };
  for (const user of [...TRIED, 'alice', 'alice']) emit('auth_failure', user);
  for (let k = 0; k < 3; k++) emit('guardrail_block', 'mallory');
  engine.flush();
}

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('alertViolationHook on custom auth_failure rules (engine → bridge → real redis-server)', () => {
  for (const exemptRules of [undefined, []] as const) {
    it(`puts no points on the accounts tried, bans the attacker by its own blocks (exemptRules ${JSON.stringify(exemptRules)})`, async () => {
      await db.redis.flushdb(); // each case on an empty limiter state
      const limiter = new RateLimiter({
        store: new RedisStore({ client: db.redis }),
        tiers: { t: {} },
        enforcement: { warningAt: 1, throttledAt: 2, blockedAt: 3, bannedAt: 5 }, // one critical alert (5 points) bans
      });
      const hook = alertViolationHook(limiter, exemptRules === undefined ? {} : { exemptRules });
      const alerts: Alert[] = [];
      const engine = new DetectionEngine({
        rules: RULES,
        allowedLatenessMs: 0,
        onAlert: (a) => {
          alerts.push(a);
          hook(a);
        },
      });
      attack(engine);

      // Every rule fired, the auth rules naming the accounts tried (else this proves nothing),
      // and only they are marked as naming victims.
      const firing = alerts.filter((a) => a.status === 'firing');
      const named = (rule: string) => firing.filter((a) => a.rule === rule).flatMap((a) => a.user_ids);
      expect(named('stuffing_by_address').sort()).toEqual([...TRIED].sort());
      expect(named('accounts_by_address').sort()).toEqual(['alice', 'bob', 'carol', 'dave']);
      expect(named('login_failures_per_account')).toEqual(['alice']);
      expect(named('blocks_per_user')).toEqual(['mallory']);
      for (const a of firing)
        expect(a.users_are_victims, a.rule).toBe(AUTH_RULES.includes(a.rule) || undefined);

      await until('mallory banned', async () => (await limiter.status('mallory')).level === 'banned');
      // The victims' alerts came first; give any violation they started time to land.
      await new Promise((r) => setTimeout(r, 300));
      for (const user of TRIED) expect((await limiter.status(user)).violationScore, user).toBe(0);
    });
  }
});
