// credential_stuffing groups by address and counts accounts, the two things an attacker invents
// freely. Its state must stay bounded and its verdicts fleet-correct: an address inventing
// user ids holds at most maxEventsPerWindow entries (in memory and in Redis, whatever it sends),
// its alert names at most maxDistinctValues accounts, invented addresses cost their own table
// (never the per-user state of the other rules) and on Redis evict nothing; three engines on one
// Redis give one memory engine's incidents.
import { describe, expect, it } from 'vitest';
import type { Alert, SecurityEvent } from '@llmsec/core';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { defaultRules, type RuleDefinition } from '../src/index.ts';
import { MIN, recordingEngine, SEC, T0 } from './helpers.ts';
import { canonical, freshRuleset, memoryAlerts, redisEngine, type Timed } from './redis-support.ts';
import { rounds, untie } from './redis-split.ts';

const STUFFING: RuleDefinition[] = defaultRules().filter((r) => r.id === 'credential_stuffing');
const AUTH_RULES: RuleDefinition[] = defaultRules().filter(
  (r) => r.id === 'credential_stuffing' || r.id === 'auth_failure_burst',
);

let seq = 0;
function fail(at: number, user: string, ip: string | undefined): Timed {
  const event: SecurityEvent = {
    event_id: `cs${++seq}`,
    timestamp: new Date(at).toISOString(),
    category: 'auth_failure',
    severity: 'warning',
    user_id: user,
    metadata: { reason: 'bad_password' },
  };
  if (ip !== undefined) event.source_ip = ip;
  return { event, t: at };
}

const firing = (alerts: Alert[]): Alert[] => alerts.filter((a) => a.status === 'firing');

describe('credential_stuffing state in memory', () => {
  it('an address inventing 20,000 accounts in 5 minutes: one incident naming at most maxDistinctValues', () => {
    const { engine, alerts } = recordingEngine({ rules: STUFFING, maxDistinctValues: 200 });
    for (let i = 0; i < 20_000; i++) {
      const { event, t } = fail(T0 + Math.floor(i / 100) * SEC, `invented-${i}`, '203.0.113.1');
      engine.ingest(event, t);
    }
    engine.advanceTo(T0 + 30 * MIN);
    expect(firing(alerts)).toHaveLength(1);
    expect(alerts.map((a) => a.status)).toEqual(['firing', 'resolved']);
    for (const a of alerts) expect(a.user_ids.length).toBeLessThanOrEqual(200);
    expect(alerts[1]!.user_ids).toHaveLength(200);
  });

  it('invented addresses fill their own table only: a per-user rule keeps its state, the cap is counted', () => {
    const { engine, alerts } = recordingEngine({ rules: AUTH_RULES, maxGroupsPerRule: 1_000 });
    // Nine failures for the victim (auth_failure_burst fires at ten), then 5,000 addresses each
    // failing once for one account, then the victim's tenth.
    for (let i = 0; i < 9; i++) engine.ingest(...args(fail(T0 + i * SEC, 'victim', '198.51.100.7')));
    for (let i = 0; i < 5_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      engine.ingest(...args(fail(T0 + 10 * SEC + i, 'someone', ip)));
    }
    engine.ingest(...args(fail(T0 + 20 * SEC, 'victim', '198.51.100.7')));
    // (`someone`, failing 5,000 times, is a burst of its own.)
    expect(firing(alerts).map((a) => `${a.rule}:${Object.values(a.labels)[0]}`)).toEqual([
      'auth_failure_burst:someone',
      'auth_failure_burst:victim',
    ]);
    // The address table holds at most its cap: the rest were evicted from it, and counted.
    expect(engine.stats.groupsEvicted).toBeGreaterThanOrEqual(5_001 - 1_000);
  });
});

function args({ event, t }: Timed): [SecurityEvent, number] {
  return [event, t];
}

describe('credential_stuffing on Redis', () => {
  const db = useRedis({ clients: 3 });

  /** A stuffer (60 accounts, 4 s apart), a NAT (40 accounts, some twice), anonymous, no address. */
  function stream(): Timed[] {
    const out: Timed[] = [];
    for (let i = 0; i < 60; i++) out.push(fail(T0 + i * 4 * SEC, `acct-${i}`, '203.0.113.50'));
    for (let i = 0; i < 40; i++) out.push(fail(T0 + i * 6 * SEC, `staff-${i}`, '198.51.100.40'));
    for (let i = 0; i < 40; i += 3) out.push(fail(T0 + i * 6 * SEC + 2 * SEC, `staff-${i}`, '198.51.100.40'));
    for (let i = 0; i < 60; i++) out.push(fail(T0 + i * 3 * SEC, 'anonymous', '203.0.113.50'));
    for (let i = 0; i < 60; i++) out.push(fail(T0 + i * 3 * SEC + 1, `roaming-${i}`, undefined));
    // Later traffic so every quiet period ends inside the input.
    out.push(fail(T0 + 40 * MIN, 'late', '192.0.2.1'));
    return untie(out.sort((a, b) => a.t - b.t));
  }

  it('three engines sharing one Redis give one memory engine incidents (the stuffer only, all its accounts)', async () => {
    const lateness = 30 * SEC;
    const events = stream();
    const want = memoryAlerts(AUTH_RULES, events, lateness);
    expect(want.map((a) => `${a.rule}:${a.status}:${Object.values(a.labels)[0]}`)).toEqual([
      'credential_stuffing:firing:203.0.113.50',
      'credential_stuffing:resolved:203.0.113.50',
    ]);
    expect(want[1]!.user_ids).toHaveLength(60);
    const ruleset = freshRuleset('stuffing');
    const engines = db.clients.map((c) => redisEngine(c, AUTH_RULES, lateness, ruleset));
    let i = 0;
    for (const round of rounds(events, lateness)) {
      for (const { event, t } of round) engines[i++ % 3]!.engine.ingest(event, t);
      await Promise.all(engines.map(({ engine }) => engine.forceFlush()));
    }
    for (const { engine } of engines) engine.flush();
    await Promise.all(engines.map(({ engine }) => engine.forceFlush()));
    for (const { engine } of engines) engine.flush();
    await Promise.all(engines.map(({ engine }) => engine.shutdown()));
    const got = engines.flatMap(({ alerts }) => alerts);
    expect(canonical(got)).toEqual(canonical(want));
  });

  it("an address inventing accounts: its group's Redis value stops growing at maxEventsPerWindow", async () => {
    const ruleset = freshRuleset('stuffing-bound');
    const { engine } = redisEngine(db.redis, STUFFING, 0, ruleset);
    const sizes: number[] = [];
    let n = 0;
    for (const total of [1_000, 5_000, 20_000]) {
      for (; n < total; n++)
        engine.ingest(...args(fail(T0 + Math.floor(n / 100) * SEC, `inv-${n}`, '203.0.113.9')));
      await engine.forceFlush();
      engine.flush();
      await engine.forceFlush();
      const keys = await db.redis.keys(`*${ruleset}*203.0.113.9*`);
      expect(keys).toHaveLength(1);
      sizes.push(await db.redis.strlen(keys[0]!));
    }
    await engine.shutdown();
    // 1,000 entries (the default maxEventsPerWindow) at the first measure, and no more later:
    // 20x the accounts, the same size within the ids' length (inv-999 vs inv-19999).
    expect(sizes[2]!).toBeLessThan(sizes[0]! * 1.5);
    expect(sizes[2]!).toBeLessThan(200_000);
    console.log(`credential_stuffing group bytes at 1,000 / 5,000 / 20,000 accounts: ${sizes.join(' / ')}`);
  });

  it('invented addresses on Redis evict nothing: the stuffer, interrupted by 5,000 of them, still fires', async () => {
    const ruleset = freshRuleset('stuffing-flood');
    const { engine, alerts } = redisEngine(db.redis, STUFFING, 0, ruleset);
    for (let i = 0; i < 49; i++) engine.ingest(...args(fail(T0 + i * SEC, `acct-${i}`, '203.0.113.77')));
    for (let i = 0; i < 5_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      engine.ingest(...args(fail(T0 + 50 * SEC + Math.floor(i / 1000), `x-${i}`, ip)));
    }
    engine.ingest(...args(fail(T0 + 60 * SEC, 'acct-49', '203.0.113.77')));
    engine.flush();
    await engine.shutdown();
    expect(firing(alerts).map((a) => a.labels)).toEqual([{ source_ip: '203.0.113.77' }]);
  });
});
