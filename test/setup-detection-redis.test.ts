import { describe, expect, it } from 'vitest';
import type { Alert } from '@llmsec/core';
import { DetectionEngine, RedisDetectionState } from '@llmsec/detect';
import { setupLlmsec, type LlmsecSetup } from '@llmsec/sdk';
import { useRedis } from './support/redis-per-file.ts';

/**
 * `setupLlmsec({ detection })`: two app "replicas" (two setups, as two processes would have),
 * each with its own engine on the shared Redis state; a user whose ten blocked requests are
 * split between them is caught once, and setup's forceFlush / shutdown drive the engine.
 */

const db = useRedis();

describe('setupLlmsec({ detection }) on shared Redis state', () => {
  it('ten blocks split over two replicas fire rapid_guardrail_blocks once', async () => {
    const alerts: Alert[] = [];
    const ruleset = `setup-${process.pid}-${Date.now()}`;
    const replicas: LlmsecSetup[] = [0, 1].map((i) =>
      setupLlmsec({
        serviceName: `chat-${i}`,
        otlp: false,
        prometheus: false,
        registerGlobal: false,
        // Events of one user reach the two replicas interleaved: the allowed lateness (5 s by
        // default) orders them in the shared state; shutdown() processes what is held.
        detection: new DetectionEngine({
          state: new RedisDetectionState({ redis: db.redis, ruleset, commandTimeoutMs: 5_000 }),
          onAlert: (a) => alerts.push(a),
        }),
      }),
    );
    for (let i = 0; i < 10; i++) {
      replicas[i % 2]!.events.guardrailBlock({ userId: 'mallory', layer: 'injection', reason: 'jailbreak' });
    }
    await Promise.all(replicas.map((r) => r.forceFlush()));
    await Promise.all(replicas.map((r) => r.shutdown()));
    expect(alerts.filter((a) => a.rule === 'rapid_guardrail_blocks').map((a) => a.status)).toEqual([
      'firing',
    ]);
    expect(alerts.find((a) => a.rule === 'rapid_guardrail_blocks')!.user_ids).toEqual(['mallory']);
  });

  it('rejects a detection option that is not an engine', () => {
    expect(() =>
      setupLlmsec({ serviceName: 'x', otlp: false, prometheus: false, detection: {} as never }),
    ).toThrow(/detection must be a DetectionEngine/);
  });
});
