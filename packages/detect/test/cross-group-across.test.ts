// A cross_group rule counting something other than users (`across: source_ip`) named the values
// it counted as the alert's user_ids: addresses where user ids belong (and, once the incident was
// extended, addresses and users mixed), which the alert->violation bridge and fleet enforcement
// would take for accounts. user_ids now holds user ids only; the counted values are the alert's
// `across` field, under the field's name, in memory, in the JSONL, in Alertmanager's annotations
// (never its labels) and through the shared (Redis) state.
import { describe, expect, it } from 'vitest';
import { encodeAlert, type Alert, type SecurityEvent } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { compileRule } from '../src/compile.ts';
import { Incident, type IncidentState } from '../src/incident.ts';
import type { RuleDefinition } from '../src/index.ts';
import { toAlertmanagerAlert } from '../src/sinks/alertmanager-payload.ts';
import { canonical, freshRuleset, memoryAlerts, redisEngine, type Timed } from './redis-support.ts';
import { MIN, recordingEngine, SEC, T0 } from './helpers.ts';

const rule = (id: string, groupBy: string, across: string): RuleDefinition => ({
  id,
  title: id,
  severity: 'alert',
  match: { categories: ['auth_failure'] },
  group_by: groupBy,
  window_ms: 10 * MIN,
  condition: { kind: 'cross_group', across, min: 3 },
});

/** One account tried from many addresses; one address trying many accounts. */
const ONE_USER_MANY_IPS = rule('one_user_many_ips', 'user_id', 'source_ip');
const ONE_IP_MANY_USERS = rule('one_ip_many_users', 'source_ip', 'user_id');

let seq = 0;
function fail(at: number, user: string, ip: string | undefined): Timed {
  const event: SecurityEvent = {
    event_id: `x${++seq}`,
    timestamp: new Date(at).toISOString(),
    category: 'auth_failure',
    severity: 'warning',
    user_id: user,
    metadata: { reason: 'bad_password' },
  };
  if (ip !== undefined) event.source_ip = ip;
  return { event, t: at };
}

const ADDRESSES = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];

/** victim from four addresses (fires at the third, the fourth joins), then u0..u3 from one. */
function stream(): Timed[] {
  return [
    ...ADDRESSES.map((ip, i) => fail(T0 + i * SEC, 'victim', ip)),
    fail(T0 + 5 * SEC, 'victim', undefined), // no address: not counted, joins as the user it is
    ...[0, 1, 2, 3].map((i) => fail(T0 + (10 + i) * SEC, `u${i}`, '198.51.100.9')),
  ];
}

function run(rules: RuleDefinition[]): { alerts: Alert[]; updates: Alert[] } {
  const updates: Alert[] = [];
  const { engine, alerts } = recordingEngine({ rules, onUpdate: (a) => updates.push(a) });
  for (const { event, t } of stream()) engine.ingest(event, t);
  engine.advanceTo(T0 + 30 * MIN);
  return { alerts, updates };
}

describe('cross_group alert fields: user_ids are user ids, the counted values are `across`', () => {
  it('across source_ip: user_ids names the account, across names the addresses (firing, updates, resolved)', () => {
    const { alerts, updates } = run([ONE_USER_MANY_IPS]);
    expect(alerts.map((a) => a.status)).toEqual(['firing', 'resolved']);
    for (const a of [...alerts, ...updates]) {
      expect(a.labels).toEqual({ user_id: 'victim' });
      expect(a.user_ids).toEqual(['victim']);
      // The values counted when it opened (the fourth address joined later: not listed).
      expect(a.across).toEqual({ source_ip: ADDRESSES.slice(0, 3) });
    }
    expect(alerts[0]!.description).toBe(
      '3 distinct source_ip values in 3 auth_failure events from one user_id within 10m (threshold 3)',
    );
  });

  it('across user_id (group_by source_ip): the users in user_ids, joiners added, and no across field', () => {
    const { alerts, updates } = run([ONE_IP_MANY_USERS]);
    expect(alerts.map((a) => a.status)).toEqual(['firing', 'resolved']);
    expect(alerts[0]!.labels).toEqual({ source_ip: '198.51.100.9' });
    expect(alerts[0]!.user_ids).toEqual(['u0', 'u1', 'u2']);
    expect(updates.at(-1)!.user_ids).toEqual(['u0', 'u1', 'u2', 'u3']);
    expect(alerts[1]!.user_ids).toEqual(['u0', 'u1', 'u2', 'u3']);
    for (const a of [...alerts, ...updates]) expect(a.across).toBeUndefined();
    // Only the victim's events had addresses 203.0.113.x, one account: no incident for them.
    expect(alerts.every((a) => a.rule === 'one_ip_many_users')).toBe(true);
  });

  it('the JSONL line carries across after user_ids; lines of other rules have none', () => {
    const { alerts } = run([ONE_USER_MANY_IPS, ONE_IP_MANY_USERS]);
    const lines = alerts.filter((a) => a.status === 'firing').map((a) => encodeAlert(a));
    expect(lines).toHaveLength(2);
    const byRule = new Map(lines.map((l) => [JSON.parse(l).rule as string, l]));
    const a = byRule.get('one_user_many_ips')!;
    expect(Object.keys(JSON.parse(a))).toEqual([
      'alert_id',
      'rule',
      'severity',
      'status',
      'labels',
      'user_ids',
      'users_are_victims', // the rule reads only auth_failure: the accounts tried (14d7981)
      'across',
      'starts_at',
      'description',
      'evidence',
    ]);
    expect(JSON.parse(a).across).toEqual({ source_ip: ADDRESSES.slice(0, 3) });
    expect(JSON.parse(byRule.get('one_ip_many_users')!)).not.toHaveProperty('across');
  });

  it("Alertmanager: the addresses in an annotation, the labels only the incident's identity", () => {
    const { alerts } = run([ONE_USER_MANY_IPS]);
    const am = toAlertmanagerAlert(alerts[0]!, { maxTraceLinks: 5 });
    expect(am.labels).toEqual({
      alertname: 'one_user_many_ips',
      severity: 'alert',
      rule: 'one_user_many_ips',
      user_id: 'victim',
    });
    expect(am.annotations.user_ids).toBe('victim');
    expect(am.annotations.across_source_ip).toBe(ADDRESSES.slice(0, 3).join(', '));
  });

  it('a metadata field counted across is named as a label is (metadata.key_id -> metadata_key_id)', () => {
    const r: RuleDefinition = { ...rule('keys', 'user_id', 'metadata.key_id') };
    const { engine, alerts } = recordingEngine({ rules: [r] });
    for (let i = 0; i < 3; i++) {
      const { event, t } = fail(T0 + i * SEC, 'victim', undefined);
      event.metadata = { reason: 'bad_key', key_id: i === 2 ? 7 : `k${i}` };
      engine.ingest(event, t);
    }
    expect(alerts[0]!.user_ids).toEqual(['victim']);
    expect(alerts[0]!.across).toEqual({ metadata_key_id: ['k0', 'k1', '7'] });
  });
});

describe('the across values in the shared state', () => {
  const compiled = compileRule(ONE_USER_MANY_IPS, 0, { maxEventsPerWindow: 100, maxDistinctValues: 4 });
  const base: IncidentState = { s: T0, l: T0, d: 'd', e: ['x1'], x: 'x1', tr: [], u: ['victim'] };

  it('round-trips through toState / fromState (`a`), so a rebuilt copy is the same alert', () => {
    const inc = new Incident(compiled, 'victim', T0, 'd', 4);
    inc.addUser('victim');
    for (const ip of ADDRESSES.slice(0, 3)) inc.addAcross(ip);
    const st = inc.toState();
    expect(st.a).toEqual(ADDRESSES.slice(0, 3));
    const back = Incident.fromState(compiled, 'victim', JSON.parse(JSON.stringify(st)) as IncidentState, 4);
    expect(back.toAlert('firing', undefined)).toEqual(inc.toAlert('firing', undefined));
  });

  it('a damaged or hostile `a` is bounded (maxDistinctValues), strings only, and never throws', () => {
    const load = (a: unknown): Alert =>
      Incident.fromState(compiled, 'victim', { ...base, a } as IncidentState, 4).toAlert('firing', undefined);
    expect(load(Array.from({ length: 100_000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`)).across).toEqual({
      source_ip: ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3'],
    });
    expect(load([1, null, { x: 1 }, ['y'], 'ok']).across).toEqual({ source_ip: ['ok'] });
    for (const bad of ['10.0.0.1', 7, null, { 0: 'x' }]) expect(load(bad).across).toBeUndefined();
    // A state of an earlier version (no `a`): no across field, nothing else changes.
    expect(load(undefined)).not.toHaveProperty('across');
  });

  it('a rule counting user ids ignores a stored `a` (its alerts have no such field)', () => {
    const users = compileRule(ONE_IP_MANY_USERS, 0, { maxEventsPerWindow: 100, maxDistinctValues: 4 });
    const inc = Incident.fromState(users, '198.51.100.9', { ...base, a: ['x'] } as IncidentState, 4);
    expect(inc.toAlert('firing', undefined)).not.toHaveProperty('across');
  });
});

describe('on Redis', () => {
  const db = useRedis({ clients: 3 });

  it('three engines sharing one Redis give the alerts one in-memory engine gives (user_ids and across)', async () => {
    const rules = [ONE_USER_MANY_IPS, ONE_IP_MANY_USERS];
    const events = stream();
    // The events span 13 s: within the lateness, none is late whichever engine ships it first.
    const lateness = 60 * SEC;
    const want = memoryAlerts(rules, events, lateness);
    expect(want.map((a) => a.status)).toEqual(['firing', 'firing']);
    const ruleset = freshRuleset('across');
    const engines = db.clients.map((c) => redisEngine(c, rules, lateness, ruleset));
    // Each engine ships its share before any releases (flush): the fleet's order is event time.
    events.forEach(({ event, t }, i) => engines[i % 3]!.engine.ingest(event, t));
    await Promise.all(engines.map(({ engine }) => engine.forceFlush()));
    for (const { engine } of engines) engine.flush();
    await Promise.all(engines.map(({ engine }) => engine.forceFlush()));
    for (const { engine } of engines) engine.flush();
    await Promise.all(engines.map(({ engine }) => engine.shutdown()));
    const got = engines.flatMap(({ alerts }) => alerts);
    expect(canonical(got)).toEqual(canonical(want));
    const firing = got.find((a) => a.rule === 'one_user_many_ips' && a.status === 'firing')!;
    expect(firing.user_ids).toEqual(['victim']);
    expect(firing.across).toEqual({ source_ip: ADDRESSES.slice(0, 3) });
  });
});
