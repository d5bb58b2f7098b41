// `state: redis://host:port/N` with N a database the server lacks (16 by default): ioredis's
// SELECT failed with an 'error' event only and the client came up on database 0, so the
// detector started ("state redis error" then "state redis reachable again") and kept the
// fleet's detection state in database 0, beside whatever lives there. A start-time mistake in
// the configuration: now exit 2 naming it, before anything listens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { runDetectorCli } from './process-support.ts';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('llmsec detector --state naming a database Redis lacks', () => {
  it('exits 2 at start, naming the URL and Redis’s answer', async () => {
    const run = await runDetectorCli([
      '--state',
      `${redis.url}/99`,
      '--otlp-http',
      '127.0.0.1:0',
      '--otlp-grpc',
      '127.0.0.1:0',
    ]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`state: ${redis.url}/99: ERR DB index is out of range`);
    expect(run.stderr).not.toContain('detector started');
  }, 30_000);
});
