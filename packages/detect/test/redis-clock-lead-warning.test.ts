/**
 * A replica's clock ahead of the Redis server's by more than maxClockSkewMs: since the shared
 * clock is held to the server's (TIME), events stamped by this host's time wait and alerts come
 * that much later. One of the two clocks is wrong (this host's, or the Redis server's, e.g. a
 * Docker VM's after the host slept, which makes every replica "ahead"), and nothing said so:
 * a fleet on a Redis whose clock lagged a minute alerted a minute late without a word. Now a
 * diag warning names the lead, at most every 10 minutes while it lasts; a host in step says
 * nothing.
 */
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { DetectionEngine, RedisDetectionState, defaultRules } from '../src/index.ts';
import { freshRuleset } from './redis-support.ts';
import { injectionBlock } from './helpers.ts';

const db = useRedis();
const warnings: string[] = [];

beforeAll(() => {
  const logger: DiagLogger = {
    error: () => undefined,
    warn: (message: string) => void warnings.push(message),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  };
  diag.setLogger(logger, DiagLogLevel.WARN);
});

afterEach(() => {
  warnings.length = 0;
});

afterAll(() => {
  diag.disable();
});

function engineWithClock(offsetMs: number): DetectionEngine {
  const state = new RedisDetectionState({
    redis: db.redis,
    ruleset: freshRuleset('lead'),
    commandTimeoutMs: 5_000,
    now: () => Date.now() + offsetMs,
  });
  return new DetectionEngine({ rules: defaultRules(), allowedLatenessMs: 10_000, state });
}

const leadWarnings = (): string[] => warnings.filter((w) => w.includes('ahead of the Redis server'));

describe('RedisDetectionState: a host clock ahead of the Redis server’s', () => {
  it('is said once, naming the lead, while it lasts', async () => {
    const engine = engineWithClock(60_000);
    for (let round = 0; round < 3; round++) {
      const t = Date.now();
      engine.ingest(injectionBlock(`EVT-${round}`, 'mallory', t), t);
      await engine.forceFlush();
    }
    await engine.shutdown();
    const said = leadWarnings();
    expect(said).toHaveLength(1);
    const ms = Number(/clock is (\d+) ms ahead/.exec(said[0]!)?.[1]);
    expect(ms).toBeGreaterThan(55_000);
    expect(ms).toBeLessThan(65_000);
    expect(said[0]).toContain('maxClockSkewMs 1000');
  });

  it('a host in step says nothing', async () => {
    const engine = engineWithClock(0);
    const t = Date.now();
    engine.ingest(injectionBlock('EVT-step', 'mallory', t), t);
    await engine.forceFlush();
    await engine.shutdown();
    expect(leadWarnings()).toEqual([]);
  });
});
