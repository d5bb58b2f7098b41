// A state URL naming a database Redis lacks stops the start (ae684e9), but only when Redis
// answers within the start's wait. A Redis that came up later (the detector started first, as
// containers do) failed the SELECT with an 'error' event only, and the client went on, on
// database 0: the fleet's detection state beside whatever lives there, one log line of it. Now
// the client is closed on that answer and the caller told (the detector logs it as an error):
// the state stays degraded, detecting locally, until the URL is fixed.
import { afterEach, describe, expect, it } from 'vitest';
import { getFreePort } from '../../../test/support/ports.ts';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { chooseState, type StateChoice } from '../src/service/state.ts';

let redis: RedisHandle | undefined;
let state: StateChoice | undefined;
afterEach(async () => {
  await state?.close();
  await redis?.stop();
  state = redis = undefined;
});

describe('chooseState: a database Redis lacks, Redis up only after the start', () => {
  it('closes the client and reports the URL without its password', async () => {
    const port = await getFreePort();
    const reports: string[] = [];
    let notConnected = false;
    state = await chooseState(`redis://:s3cret@127.0.0.1:${port}/99`, {
      connectTimeoutMs: 100,
      onNotConnected: () => (notConnected = true),
      onBadDatabase: (message) => reports.push(message),
    });
    expect(notConnected).toBe(true);
    redis = await startRedis({ port });
    for (let i = 0; i < 100 && reports.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(reports).toEqual([
      `state: redis://:***@127.0.0.1:${port}/99: ERR DB index is out of range; the client is closed: fix the URL and restart`,
    ]);
    // Closed for good: not connected to database 0 some time later.
    await new Promise((r) => setTimeout(r, 300));
    expect(state.reachable()).toBe(false);
  }, 30_000);
});
