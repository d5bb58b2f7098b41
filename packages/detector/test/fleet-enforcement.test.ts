import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { RateLimiter, RedisStore } from '@llmsec/ratelimit';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { until } from '../../../test/support/until.ts';
import type { AlertSink } from '@llmsec/detect';
import {
  FleetEnforcement,
  type EnforcementAction,
  type FleetEnforcementOptions,
} from '../src/service/fleet-enforcement.ts';
import { silentLogger } from '../src/service/log.ts';
import { command as limitsCommand } from '../../cli/src/commands/limits.ts';
import { PassThrough } from 'node:stream';

const run = promisify(execFile);
const APP = fileURLToPath(new URL('./fixtures/app-limiter.ts', import.meta.url));

/**
 * What an app replica in another process decides for each user right now. The timeout bounds a
 * hang only: the fixture starts from the TypeScript sources, and at load ~25 on 2 cores a start
 * took more than the 20 s this was (the first case failed, 'Command failed: ... app-limiter.ts').
 */
async function appDecisions(
  url: string,
  users: string[],
): Promise<Record<string, { allowed: boolean; reason: string | null; level: string }>> {
  const { stdout } = await run(process.execPath, [APP, url, ...users], {
    env: process.env,
    timeout: 120_000,
  });
  const out: Record<string, { allowed: boolean; reason: string | null; level: string }> = {};
  for (const line of stdout.trim().split('\n')) {
    const r = JSON.parse(line) as { user: string; allowed: boolean; reason: string | null; level: string };
    out[r.user] = r;
  }
  return out;
}

function alert(over: Partial<Alert>): Alert {
  return {
    alert_id: 'ALR-0123456789abcdef',
    rule: 'rapid_guardrail_blocks',
    severity: 'alert',
    status: 'firing',
    labels: { user_id: 'u' },
    user_ids: ['u'],
    starts_at: '2026-12-04T10:00:00.000Z',
    description: 'x',
    evidence: ['EVT-1'],
    ...over,
  };
}

const db = useRedis();

/** A client of a port nothing listens on: every command fails at once, nothing retried. */
function deadRedis(): Redis {
  const dead = new Redis('redis://127.0.0.1:1', {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  dead.on('error', () => undefined);
  return dead;
}

/**
 * A limiter reading the levels back as an app would. Not the default 100 ms command timeout: a
 * read past it on a loaded host fails open, and a ban or score is not seen.
 */
function readBack(): RateLimiter {
  return new RateLimiter({
    store: new RedisStore({ client: db.redis }),
    tiers: { t: {} },
    commandTimeoutMs: 5_000,
  });
}

describe('FleetEnforcement (real redis-server, app limiter in another process)', () => {
  const actions: EnforcementAction[] = [
    { rule: 'system_prompt_leakage', action: 'ban' },
    { severity: 'critical', action: 'block', duration: 60_000 },
    { severity: 'alert', action: 'throttle', duration: 300_000 },
    { severity: 'warning', action: 'warn' },
  ];

  /** Enforcement on the test's Redis with these actions, recording each action's user and event id, in order. */
  function acting(extra: Partial<FleetEnforcementOptions> = {}) {
    const acted: string[] = [];
    const ids: string[] = [];
    const enf = new FleetEnforcement({
      client: db.redis,
      actions,
      logger: silentLogger,
      ...extra,
      onAction: (e) => (acted.push(e.user_id), ids.push(e.event_id)),
    });
    return { enf, acted, ids };
  }

  it('writes block / ban / throttle / warn into the limiter state; another process refuses at once; lift reverses', async () => {
    const events: SecurityEvent[] = [];
    const enf = new FleetEnforcement({
      client: db.redis,
      actions,
      logger: silentLogger,
      onAction: (e) => events.push(e),
    });
    enf.send(
      alert({
        alert_id: 'ALR-1000000000000001',
        severity: 'critical',
        rule: 'output_filter_bypass',
        user_ids: ['blocked-user'],
      }),
    );
    enf.send(
      alert({
        alert_id: 'ALR-1000000000000002',
        severity: 'critical',
        rule: 'system_prompt_leakage',
        user_ids: ['banned-user'],
      }),
    );
    enf.send(
      alert({
        alert_id: 'ALR-1000000000000003',
        severity: 'alert',
        user_ids: ['throttled-user', 'anonymous'],
      }),
    );
    enf.send(alert({ alert_id: 'ALR-1000000000000004', severity: 'warning', user_ids: ['warned-user'] }));
    enf.send(
      alert({
        alert_id: 'ALR-1000000000000005',
        severity: 'critical',
        status: 'resolved',
        user_ids: ['resolved-user'],
      }),
    );
    await enf.forceFlush();

    const d = await appDecisions(db.server.url, [
      'blocked-user',
      'banned-user',
      'throttled-user',
      'warned-user',
      'resolved-user',
      'anonymous',
    ]);
    expect(d['blocked-user']).toEqual({
      user: 'blocked-user',
      allowed: false,
      reason: 'blocked',
      level: 'blocked',
    });
    expect(d['banned-user']).toMatchObject({ allowed: false, reason: 'banned', level: 'banned' });
    expect(d['throttled-user']).toMatchObject({ allowed: true, level: 'throttled' });
    expect(d['warned-user']).toMatchObject({ allowed: true, level: 'warning' });
    expect(d['resolved-user']).toMatchObject({ allowed: true, level: 'normal' });
    expect(d.anonymous).toMatchObject({ allowed: true, level: 'normal' }); // never enforced on

    // Every action is recorded as an event naming the alert and how to reverse it.
    expect(events.map((e) => [e.user_id, e.metadata!.action]).sort()).toEqual([
      ['banned-user', 'ban'],
      ['blocked-user', 'block'],
      ['throttled-user', 'throttle'],
      ['warned-user', 'warn'],
    ]);
    const blockEvent = events.find((e) => e.user_id === 'blocked-user')!;
    expect(blockEvent).toMatchObject({
      category: 'anomalous_pattern',
      metadata: {
        anomaly_type: 'enforcement_action',
        rule: 'output_filter_bypass',
        alert_id: 'ALR-1000000000000001',
        duration_ms: 60_000,
      },
    });
    expect(blockEvent.description).toContain('llmsec limits lift blocked-user');

    // `llmsec limits lift` reverses it for every replica.
    for (const user of ['blocked-user', 'banned-user']) {
      const stdout = new PassThrough();
      const code = await limitsCommand.run(['lift', user, '--redis', db.server.url], {
        stdin: new PassThrough(),
        stdout,
        stderr: new PassThrough(),
      });
      expect(code).toBe(0);
    }
    const after = await appDecisions(db.server.url, ['blocked-user', 'banned-user']);
    expect(after['blocked-user']).toMatchObject({ allowed: true, level: 'normal' });
    expect(after['banned-user']).toMatchObject({ allowed: true, level: 'normal' });
    await enf.shutdown();
  });

  it('is idempotent: the same alert from two replicas (or re-fired) leaves the same state', async () => {
    const enf = new FleetEnforcement({ client: db.redis, actions, logger: silentLogger });
    const a = alert({ severity: 'alert', user_ids: ['twice'] });
    enf.send(a);
    await enf.forceFlush();
    const reader = readBack();
    const first = await reader.status('twice');
    enf.send(a);
    await enf.forceFlush();
    const second = await reader.status('twice');
    expect(first.level).toBe('throttled');
    expect(second.level).toBe('throttled');
    expect(second.violationScore).toBeCloseTo(first.violationScore, 0);
    await enf.shutdown();
  });

  it("acts on users who join an open incident (a campaign's later accounts), once each; the earlier users' action is not taken again", async () => {
    const { enf, acted } = acting();
    const first = ['camp-1', 'camp-2', 'camp-3', 'camp-4', 'camp-5'];
    const campaign = alert({
      alert_id: 'ALR-00000000000c0a11',
      rule: 'coordinated_campaign',
      labels: { fingerprint: 'c0ffee00c0ffee00' },
      user_ids: first,
    });
    // Through the AlertSink interface, as the engine calls it when a user joins.
    const sink: AlertSink = enf;
    enf.send(campaign);
    await enf.forceFlush();
    sink.update?.({ ...campaign, user_ids: [...first, 'camp-6'] });
    sink.update?.({ ...campaign, user_ids: [...first, 'camp-6', 'camp-7'] });
    // An action whose store call timed out on a loaded host is retried a second later: wait
    // for all seven (a bound on a hang), then check that none came twice.
    await until(() => acted.length >= 7, 120_000);
    await enf.forceFlush();
    const reader = readBack();
    for (const user of [...first, 'camp-6', 'camp-7'])
      expect((await reader.status(user)).level, user).toBe('throttled');
    expect(acted.sort()).toEqual([...first, 'camp-6', 'camp-7'].sort());
    // Resolved: a later incident with the same id (none in practice) would start afresh.
    enf.send({ ...campaign, status: 'resolved', ends_at: '2026-12-04T10:20:00.000Z' });
    sink.update?.({ ...campaign, user_ids: ['camp-8'] });
    await until(() => acted.includes('camp-8'), 120_000);
    await enf.shutdown();
  });

  it('acts on two users whose ids share a 32-bit FNV-1a hash (names an attacker can pick)', async () => {
    const { enf, acted, ids } = acting();
    // FNV-1a 32-bit of both is 0cb88885: found in a second by counting names.
    const twins = ['acct-528056', 'acct-1010190'];
    enf.send(alert({ alert_id: 'ALR-0000000000000f00', severity: 'alert', user_ids: twins }));
    await until(() => acted.length >= 2, 120_000);
    await enf.forceFlush();
    expect(acted.sort()).toEqual([...twins].sort());
    // Their action events have an id each (before, both were EVT-enf-0000000000000f00-0cb88885:
    // a collector or SIEM keeping one event per id kept one action of two).
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^EVT-enf-0000000000000f00-[0-9a-f]{32}$/);
    await enf.shutdown();
  });

  it("takes an action dropped past maxPending at the incident's next update, once each", async () => {
    // A store call never times out here (a loaded host): the places free only as actions apply.
    const { enf, acted } = acting({ commandTimeoutMs: 60_000, maxPending: 2 });
    const users = ['flood-1', 'flood-2', 'flood-3', 'flood-4', 'flood-5'];
    const a = alert({ alert_id: 'ALR-0000000000000d01', severity: 'alert', user_ids: users });
    enf.send(a);
    await enf.forceFlush();
    expect(acted.sort()).toEqual(['flood-1', 'flood-2']); // 3 dropped: two places
    // Before: the three dropped were marked done with the two taken, and no update acted on them.
    for (let i = 0; i < 3; i++) {
      enf.update(a);
      await enf.forceFlush();
    }
    expect(acted.sort()).toEqual(users);
    const reader = readBack();
    for (const user of users) expect((await reader.status(user)).level, user).toBe('throttled');
    await enf.shutdown();
  });

  it("tries an action it gave up on again at the incident's next update", async () => {
    const dead = deadRedis();
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (msg: string) => errors.push(msg) };
    const enf = new FleetEnforcement({ client: dead, actions, logger, commandTimeoutMs: 300, retryForMs: 0 });
    const a = alert({ alert_id: 'ALR-0000000000000d02', severity: 'critical', user_ids: ['gone'] });
    enf.send(a);
    await enf.forceFlush();
    expect(errors).toEqual(['enforcement action failed']); // tried once (retryForMs 0), given up
    // Before: marked done when first tried, so no update tried it again.
    enf.update(a);
    await enf.forceFlush();
    expect(errors).toHaveLength(2);
    await enf.shutdown();
    dead.disconnect();
  });

  it('puts nothing on the users of an indirect_prompt_injection alert (victims, not authors) unless an action names the rule', async () => {
    const reader = readBack();
    const enf = new FleetEnforcement({ client: db.redis, actions, logger: silentLogger });
    // Severity alert maps to throttle, but not for this rule; critical neither.
    expect(enf.actionFor({ rule: 'indirect_prompt_injection', severity: 'alert' })).toBeUndefined();
    enf.send(
      alert({ rule: 'indirect_prompt_injection', severity: 'alert', user_ids: ['reader-1', 'reader-2'] }),
    );
    enf.send(alert({ rule: 'indirect_prompt_injection', severity: 'critical', user_ids: ['reader-1'] }));
    // The same severity from another rule still throttles.
    enf.send(alert({ rule: 'rapid_guardrail_blocks', severity: 'alert', user_ids: ['typist'] }));
    await enf.forceFlush();
    expect((await reader.status('reader-1')).violationScore).toBe(0);
    expect((await reader.status('reader-2')).violationScore).toBe(0);
    expect((await reader.status('typist')).level).toBe('throttled');
    await enf.shutdown();

    // The operator's explicit choice: a rule action applies; `none` exempts any rule.
    const chosen = new FleetEnforcement({
      client: db.redis,
      actions: [
        { rule: 'indirect_prompt_injection', action: 'warn' },
        { rule: 'rapid_guardrail_blocks', action: 'none' },
        ...actions,
      ],
      logger: silentLogger,
    });
    chosen.send(alert({ rule: 'indirect_prompt_injection', severity: 'alert', user_ids: ['reader-3'] }));
    chosen.send(alert({ rule: 'rapid_guardrail_blocks', severity: 'alert', user_ids: ['exempted'] }));
    await chosen.forceFlush();
    expect((await reader.status('reader-3')).level).toBe('warning');
    expect((await reader.status('exempted')).violationScore).toBe(0);
    await chosen.shutdown();

    // exemptRules: [] restores the severity mapping for every rule.
    const all = new FleetEnforcement({ client: db.redis, actions, logger: silentLogger, exemptRules: [] });
    expect(all.actionFor({ rule: 'indirect_prompt_injection', severity: 'alert' })?.action).toBe('throttle');
    // Not for an alert whose rule reads only victim-side categories (a custom auth_failure
    // rule): exempt by what it reads, whatever the list; an action naming it still applies.
    expect(
      all.actionFor({ rule: 'my_login_rule', severity: 'alert', users_are_victims: true }),
    ).toBeUndefined();
    await all.shutdown();
    const named = new FleetEnforcement({
      client: db.redis,
      actions: [{ rule: 'my_login_rule', action: 'warn' }, ...actions],
      logger: silentLogger,
    });
    expect(
      named.actionFor({ rule: 'my_login_rule', severity: 'alert', users_are_victims: true })?.action,
    ).toBe('warn');
    await named.shutdown();
  });

  it('puts nothing on the accounts of a credential_stuffing alert (tried from one address: victims) by default', async () => {
    const reader = readBack();
    const enf = new FleetEnforcement({ client: db.redis, actions, logger: silentLogger });
    expect(enf.actionFor({ rule: 'credential_stuffing', severity: 'alert' })).toBeUndefined();
    const tried = Array.from({ length: 30 }, (_, i) => `tried-${i}`);
    enf.send(
      alert({
        rule: 'credential_stuffing',
        severity: 'alert',
        labels: { source_ip: '203.0.113.7' },
        user_ids: tried,
      }),
    );
    enf.send(alert({ rule: 'tool_abuse_repeated', severity: 'alert', user_ids: ['prober'] }));
    await enf.forceFlush();
    for (const user of tried) expect((await reader.status(user)).violationScore, user).toBe(0);
    // Nor the address: an alert acts on users only.
    expect((await reader.status('ip:203.0.113.7')).violationScore).toBe(0);
    expect((await reader.status('prober')).level).toBe('throttled');
    await enf.shutdown();
  });

  it("acts on the user's subject as the apps name it: an alert naming ip:<addr> bans user:ip:<addr>, never the address", async () => {
    const enf = new FleetEnforcement({ client: db.redis, actions, logger: silentLogger });
    enf.send(alert({ rule: 'system_prompt_leakage', user_ids: ['ip:198.51.100.7', 'erin'] }));
    await enf.forceFlush();
    const reader = readBack();
    expect((await reader.status('user:ip:198.51.100.7')).level).toBe('banned');
    expect((await reader.status('ip:198.51.100.7')).level).toBe('normal');
    expect((await reader.status('erin')).level).toBe('banned');
    await enf.shutdown();
  });

  it('rejects a throttle longer than the thresholds can express, naming the limit', () => {
    expect(
      () =>
        new FleetEnforcement({
          client: db.redis,
          actions: [{ severity: 'alert', action: 'throttle', duration: 3_600_000 }],
          logger: silentLogger,
        }),
    ).toThrow(/throttle duration 3600000ms is longer than the apps' thresholds allow/);
  });

  it('counts a failed action and never throws when Redis is gone', async () => {
    const dead = deadRedis();
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (msg: string) => errors.push(msg) };
    const enf = new FleetEnforcement({ client: dead, actions, logger, commandTimeoutMs: 300 });
    expect(() => enf.send(alert({ severity: 'critical', user_ids: ['x'] }))).not.toThrow();
    // Retried until shutdown's last attempt, then given up (fleet-enforcement-outage.test.ts).
    await enf.shutdown();
    expect(errors).toEqual(['enforcement action failed']);
    dead.disconnect();
  });

  it('keeps at most maxPending actions in flight: an alert storm drops the rest, warned once', async () => {
    const dead = deadRedis();
    const warned: string[] = [];
    const failed: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (m: string) => warned.push(m),
      error: (m: string) => failed.push(m),
    };
    const enf = new FleetEnforcement({ client: dead, actions, logger, commandTimeoutMs: 300, maxPending: 2 });
    const users = ['a', 'b', 'c', 'd', 'e'];
    enf.send(alert({ severity: 'critical', user_ids: users }));
    await enf.forceFlush();
    // The two taken failed and wait to be tried again: they still hold both places.
    enf.send(alert({ severity: 'critical', user_ids: users }));
    await enf.shutdown();
    expect(failed).toHaveLength(2); // the two taken (and failed against the dead Redis)
    expect(warned.filter((m) => !m.endsWith('retrying'))).toEqual([
      'enforcement actions dropped: too many in flight (is the rate limiter Redis slow?)',
    ]);
    dead.disconnect();
  });
});
