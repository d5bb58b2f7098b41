// state_timeout: how slow a Redis state call may be before a replica falls back to local
// (degraded) detection. Redis held still for 700 ms (CLIENT PAUSE) while an export is shipped:
// with the default (250 ms) the replica degrades, with state_timeout 2s it waits and stays shared.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { loadConfig } from '../src/service/config.ts';
import { emitThrough } from './sender.ts';
import { startDetectorWith } from './service-support.ts';

let redis: RedisHandle;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

describe('detector state_timeout', () => {
  for (const [timeout, degrades] of [
    [undefined, true],
    ['2s', false],
  ] as const) {
    it(`Redis paused 700 ms during an export: ${degrades ? 'degraded' : 'still shared'} with state_timeout ${timeout ?? '(default 250ms)'}`, async () => {
      await admin.flushall();
      const { detector } = await startDetectorWith(`timeout-${timeout ?? 'default'}`, () => ({
        allowed_lateness: '0s',
        state: redis.url,
        ...(timeout !== undefined ? { state_timeout: timeout } : {}),
      }));
      try {
        expect(detector.engine.stats.state?.mode).toBe('shared');
        await admin.call('CLIENT', 'PAUSE', '700', 'ALL');
        await emitThrough(
          new ProtoLogExporter({
            url: `http://127.0.0.1:${detector.http.port}/v1/logs`,
          }) as unknown as LogRecordExporter,
          3,
          Date.now() - 10_000,
          (ev) => ev.guardrailBlock({ userId: 'alice', layer: 'input', reason: 'prompt_injection' }),
          true,
        );
        // The export was answered (shipped, or the 2 s bound); the pause is over either way.
        await new Promise((r) => setTimeout(r, 800));
        const episodes = detector.engine.stats.state?.degradedEpisodes ?? -1;
        if (degrades) expect(episodes).toBeGreaterThanOrEqual(1);
        else expect(episodes).toBe(0);
      } finally {
        await detector.shutdown();
      }
    });
  }

  it('takes 10ms to 10s, refuses other values naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-state-timeout-'));
    const file = join(dir, 'c.json');
    for (const bad of ['5ms', '11s', 0, '-1s']) {
      writeFileSync(file, JSON.stringify({ state: 'redis://127.0.0.1:1', state_timeout: bad }));
      expect(() => loadConfig(file), String(bad)).toThrow(/state_timeout/);
    }
    writeFileSync(file, JSON.stringify({ state: 'redis://127.0.0.1:1', state_timeout: '1500ms' }));
    expect(loadConfig(file).state_timeout).toBe(1500);
    expect(loadConfig(undefined).state_timeout).toBeUndefined();
  });
});
