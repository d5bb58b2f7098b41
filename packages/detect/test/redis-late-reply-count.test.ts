import { expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { until } from '../../../test/support/until.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, MIN, SEC, T0 } from './helpers.ts';
import { useHeldReplyRedis } from './reply-hold-proxy.ts';
import { freshRuleset, memoryAlerts, redisEngine } from './redis-support.ts';

/**
 * A round whose group write Redis applied while its reply came after the command timeout: its
 * batch went to the local (fallback) engine as well, so those events counted twice, in Redis
 * and locally, and the fallback opened a second incident on events the fleet had counted
 * already. Now the batch is held while degraded and shipped again when Redis answers; a group
 * that holds its events drops them (HeldBatch, stepGroup's `resent`).
 *
 * rapid_guardrail_blocks (10 blocks in 10 minutes) on a real redis-server behind a proxy that
 * holds Redis's replies to one group write until the process has degraded (TIMEOUT_MS).
 */

const held = useHeldReplyRedis();

/**
 * The command timeout. A held write, and a write on a connection the proxy cut (ioredis drops
 * such a call unanswered), degrade the process only once it has passed, so each failed round
 * waits it out. Every other call must answer within it, and a loaded host's Redis can be slower
 * than 250 ms by itself (a run was seen to fail at load ~11 with 250 ms): a round the test
 * meant to land then degraded as well, and the counts moved.
 */
const TIMEOUT_MS = 2_000;
/** A run's engine options: the timeout above, probes every 100 ms, no shutdown grace. */
const options = { commandTimeoutMs: TIMEOUT_MS, probeIntervalMs: 100, shutdownGraceMs: 0 };
/** A bound on a hang only: how long a return to shared mode may take on a loaded host. */
const HANG_MS = 20_000;

const firing = (alerts: Alert[]) =>
  alerts.filter((a) => a.rule === 'rapid_guardrail_blocks' && a.status === 'firing').map((a) => a.alert_id);

/**
 * mallory's blocks, one second apart: `before` shipped, `inRound` in one round whose write the
 * proxy holds ('hold': it lands, its reply comes late) or cuts ('drop'), `degraded` while the
 * process is degraded, `after` once Redis answers again; then event time moves 20 minutes on.
 */
async function run(
  how: 'hold' | 'drop',
  n: { before: number; inRound: number; degraded: number; after: number },
  latenessMs = 60 * SEC,
  /**
   * A round after the return cut at its first call (its clock), before any of its writes: the
   * resend ('resend'), or the round after it ('record': the degraded events given back).
   */
  cut?: 'resend' | 'record',
  /**
   * Another user's block shipped first: the proxy knows the write by its script's hash, sent
   * once loaded, so mallory's count can start in the failed round (`before` 0).
   */
  warm = false,
) {
  const { proxy } = await held.start();
  const redis = await held.client(proxy.port);
  const A = redisEngine(redis, defaultRules(), latenessMs, freshRuleset('late-reply-count'), options);
  let i = 0;
  const send = (count: number) => {
    for (let k = 0; k < count; k++, i++)
      A.engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
  };
  if (warm) A.engine.ingest(ev(block(T0 - SEC, 'alice')).event, T0 - SEC);
  send(n.before);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('shared');
  proxy.arm(how);
  send(n.inRound);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('degraded');
  send(n.degraded);
  if (cut !== undefined) proxy.arm('drop', 'clock', cut === 'record' ? 1 : 0);
  proxy.release(); // the write's reply (and the probes' held behind it) comes now, after the timeout
  if (cut !== undefined) await until(() => (A.engine.stats.state?.degradedEpisodes ?? 0) >= 2, HANG_MS);
  await until(() => A.engine.stats.state?.mode === 'shared', HANG_MS);
  send(n.after);
  await A.engine.forceFlush();
  A.engine.advanceTo(T0 + 20 * MIN);
  await A.engine.forceFlush();
  const state = A.engine.stats.state!;
  const late = A.engine.stats.droppedLate;
  await A.engine.shutdown();
  return { firing: firing(A.alerts), state, late };
}

it("a landed write's events are not counted again by the fallback: one incident, one firing line", async () => {
  // Redis holds 5 + 5 (the incident opens there, at the tenth); the fallback held the round's 5
  // and the 5 sent while degraded: ten, a second incident (another alert id) on events the fleet
  // had counted. Before: two firing lines; now the fallback holds 5 and opens nothing.
  const { firing, state } = await run('hold', { before: 5, inRound: 5, degraded: 5, after: 0 });
  expect(state.degradedEpisodes).toBe(1);
  expect(firing).toHaveLength(1);
  expect(state.resent).toBe(5);
  expect(state.heldToLocal).toBe(0);
  expect(state.degradedEvents).toBe(5);
  // The resent five were in the group already (pending there): dropped as repeats.
  expect(state.duplicates).toBe(5);
}, 60_000);

it('a resend that fails before its first write keeps the batch held: one incident, one firing line', async () => {
  // As above, but the resend round's clock call is cut: no write of it sent. Before, the batch
  // went to the fallback then (its first round's write had landed): 5 + 5 there, a second
  // incident. Now it is held again and resent once Redis answers.
  const { firing, state } = await run(
    'hold',
    { before: 5, inRound: 5, degraded: 5, after: 0 },
    60 * SEC,
    'resend',
  );
  expect(state.degradedEpisodes).toBe(2);
  expect(firing).toHaveLength(1);
  expect(state.resent).toBe(5);
  expect(state.duplicates).toBe(5);
  expect(state.heldToLocal).toBe(0);
}, 60_000);

/** The firing lines one in-memory engine gives for alice's block and `count` of mallory's (as run()'s, `warm`). */
function memoryFiring(count: number): string[] {
  const events = [ev(block(T0 - SEC, 'alice'))];
  for (let i = 0; i < count; i++) events.push(ev(block(T0 + i * SEC, 'mallory')));
  return firing(memoryAlerts(defaultRules(), events, 60 * SEC));
}

it.each(['hold', 'drop'] as const)(
  "5 blocks in the failed round ('%s') and 5 while degraded count together in Redis: one firing line",
  async (how) => {
    // Before: the round's 5 resent to Redis, the 5 taken while degraded left in the fallback:
    // neither reached ten, no line (before the hold, the fallback had all ten). Now the fallback
    // gives those 5 back unprocessed and they follow the resend to Redis (DegradedRecord): ten
    // there, the incident one engine opens (same alert id).
    const { firing, state, late } = await run(
      how,
      { before: 0, inRound: 5, degraded: 5, after: 0 },
      60 * SEC,
      undefined,
      true,
    );
    expect(state.degradedEpisodes).toBe(1);
    expect(firing).toHaveLength(1);
    expect(firing).toEqual(memoryFiring(10));
    expect(state.resent).toBe(5);
    expect(state.degradedEvents).toBe(5);
    expect(state.degradedResent).toBe(5);
    expect(state.degradedNotResent).toBe(0);
    // 'hold': the round's write landed, its 5 are repeats on the resend; the degraded 5 are new there.
    expect(state.duplicates).toBe(how === 'hold' ? 5 : 0);
    expect(late).toBe(0);
  },
  60_000,
);

it('ten blocks while degraded open one incident, in Redis only: the fallback gave them back unprocessed', async () => {
  // The fallback holds the ten in its reorder buffer (its time stays within the lateness of the
  // held round). Sent to Redis and left there as well, the fallback processed them once its
  // time moved on after the return and opened its own incident (a second firing line, another
  // alert id, with Redis's on the round's 5 and the same 10). Before the record: one line, the
  // fallback's (Redis had 5).
  const { firing, state } = await run(
    'drop',
    { before: 0, inRound: 5, degraded: 10, after: 1 },
    60 * SEC,
    undefined,
    true,
  );
  expect(firing).toEqual(memoryFiring(16));
  expect(state.degradedResent).toBe(10);
  expect(state.degradedNotResent).toBe(0);
}, 60_000);

it('the round of the degraded events fails before its writes: held, and counted in Redis on the next return', async () => {
  // The held round lands on the return; the next (the 5 given back) is cut at its clock call.
  // They are held as a failed round's batch (the held one before them is in Redis already) and
  // resent on the next return: ten in Redis, one line. Handed to the local engine instead, as
  // a round that fails before any write is, they were split from the held batch again: no line.
  const { firing, state } = await run(
    'drop',
    { before: 0, inRound: 5, degraded: 5, after: 0 },
    60 * SEC,
    'record',
    true,
  );
  expect(state.degradedEpisodes).toBe(2);
  expect(firing).toEqual(memoryFiring(10));
  expect(state.resent).toBe(10);
  expect(state.degradedResent).toBe(0);
  expect(state.degradedEvents).toBe(5);
  expect(state.heldToLocal).toBe(0);
}, 60_000);

it("degraded events and a held round the fleet's clock left behind go to the local engine, not late into Redis", async () => {
  // While A is cut off, B (another replica, its own connection) ships a block of mallory's five
  // minutes on: the fleet's clock, and mallory's group's processed time, move past A's events by
  // more than the lateness. Shipped to Redis, the five A took while degraded were late in that
  // group and counted nowhere (10 late); they go back to A's local engine instead.
  const { server, proxy } = await held.start();
  const redis = await held.client(proxy.port);
  const direct = await held.client(server.port);
  const ruleset = freshRuleset('late-reply-count');
  const A = redisEngine(redis, defaultRules(), 60 * SEC, ruleset, options);
  const B = redisEngine(direct, defaultRules(), 60 * SEC, ruleset, { shutdownGraceMs: 0 });
  const send = (i: number) => A.engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
  A.engine.ingest(ev(block(T0 - SEC, 'alice')).event, T0 - SEC);
  await A.engine.forceFlush();
  proxy.arm('drop');
  for (let i = 0; i < 5; i++) send(i);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('degraded');
  for (let i = 5; i < 10; i++) send(i);
  B.engine.ingest(ev(block(T0 + 5 * MIN, 'mallory')).event, T0 + 5 * MIN);
  await B.engine.forceFlush();
  await until(() => A.engine.stats.state?.mode === 'shared', HANG_MS);
  await A.engine.forceFlush();
  A.engine.advanceTo(T0 + 20 * MIN);
  await A.engine.forceFlush();
  const state = A.engine.stats.state!;
  expect(state.degradedResent).toBe(0);
  expect(state.degradedNotResent).toBe(5);
  // The held round's five, late in that group too (its write never landed), go to the local
  // engine as well (late-resend.ts): before, they were dropped as late there, counted nowhere
  // (5 late), and mallory's ten blocks in ten seconds opened nothing (no firing line).
  expect(A.engine.stats.droppedLate).toBe(0);
  expect(state.heldToLocal).toBe(5);
  expect(state.resent).toBe(5);
  expect(firing(A.alerts)).toHaveLength(1);
  expect(firing(B.alerts)).toHaveLength(0);
  await A.engine.shutdown();
  await B.engine.shutdown();
}, 60_000);

it('N - 1 blocks around the late reply open nothing; N open one incident', async () => {
  // A resend counted again would make 5 + 3 + 3 + 1 = 12.
  const under = await run('hold', { before: 5, inRound: 3, degraded: 0, after: 1 });
  expect(under.firing).toEqual([]);
  expect(under.state.resent).toBe(3);
  await held.stop();
  const at = await run('hold', { before: 5, inRound: 3, degraded: 0, after: 2 });
  expect(at.firing).toHaveLength(1);
}, 120_000);

it("a write cut before reaching Redis: the round's events count in Redis once it answers", async () => {
  // Before: Redis 5 + 2, the fallback 3: neither reached ten (the alert lost). Now the round's
  // three are resent: Redis holds all ten.
  const { firing, state } = await run('drop', { before: 5, inRound: 3, degraded: 0, after: 2 });
  expect(firing).toHaveLength(1);
  expect(state.resent).toBe(3);
  expect(state.duplicates).toBe(0);
}, 60_000);

it('a resent round whose events were processed (ids past the last 32) counts none of them again', async () => {
  // Lateness 0: the landed write processed all 40 at once; the group's recent ids hold the last
  // 32, the other 8 are older than its processed time. All 40 are repeats, none late. (One
  // block shipped first: the proxy knows the write by its script's hash, sent once loaded.)
  const { firing, state, late } = await run('hold', { before: 1, inRound: 40, degraded: 0, after: 0 }, 0);
  expect(firing).toHaveLength(1);
  expect(late).toBe(0);
  expect(state.resent).toBe(40);
  expect(state.duplicates).toBe(40);
  expect(state.heldToLocal).toBe(0);
}, 60_000);

it('Redis still down: the held round goes to the local engine before newer events would make it late there', async () => {
  const { proxy } = await held.start();
  const redis = await held.client(proxy.port);
  const A = redisEngine(redis, defaultRules(), 60 * SEC, freshRuleset('late-reply-count'), options);
  const send = (at: number) => A.engine.ingest(ev(block(at, 'mallory')).event, at);
  send(T0);
  await A.engine.forceFlush();
  proxy.arm('hold'); // never released: every later reply on the connection waits, probes time out
  for (let i = 1; i < 10; i++) send(T0 + i * SEC);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('degraded');
  expect(A.engine.stats.state?.degradedEvents).toBe(0); // held
  // Two minutes on: past the oldest held by the lateness (60 s), so they go to the fallback first.
  send(T0 + 2 * MIN);
  expect(A.engine.stats.state?.heldToLocal).toBe(9);
  expect(A.engine.stats.state?.degradedEvents).toBe(10);
  A.engine.advanceTo(T0 + 4 * MIN);
  // The fallback holds the nine and the tenth: ten blocks in ten minutes, one incident. Had the
  // nine stayed held, they were late there by the time they went (at shutdown): none.
  expect(firing(A.alerts)).toHaveLength(1);
  expect(A.engine.stats.droppedLate).toBe(0);
  await A.engine.shutdown();
}, 60_000);
