// state_timeout: how slow a Redis state call may be before a replica falls back to local
// (degraded) detection. Redis holds the detector's state calls (CLIENT PAUSE WRITE) while an
// export is shipped: with the default (250 ms) the replica degrades, with state_timeout 2s a
// call held 700 ms waits and the replica stays shared.
//
// The hold starts once a state call is seen waiting in Redis and ends when the test says so
// (CLIENT UNPAUSE), not after a fixed 700 ms from before the export: on a loaded host the
// export reached the detector after that pause had run out, nothing waited, and the default
// case did not degrade.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { until } from '../../../test/support/until.ts';
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

/** Commands Redis holds back (the pause's, as a blocking call's): `blocked_clients` of INFO. */
async function heldCalls(): Promise<number> {
  return Number(/blocked_clients:(\d+)/.exec(await admin.info('clients'))?.[1] ?? 0);
}

describe('detector state_timeout', () => {
  for (const [timeout, degrades] of [
    [undefined, true],
    ['2s', false],
  ] as const) {
    it(`Redis holding a state call during an export: ${degrades ? 'degraded' : 'still shared after 700 ms'} with state_timeout ${timeout ?? '(default 250ms)'}`, async () => {
      await admin.flushall();
      const { detector } = await startDetectorWith(`timeout-${timeout ?? 'default'}`, () => ({
        allowed_lateness: '0s',
        state: redis.url,
        ...(timeout !== undefined ? { state_timeout: timeout } : {}),
      }));
      try {
        expect(detector.engine.stats.state?.mode).toBe('shared');
        const episodes = (): number => detector.engine.stats.state?.degradedEpisodes ?? -1;
        // Writes (the state's scripts) wait; INFO and UNPAUSE still answer. 30 s: a bound only.
        await admin.call('CLIENT', 'PAUSE', '30000', 'WRITE');
        let sent: Promise<void> | undefined;
        try {
          sent = emitThrough(
            new ProtoLogExporter({
              url: `http://127.0.0.1:${detector.http.port}/v1/logs`,
            }) as unknown as LogRecordExporter,
            3,
            Date.now() - 10_000,
            (ev) => ev.guardrailBlock({ userId: 'alice', layer: 'input', reason: 'prompt_injection' }),
            true,
          );
          await until(async () => (await heldCalls()) > 0, 20_000);
          // Degrading: the held call timed out (250 ms). Not: the call waits on past 700 ms.
          if (degrades) await until(() => episodes() >= 1, 20_000);
          else await new Promise((r) => setTimeout(r, 700));
        } finally {
          await admin.call('CLIENT', 'UNPAUSE');
        }
        // Answered once shipped (or degraded); the hold is over either way.
        await sent;
        if (degrades) expect(episodes()).toBeGreaterThanOrEqual(1);
        else {
          expect(episodes()).toBe(0);
          expect(detector.engine.stats.state?.mode).toBe('shared');
        }
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
