import { expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { until } from '../../../test/support/until.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, MIN, SEC, T0 } from './helpers.ts';
import { useHeldReplyRedis } from './reply-hold-proxy.ts';
import { freshRuleset, memoryAlerts, redisEngine } from './redis-support.ts';

/**
 * Two replicas on one redis-server, and another replica's round in the gap between a round's
 * clock call and its group writes. Replica A ships one batch whose events span more than the
 * allowed lateness (an export of a recorded log). A round used to move the fleet's clock to its
 * batch's newest event first and write the groups after: B's round in between read that clock
 * and released mallory's group up to it less the lateness, and A's older events then found the
 * group processed past them and were dropped as late (9 late, rapid_guardrail_blocks lost).
 * One process never has the gap. A round now moves the clock no further than its oldest event
 * plus the lateness, and the rest once its groups are written (SharedEngine.ship).
 *
 * The gap is made, not waited for: a proxy holds Redis's reply to A's clock call (the call has
 * reached Redis) while B's round runs.
 */

const held = useHeldReplyRedis();
const LATENESS = 60 * SEC;
/** A bound on a hang only. */
const HANG_MS = 20_000;

const firing = (alerts: Alert[]) =>
  alerts.filter((a) => a.rule === 'rapid_guardrail_blocks' && a.status === 'firing');

it("another replica's round between a round's clock call and its writes: no event of the batch late", async () => {
  const { server, proxy } = await held.start();
  const viaProxy = await held.client(proxy.port);
  const direct = await held.client(server.port);
  const look = await held.client(server.port);
  const ruleset = freshRuleset('clock-gap');
  // A's reply is held while B's round runs: a timeout well past that round on a loaded host,
  // so A does not degrade (this test is about the gap, not the timeout).
  const options = { shutdownGraceMs: 0, commandTimeoutMs: HANG_MS };
  const A = redisEngine(viaProxy, defaultRules(), LATENESS, ruleset, options);
  const B = redisEngine(direct, defaultRules(), LATENESS, ruleset, options);
  const clockKey = `llmsec:det:{${ruleset}}:clock`;

  // B ships mallory's first block: pending in her group, B's to release.
  const events = [ev(block(T0, 'mallory'))];
  B.engine.ingest(events[0]!.event, T0);
  await B.engine.forceFlush();
  expect(await look.get(clockKey)).toBe(String(T0));

  // A's one batch: mallory's next nine blocks, and bob's five minutes on.
  const batch = [];
  for (let i = 1; i < 10; i++) batch.push(ev(block(T0 + i * SEC, 'mallory')));
  batch.push(ev(block(T0 + 5 * MIN, 'bob')));
  events.push(...batch);
  proxy.arm('hold', 'clock');
  for (const e of batch) A.engine.ingest(e.event, e.t);
  const aFlush = A.engine.forceFlush();
  // A's clock call has reached Redis (the clock moved); its reply, and A's writes, wait.
  await until(async () => Number(await look.get(clockKey)) > T0, HANG_MS);

  // B's round (a tick that declares nothing newer) reads the clock and releases what is due.
  B.engine.advanceTo(T0);
  await B.engine.forceFlush();

  proxy.release();
  await aFlush;
  expect(A.engine.stats.droppedLate).toBe(0);
  expect(B.engine.stats.droppedLate).toBe(0);
  for (const x of [A, B]) x.engine.advanceTo(T0 + 20 * MIN);
  await Promise.all([A.engine.forceFlush(), B.engine.forceFlush()]);
  await Promise.all([A.engine.shutdown(), B.engine.shutdown()]);
  expect(A.engine.stats.droppedLate + B.engine.stats.droppedLate).toBe(0);
  // One process's answer: mallory's ten blocks in ten seconds, one incident from her tenth.
  const one = firing(memoryAlerts(defaultRules(), events, LATENESS));
  expect(one.map((a) => a.starts_at)).toEqual([new Date(T0 + 9 * SEC).toISOString()]);
  const fleet = firing([...A.alerts, ...B.alerts]);
  expect(fleet.map((a) => [a.alert_id, a.starts_at])).toEqual(one.map((a) => [a.alert_id, a.starts_at]));
}, 60_000);
