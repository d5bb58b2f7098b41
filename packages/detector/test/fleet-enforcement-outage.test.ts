import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { RateLimiter, RedisStore } from '@llmsec/ratelimit';
import { useOutageRedis } from '../../../test/support/redis-outage.ts';
import { testTimeLeftMs } from '../../../test/support/time-left.ts';
import { until } from '../../../test/support/until.ts';
import { FleetEnforcement, type EnforcementAction } from '../src/service/fleet-enforcement.ts';
import { silentLogger } from '../src/service/log.ts';

// An alert fires once: its enforcement action was tried once, and a rate-limiter Redis down or
// slow at that moment (a restart, a failover, an attacker timing the abuse to a hiccup) left the
// user unbanned for good, the incident going on without a second firing line. Now a failed
// action is tried again with backoff until `retryForMs` after the alert, and once more at
// shutdown.

const outage = useOutageRedis();
const client = (url: string): Redis => outage.client(url);

const actions: EnforcementAction[] = [{ rule: 'system_prompt_leakage', action: 'ban' }];

function leak(user: string): Alert {
  return {
    alert_id: 'ALR-00000000000000aa',
    rule: 'system_prompt_leakage',
    severity: 'critical',
    status: 'firing',
    labels: { user_id: user },
    user_ids: [user],
    starts_at: '2026-12-06T10:00:00.000Z',
    description: 'x',
    evidence: ['EVT-1'],
  };
}

async function banned(url: string, subject: string): Promise<boolean> {
  const c = outage.client(url, { lazyConnect: true, enableOfflineQueue: true });
  await c.connect();
  const lim = new RateLimiter({
    store: new RedisStore({ client: c }),
    tiers: { t: {} },
    warmTokenizer: false,
    // The test's own look (status, 10x this): not the default 100 ms, which a loaded host's
    // Redis can exceed, and the look would throw instead of answering.
    commandTimeoutMs: 5_000,
  });
  return (await lim.status(subject)).banned;
}

function logs() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      ...silentLogger,
      warn: (m: string) => lines.push(`warn ${m}`),
      error: (m: string) => lines.push(`error ${m}`),
    },
  };
}

describe('FleetEnforcement with the rate limiter Redis away when the alert fires', () => {
  it('applies the action once Redis is back', async () => {
    const redis = await outage.start();
    const port = redis.port;
    const { lines, logger } = logs();
    // Redis killed, the client fails its calls at once (no offline queue): the timeout is not
    // what fails them. 2 s (the default), not 300 ms: the attempt once Redis is back must not
    // fail by a loaded host's Redis being slow by itself.
    const enf = new FleetEnforcement({ client: client(redis.url), actions, logger, commandTimeoutMs: 2_000 });
    await redis.kill();
    enf.send(leak('mallory'));
    // Its first attempt failed (the warning) and a retry waits: Redis comes back only then.
    await until(() => lines.length > 0, testTimeLeftMs());
    const back = await outage.start({ port });
    const start = Date.now();
    while (!(await banned(back.url, 'mallory').catch(() => false))) {
      if (Date.now() - start > 15_000)
        throw new Error(`mallory not banned 15 s after Redis came back: ${lines.join('; ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(lines[0]).toBe('warn enforcement action failed; retrying');
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
    await enf.shutdown();
  });

  it('tries a waiting action once more at shutdown, and gives it up then if Redis is still away', async () => {
    const redis = await outage.start();
    const port = redis.port;
    const { logger } = logs();
    const enforcing = client(redis.url);
    // As above: the last attempts at shutdown, Redis back, must not time out on a loaded host.
    const enf = new FleetEnforcement({ client: enforcing, actions, logger, commandTimeoutMs: 2_000 });
    await redis.kill();
    enf.send(leak('mallory'));
    enf.send(leak('trudy'));
    await enf.forceFlush(); // the first attempts failed; the retries wait on their timers
    const back = await outage.start({ port });
    // Reconnected (it retries every 50 ms, later on a loaded machine): the last attempts can land.
    await until(() => enforcing.status === 'ready', testTimeLeftMs());
    await enf.shutdown();
    expect(await banned(back.url, 'mallory')).toBe(true);
    expect(await banned(back.url, 'trudy')).toBe(true);

    // Still away at shutdown: given up, said once per action, and shutdown does not wait out the retry window.
    const second = logs();
    const enf2 = new FleetEnforcement({
      client: client(back.url),
      actions,
      logger: second.logger,
      commandTimeoutMs: 300,
    });
    await back.kill();
    enf2.send(leak('oscar'));
    await enf2.forceFlush();
    const t0 = Date.now();
    await enf2.shutdown();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(second.lines).toEqual([
      'warn enforcement action failed; retrying',
      'error enforcement action failed',
    ]);
  });
});
