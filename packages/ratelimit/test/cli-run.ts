// `llmsec ...` run in this process (the cli package's runCli) with its output captured, and the
// real Redis it works on: what the `llmsec limits` tests call.
import { PassThrough, Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { runCli } from '../../cli/src/cli.ts';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(args, { stdin: Readable.from([]), stdout, stderr });
  return { code, out, err };
}

/**
 * A real Redis for the calling file's tests, started before them and stopped after, with a
 * client on it. Read `url` and `client` inside tests (they exist once beforeAll has run).
 */
export function redisForTests(): { readonly url: string; readonly client: Redis } {
  let handle: RedisHandle | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    handle = await startRedis();
    client = new Redis(handle.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await handle?.stop();
  });
  return {
    get url() {
      if (handle === undefined)
        throw new Error('redisForTests: Redis is not started yet (read it inside a test)');
      return handle.url;
    },
    get client() {
      if (client === undefined)
        throw new Error('redisForTests: Redis is not started yet (read it inside a test)');
      return client;
    },
  };
}
