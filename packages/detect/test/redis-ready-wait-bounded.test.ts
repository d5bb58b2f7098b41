import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { getFreePort } from '../../../test/support/ports.ts';
import { RedisDetectionState } from '../src/index.ts';
import { freshRuleset } from './redis-support.ts';

/**
 * A Redis that stays down while its ioredis client retries forever (ioredis's default): every
 * call made meanwhile waits for the client's ready (ReadyWait) and fails at the command timeout.
 * Those failed waits must not pile up until the client is ready again: the degraded probe makes
 * one per probeIntervalMs for as long as the outage lasts (86 400 a day at the default 1 s), and
 * each held its call, its promise and its closures (about 1 KB) until Redis came back.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const clients: Redis[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

it('calls that timed out waiting for a reconnecting client are not kept until it is ready', async () => {
  // A free port: nothing listens there.
  const client = new Redis(await getFreePort(), '127.0.0.1', {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 20, // retries forever, as ioredis's default does
  });
  client.on('error', () => {});
  client.connect().catch(() => {});
  clients.push(client);
  const state = new RedisDetectionState({
    redis: client,
    ruleset: freshRuleset('ready-wait-bounded'),
    commandTimeoutMs: 20,
    shutdownGraceMs: 0,
  });
  const round = async (n: number): Promise<void> => {
    const failed = await Promise.allSettled(Array.from({ length: n }, () => state.ping()));
    expect(failed.every((r) => r.status === 'rejected')).toBe(true);
  };
  await round(2_000); // warm-up: code paths compiled, the client retrying
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 20; i++) await round(2_000);
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  // 40 000 abandoned waits: held, they take tens of MB; released, the heap stays put.
  expect(grown).toBeLessThan(8 * 1024 * 1024);
}, 60_000);
