// Fleet enforcement writes blocks and bans from alerts, and alerts come from whatever records
// the OTLP receivers accept. Without a token, receivers on a non-loopback address accept a
// forged record naming any user from any peer that reaches them: the service now says so at
// start (a warning), and says nothing on loopback or with a token.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useRedis } from '../../../test/support/redis-per-file.ts';
import { loadConfig } from '../src/service/config.ts';
import { startDetector, type RunningDetector } from '../src/service/detector.ts';
import type { Logger } from '../src/service/log.ts';

const redis = useRedis();
let running: RunningDetector | undefined;
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

async function warningsAt(otlp: Record<string, unknown>, withEnforcement = true): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'llmsec-detector-open-'));
  const file = join(dir, 'config.json');
  const config: Record<string, unknown> = { otlp, sinks: { alerts: join(dir, 'alerts.jsonl') } };
  if (withEnforcement)
    config.enforcement = {
      redis: redis.server.url,
      actions: [{ rule: 'system_prompt_leakage', action: 'ban' }],
    };
  writeFileSync(file, JSON.stringify(config));
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn: (msg) => warnings.push(msg), error() {} };
  running = await startDetector({ config: loadConfig(file), logger });
  await running.shutdown();
  running = undefined;
  return warnings.filter((w) => w.includes('fleet enforcement'));
}

describe('detector service: fleet enforcement on open receivers without a token', () => {
  it('warns at start when a receiver listens beyond loopback', async () => {
    expect(await warningsAt({ http: '0.0.0.0:0', grpc: '127.0.0.1:0' })).toHaveLength(1);
    expect(await warningsAt({ http: '127.0.0.1:0', grpc: '0.0.0.0:0' })).toHaveLength(1);
  });

  it('is quiet on loopback, with a token, or without enforcement', async () => {
    expect(await warningsAt({ http: '127.0.0.1:0', grpc: '127.0.0.2:0' })).toEqual([]);
    expect(
      await warningsAt({ http: '0.0.0.0:0', grpc: '0.0.0.0:0', auth_token: 'a-long-enough-token' }),
    ).toEqual([]);
    expect(await warningsAt({ http: '0.0.0.0:0', grpc: '0.0.0.0:0' }, false)).toEqual([]);
  });
});
