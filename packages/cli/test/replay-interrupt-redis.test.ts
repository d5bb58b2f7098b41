// `llmsec replay --state redis://…` and `--shards N` interrupted by SIGINT / SIGTERM (see
// replay-interrupt.test.ts): the same honest end with the state in Redis, the reader thread
// started ahead on the main thread; and shards, each a process that gets the signal (as a
// terminal's Ctrl-C reaches every process of the group): each prints its alerts and summary and
// exits 130 without waiting at the shard barriers for the others (its counts said partial).
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import { expectInterrupted, fedReplay } from './replay-interrupt-run.ts';

let server: RedisHandle;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.stop();
});

describe('llmsec replay with state in Redis, interrupted by a signal', () => {
  it('SIGTERM on a FILE read by the reader thread: the alerts so far, the summary, exit 143', async () => {
    const replay = fedReplay(['--state', server.url], 'fifo');
    await replay.output;
    replay.child.kill('SIGTERM');
    const run = await replay.finished;
    expectInterrupted(run, 'SIGTERM');
    // A CLI process started from sources: 38 s once in a loaded package run, 60 s hit in another.
  }, 300_000);

  it('2 shards, both sent SIGINT: each prints its alerts and summary and exits 130', async () => {
    const ruleset = `interrupt-${process.pid}-${Date.now()}`;
    const shards = ['a', 'b'].map((users) =>
      fedReplay(['--state', server.url, '--ruleset', ruleset, '--shards', '2'], 'stdin', users),
    );
    await Promise.race(shards.map((s) => s.output));
    for (const s of shards) s.child.kill('SIGINT');
    for (const run of await Promise.all(shards.map((s) => s.finished))) {
      // A shard signalled before its first line is interrupted after 0 lines: not this one's
      // case, both are fed from the start and pace each other.
      expectInterrupted(run, 'SIGINT');
    }
  }, 300_000);
});
