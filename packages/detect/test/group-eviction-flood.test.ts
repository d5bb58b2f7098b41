// In memory a group table holds at most maxGroupsPerRule groups, shared by every rule grouping
// by the same field. The keys are what an attacker invents most cheaply: an auth_failure's
// user_id is the account name tried (no login needed), its source_ip any address of a /64. A
// flood of invented keys must not evict, at one key per row, the group of an attacker who is
// close to a threshold: with a plain second-chance bit a lap of the table (maxGroupsPerRule
// invented failures) forgot it. Eviction now weighs a group by its touches (group-table.ts): a
// group that has seen w events outlives w laps of one-shot keys, so forgetting an attacker nine
// blocks in costs ten laps of invented events, not one; the table stays bounded all the same.
import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { defaultRules, type RuleDefinition } from '../src/index.ts';
import { brief, ev, MIN, recordingEngine, SEC, T0 } from './helpers.ts';

const rulesNamed = (...ids: string[]): RuleDefinition[] => defaultRules().filter((r) => ids.includes(r.id));

const CAP = 1_000;

function guardrailBlock(at: number, user: string): [SecurityEvent, number] {
  const { event, t } = ev({ at, category: 'guardrail_block', user, metadata: { guardrail_layer: 'input' } });
  return [event, t];
}

function authFailure(at: number, user: string, ip: string): [SecurityEvent, number] {
  const { event, t } = ev({ at, category: 'auth_failure', user, metadata: { reason: 'bad_password' } });
  event.source_ip = ip;
  return [event, t];
}

/** `laps` laps of the table's cap of failures, each for an account nobody has (one event each). */
function floodAccounts(engine: ReturnType<typeof recordingEngine>['engine'], at: number, laps: number): void {
  for (let i = 0; i < laps * CAP; i++) engine.ingest(...authFailure(at, `invented-${at}-${i}`, '192.0.2.1'));
}

describe('group table under a flood of invented keys', () => {
  it('invented account names do not make the table forget a user nine guardrail blocks in', () => {
    const { engine, alerts } = recordingEngine({
      rules: rulesNamed('rapid_guardrail_blocks', 'auth_failure_burst'),
      maxGroupsPerRule: CAP,
    });
    // Nine blocks (the rule fires at ten within 10 minutes), three laps of invented failed
    // logins, the tenth block: one attacker, one incident.
    for (let i = 0; i < 9; i++) engine.ingest(...guardrailBlock(T0 + i * SEC, 'mallory'));
    floodAccounts(engine, T0 + 10 * SEC, 3);
    engine.ingest(...guardrailBlock(T0 + 20 * SEC, 'mallory'));
    expect(brief(alerts, 'rapid_guardrail_blocks')).toEqual(['rapid_guardrail_blocks:firing:mallory']);
    // Bounded all the same: the invented accounts were evicted, and counted.
    expect(engine.groupCount).toBeLessThanOrEqual(CAP);
    expect(engine.stats.groupsEvicted).toBeGreaterThanOrEqual(2 * CAP);
  });

  it('the weight is a cost, not a pin: enough laps of invented keys still forget an idle group', () => {
    const { engine, alerts } = recordingEngine({
      rules: rulesNamed('rapid_guardrail_blocks', 'auth_failure_burst'),
      maxGroupsPerRule: CAP,
    });
    for (let i = 0; i < 9; i++) engine.ingest(...guardrailBlock(T0 + i * SEC, 'mallory'));
    // Nine touches: forgotten within ten laps (the table never holds more than its cap).
    floodAccounts(engine, T0 + 10 * SEC, 12);
    engine.ingest(...guardrailBlock(T0 + 20 * SEC, 'mallory'));
    expect(brief(alerts, 'rapid_guardrail_blocks')).toEqual([]);
    expect(engine.groupCount).toBeLessThanOrEqual(CAP);
  });

  it('invented addresses do not make the table forget a stuffer at its 49th account', () => {
    const { engine, alerts } = recordingEngine({
      rules: rulesNamed('credential_stuffing'),
      maxGroupsPerRule: CAP,
    });
    for (let i = 0; i < 49; i++) engine.ingest(...authFailure(T0 + i * SEC, `acct-${i}`, '203.0.113.50'));
    // Three laps of addresses that each fail once (a /64's worth of sources, one account each).
    for (let i = 0; i < 3 * CAP; i++)
      engine.ingest(...authFailure(T0 + 50 * SEC, `someone-${i}`, `2001:db8::${i.toString(16)}`));
    engine.ingest(...authFailure(T0 + 2 * MIN, 'acct-49', '203.0.113.50'));
    expect(brief(alerts)).toEqual(['credential_stuffing:firing:203.0.113.50']);
    expect(engine.groupCount).toBeLessThanOrEqual(CAP);
  });
});
