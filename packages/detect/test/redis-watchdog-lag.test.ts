import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { RedisDetectionState, StateTimeoutError } from '../src/index.ts';
import { until } from '../../../test/support/until.ts';

/**
 * The command timeout must hold on a busy host too. A stalled Redis (process stopped, or a
 * network path that drops packets: the socket stays open, ioredis never fails the call) is
 * caught only by the watchdog. The watchdog discounts time its own checks ran late (the event
 * loop was blocked, replies may sit unread), but it used to restart the whole clock on any late
 * check, so on a host whose event loop lags at every check — a loaded machine — a stalled call
 * never timed out: detection stayed in shared mode, its queue filled and dropped events, and
 * forceFlush / shutdown (the app's close()) waited for ever.
 */

let server: RedisHandle;
let redis: Redis;
let stopped = false;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', () => {});
  await redis.connect();
});

afterAll(async () => {
  if (stopped) server.proc.child.kill('SIGCONT');
  redis?.disconnect();
  await server?.stop();
});

/**
 * A first probe answered: the connection and the SET path warm. Asked until one is answered
 * within the 250 ms timeout (a loaded host's Redis may take longer for one): a warm-up, not
 * what is tested.
 */
async function warm(state: RedisDetectionState): Promise<void> {
  await until(
    () =>
      state.ping().then(
        () => true,
        () => false,
      ),
    30_000,
  );
}

/** Blocks the event loop for `busyMs` at every turn of a timer, so every watchdog check is late. */
function lagEveryTurn(busyMs: number): () => void {
  const timer = setInterval(() => {
    const until = performance.now() + busyMs;
    while (performance.now() < until) {
      /* a host busy with other work */
    }
  }, 1);
  return () => clearInterval(timer);
}

describe('RedisDetectionState command timeout under event-loop lag', () => {
  it('a reply that waited unread while the event loop was blocked past the timeout still counts', async () => {
    const state = new RedisDetectionState({ redis, commandTimeoutMs: 250 });
    await warm(state);
    const pending = state.ping().then(
      (v) => v,
      (err: unknown) => err,
    );
    // Redis answers within a millisecond; this process reads it only after a second's block.
    const until = performance.now() + 1_000;
    while (performance.now() < until) {
      /* blocked */
    }
    expect(await pending).toBe('OK'); // the probe is a write (SET), see redis-oom-probe.test.ts
  });

  it('a call to a stalled Redis fails with StateTimeoutError although every check runs late', async () => {
    const state = new RedisDetectionState({ redis, commandTimeoutMs: 250 });
    await warm(state);
    server.proc.child.kill('SIGSTOP');
    stopped = true;
    // The watchdog checks every 50 ms; a check counts as late past 120 ms. 150 ms busy per turn
    // makes every check late, yet half of each turn (~60%) the loop is free to read replies.
    const stopLag = lagEveryTurn(150);
    try {
      const outcome = await Promise.race([
        state.ping().then(
          () => 'answered',
          (err: unknown) => err,
        ),
        // A bound on the hang (a watchdog that never fires), not on speed: the free time counted
        // is the watchdog's own measure, and a host at load 20-28 stretches its wall time.
        new Promise((r) => setTimeout(() => r('still waiting after 60 s'), 60_000)),
      ]);
      expect(outcome).toBeInstanceOf(StateTimeoutError);
    } finally {
      stopLag();
    }
  }, 90_000);
});
