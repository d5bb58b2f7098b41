// state_namespace: the key namespace of the Redis detection state. Replicas share a rule's state
// by its definition within one namespace (whatever else their rules hold), so fleets on
// different traffic that share one Redis are kept apart by giving them different namespaces;
// without one a detector uses `fleet`.
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
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** The namespaces (the part in braces up to the first ':') of the state keys in Redis. */
async function namespaces(): Promise<string[]> {
  const keys = await client.keys('llmsec:det:*');
  return [...new Set(keys.map((k) => /\{([^:}]+)/.exec(k)![1]!))].sort();
}

describe('detector state_namespace', () => {
  it('puts the shared state under the namespace given, else under fleet', async () => {
    for (const [tag, ns] of [
      ['ns-a', 'team-a'],
      ['ns-default', undefined],
    ] as const) {
      const { detector } = await startDetectorWith(tag, () => ({
        allowed_lateness: '0s',
        state: redis.url,
        ...(ns !== undefined ? { state_namespace: ns } : {}),
      }));
      await emitThrough(
        new ProtoLogExporter({
          url: `http://127.0.0.1:${detector.http.port}/v1/logs`,
        }) as unknown as LogRecordExporter,
        7,
        Date.now() - 10_000,
        (ev) => ev.guardrailBlock({ userId: 'alice', layer: 'input', reason: 'prompt_injection' }),
        true,
      );
      await detector.shutdown();
    }
    expect(await namespaces()).toEqual(['fleet', 'team-a']);
  });

  it('refuses a namespace that could break a key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmsec-ns-'));
    for (const bad of ['', 'a{b}', 'has space', 'x'.repeat(65)]) {
      const file = join(dir, 'c.json');
      writeFileSync(file, JSON.stringify({ state: 'redis://127.0.0.1:1', state_namespace: bad }));
      expect(() => loadConfig(file)).toThrow(/state_namespace.*1-64 characters/);
    }
    expect(loadConfig(undefined).state_namespace).toBeUndefined();
  });
});
