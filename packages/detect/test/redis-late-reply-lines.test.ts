import { expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { until } from '../../../test/support/until.ts';
import { defaultRules, DetectionEngine, RedisDetectionState, type RuleDefinition } from '../src/index.ts';
import { block, ev, T0, SEC, MIN } from './helpers.ts';
import { refuseWrites } from '../../../test/support/redis-oom.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';
import { useHeldReplyRedis } from './reply-hold-proxy.ts';

/**
 * A group write that resolves an incident (or adds a user to one), applied by Redis while its reply comes after the
 * command timeout (or is lost with the connection). A step sends its lines once its
 * compare-and-set answers; unanswered, the round failed and the resolved line went nowhere,
 * while the fleet's group no longer held the incident: no process resolved it again (the
 * resolve index's entry, found due, named a group without it), so the alert fired for good in
 * JSONL and OTel-log sinks, and in Alertmanager until its endsAt (an update: Alertmanager showed
 * the users before it until the firing process's next fleet check). Now the write's lines wait,
 * with its openings, for Redis's return or the process's shutdown, which reads the group: the
 * write landed (the group holds what it wrote), the resolved line goes out then; it did not,
 * nothing is sent here and the incident is resolved by the next sweep, as without the failure.
 *
 * A real redis-server behind a TCP proxy that, once armed, forwards the next group write and
 * holds Redis's replies on that connection until release() (or cuts the write: 'drop').
 */

const held = useHeldReplyRedis();
/** A's command timeout: the held write degrades A once it has passed. */
const TIMEOUT_MS = 2_000;
/** A bound on a hang only: how long a return to shared mode may take on a loaded host. */
const HANG_MS = 20_000;
const client = held.client;

const lines = (alerts: Alert[]) =>
  alerts.filter((a) => a.rule === 'rapid_guardrail_blocks').map((a) => `${a.status}:${a.alert_id}`);

/**
 * A opens mallory's incident (ten blocks, a healthy round: its firing line), then moves time
 * past its quiet period: that round's sweep resolves it in a write the proxy holds or cuts, and
 * A degrades.
 */
async function resolvedInDoubt(how: 'hold' | 'drop', probeIntervalMs: number) {
  const { server, proxy: p } = await held.start();
  const ruleset = freshRuleset('late-resolve');
  const A = redisEngine(await client(p.port), defaultRules(), 0, ruleset, {
    commandTimeoutMs: TIMEOUT_MS,
    probeIntervalMs,
    shutdownGraceMs: 0,
  });
  for (let i = 0; i < 10; i++) A.engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
  await A.engine.forceFlush();
  expect(lines(A.alerts)).toHaveLength(1);
  expect(A.engine.stats.state?.mode).toBe('shared');
  p.arm(how);
  A.engine.advanceTo(T0 + 30 * 60 * SEC);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('degraded');
  return { server, p, ruleset, A, firing: lines(A.alerts)[0]! };
}

/** Another process of the fleet sweeps later still: it resolves what the fleet holds open. */
async function laterSweep(port: number, ruleset: string): Promise<string[]> {
  const B = redisEngine(await client(port), defaultRules(), 0, ruleset, { shutdownGraceMs: 0 });
  B.engine.ingest(ev(block(T0 + 40 * 60 * SEC, 'trent')).event, T0 + 40 * 60 * SEC);
  B.engine.advanceTo(T0 + 60 * 60 * SEC);
  await B.engine.forceFlush();
  await B.engine.shutdown();
  return lines(B.alerts);
}

it('a resolve that landed unanswered is sent when the process stops before Redis is probed again', async () => {
  const { server, p, ruleset, A, firing } = await resolvedInDoubt('hold', 3_600_000);
  p.release();
  await A.engine.shutdown();
  const b = await laterSweep(server.port, ruleset);
  // Before: A ['firing:X'] and B [] (the group no longer held the incident): never resolved.
  expect(lines(A.alerts)).toEqual([firing, `resolved:${firing.slice('firing:'.length)}`]);
  expect(b).toEqual([]);
}, 60_000);

it('a resolve that landed unanswered is sent at shutdown with Redis refusing writes: its group is read', async () => {
  // The probe at shutdown is refused (out of memory), so the process stops degraded; reads are
  // still answered, and the group tells that the resolve landed.
  const { server, p, ruleset, A, firing } = await resolvedInDoubt('hold', 3_600_000);
  const admin = await client(server.port);
  const undo = await refuseWrites(admin);
  p.release();
  await A.engine.shutdown();
  expect(A.engine.stats.state?.mode).toBe('degraded');
  await undo();
  const b = await laterSweep(server.port, ruleset);
  // Before: A ['firing:X'] and B []: never resolved.
  expect(lines(A.alerts)).toEqual([firing, `resolved:${firing.slice('firing:'.length)}`]);
  expect(b).toEqual([]);
}, 60_000);

it('a resolve that landed unanswered is sent when Redis answers again', async () => {
  const { server, p, ruleset, A, firing } = await resolvedInDoubt('hold', 100);
  p.release();
  await until(() => A.engine.stats.state?.mode === 'shared', HANG_MS);
  await A.engine.forceFlush();
  await A.engine.shutdown();
  const b = await laterSweep(server.port, ruleset);
  expect(lines(A.alerts)).toEqual([firing, `resolved:${firing.slice('firing:'.length)}`]);
  expect(b).toEqual([]);
}, 60_000);

it('a resolve cut before Redis is sent once, by the sweep after the return', async () => {
  const { server, ruleset, A, firing } = await resolvedInDoubt('drop', 100);
  await until(() => A.engine.stats.state?.mode === 'shared', HANG_MS);
  A.engine.advanceTo(T0 + 31 * 60 * SEC);
  await A.engine.forceFlush();
  await A.engine.shutdown();
  const b = await laterSweep(server.port, ruleset);
  expect([...lines(A.alerts), ...b]).toEqual([firing, `resolved:${firing.slice('firing:'.length)}`]);
}, 60_000);

it('a resolve cut before Redis is not sent from the doubt at shutdown: the incident resolves once', async () => {
  // Nothing landed: the group still holds the incident, so no line from the read; the final
  // round (Redis answering the shutdown's probe) or the fleet's sweep resolves it.
  const { server, ruleset, A, firing } = await resolvedInDoubt('drop', 3_600_000);
  await A.engine.shutdown();
  const b = await laterSweep(server.port, ruleset);
  expect([...lines(A.alerts), ...b]).toEqual([firing, `resolved:${firing.slice('firing:'.length)}`]);
}, 60_000);

/** One incident per source address, any block: a second user's block is an update line. */
const perAddress: RuleDefinition = {
  id: 'blocks_per_address',
  title: 'Blocks from one address',
  severity: 'warning',
  match: { categories: ['guardrail_block'] },
  group_by: 'source_ip',
  window_ms: MIN,
  quiet_ms: 10 * MIN,
  condition: { kind: 'single' },
};

it('an update (a user joining an open incident) that landed unanswered is sent at shutdown', async () => {
  const { proxy: p } = await held.start();
  const alerts: Alert[] = [];
  const updates: Alert[] = [];
  const state = new RedisDetectionState({
    redis: await client(p.port),
    ruleset: freshRuleset('late-update'),
    commandTimeoutMs: TIMEOUT_MS,
    probeIntervalMs: 3_600_000,
    shutdownGraceMs: 0,
  });
  const A = new DetectionEngine({
    rules: [perAddress],
    allowedLatenessMs: 0,
    state,
    onAlert: (a) => alerts.push(a),
    onUpdate: (a) => updates.push(a),
  });
  const from = (at: number, user: string) => {
    const e = ev(block(at, user));
    e.event.source_ip = '203.0.113.9';
    return e;
  };
  const first = from(T0, 'alice');
  A.ingest(first.event, first.t);
  await A.forceFlush();
  expect(alerts.map((a) => a.status)).toEqual(['firing']);
  p.arm('hold');
  const second = from(T0 + SEC, 'bob');
  A.ingest(second.event, second.t);
  await A.forceFlush();
  expect(A.stats.state?.mode).toBe('degraded');
  p.release();
  await A.shutdown();
  // Before: no update (it went nowhere), and bob's block, held, went to the local engine at
  // shutdown, which opened a second incident on it (another alert id: a firing and a resolved
  // line) though the fleet's held it already. One process on a healthy Redis: alice's firing
  // line, the update naming bob, and the incident left open in Redis for the fleet.
  expect(alerts.map((a) => `${a.status}:${a.user_ids.join('+')}`)).toEqual(['firing:alice']);
  expect(updates.map((u) => [u.alert_id, u.user_ids])).toEqual([[alerts[0]!.alert_id, ['alice', 'bob']]]);
  expect(A.stats.state?.duplicates).toBe(1); // the held block, resent, is the group's already
}, 60_000);
