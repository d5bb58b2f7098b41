import type { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { until } from '../../../test/support/until.ts';
import { defaultRules } from '../src/index.ts';
import { block, ev, MIN, SEC, T0 } from './helpers.ts';
import { heldReplyClient, replyHoldProxy, type ReplyHoldProxy } from './reply-hold-proxy.ts';
import { freshRuleset, redisEngine } from './redis-support.ts';

/**
 * A failed round's batch held for its resend (HeldBatch) whose resend fails in turn before any
 * group write is sent (the round's clock call): its first writes may still have landed, so the
 * batch is held again. Handed to the fallback because the resend sent no write, the events of
 * the first round's landed write counted twice, in Redis and locally (a second incident).
 *
 * rapid_guardrail_blocks (10 blocks in 10 minutes) on a real redis-server behind a proxy.
 */

let server: RedisHandle | undefined;
let proxy: ReplyHoldProxy | undefined;
const clients: Redis[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await proxy?.close();
  proxy = undefined;
  await server?.stop();
  server = undefined;
});

const firing = (alerts: Alert[]) =>
  alerts.filter((a) => a.rule === 'rapid_guardrail_blocks' && a.status === 'firing').map((a) => a.alert_id);

it('a resend that fails before its first write keeps the batch held: one incident, one firing line', async () => {
  server = await startRedis();
  const p = (proxy = await replyHoldProxy(server.port));
  const redis = await heldReplyClient(p.port);
  clients.push(redis);
  const A = redisEngine(redis, defaultRules(), 60 * SEC, freshRuleset('resend-fails'), {
    commandTimeoutMs: 250,
    probeIntervalMs: 100,
    shutdownGraceMs: 0,
  });
  let i = 0;
  const send = (count: number) => {
    for (let k = 0; k < count; k++, i++)
      A.engine.ingest(ev(block(T0 + i * SEC, 'mallory')).event, T0 + i * SEC);
  };
  send(5);
  await A.engine.forceFlush();
  p.arm('hold'); // the round's write lands, its reply comes after the timeout: held for a resend
  send(5);
  await A.engine.forceFlush();
  expect(A.engine.stats.state?.mode).toBe('degraded');
  send(5); // to the fallback
  p.arm('drop', 'clock'); // the resend round's first call is cut: no write of it sent
  p.release();
  await until(() => (A.engine.stats.state?.degradedEpisodes ?? 0) >= 2, 10_000);
  await until(() => A.engine.stats.state?.mode === 'shared', 10_000);
  await A.engine.forceFlush();
  A.engine.advanceTo(T0 + 20 * MIN);
  await A.engine.forceFlush();
  const state = A.engine.stats.state!;
  await A.engine.shutdown();
  // Redis holds 5 + 5 (the incident opens there); the fallback the 5 sent while degraded.
  // Before: the resend's 5 went to the fallback too, ten there, a second incident.
  expect(state.degradedEpisodes).toBe(2);
  expect(firing(A.alerts)).toHaveLength(1);
  expect(state.resent).toBe(5);
  expect(state.duplicates).toBe(5);
  expect(state.heldToLocal).toBe(0);
}, 30_000);
