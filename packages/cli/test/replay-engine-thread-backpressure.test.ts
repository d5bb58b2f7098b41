import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { command, runReplayHere } from '../src/commands/replay.ts';
import { blockFloodFile } from './replay-io.ts';

// In place, a replay's writes to a pipe block the engine while the reader is slow; forwarded
// from the engine's thread they must not instead pile up, unbounded, in the starting thread's
// memory (an output of gigabytes into `| less`). The starting thread holds at most about
// MAX_PENDING_CHARS the engine's thread wrote and it has not written out yet.
const MAX_PENDING_CHARS = 1 << 20;

describe('llmsec replay on its engine thread, with a stdout that does not drain', () => {
  it('stops the engine thread instead of buffering its output without bound', async () => {
    // 10 blocks per user in 100 ms: one firing and one resolve per user, ~1.6 KB of output.
    const path = blockFloodFile(100_000, 'llmsec-replay-bp-');

    // A stdout whose writes complete only once released, as a pipe nobody reads.
    let handed = 0;
    let out = '';
    let held: (() => void)[] | undefined = [];
    const stdout = {
      write(chunk: string | Buffer, callback?: () => void): boolean {
        handed += chunk.length;
        out += chunk.toString();
        if (held !== undefined && callback !== undefined) held.push(callback);
        else callback?.();
        return false;
      },
    } as unknown as Writable;
    const stderr = new PassThrough().resume();
    const done = command.run([path, '--threads', '2'], { stdin: Readable.from([]), stdout, stderr });
    const deadline = Date.now() + 20_000;
    while (handed < MAX_PENDING_CHARS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1_000));
    const whileHeld = handed;
    const release = held;
    held = undefined;
    for (const callback of release) callback();
    expect(await done).toBe(0);

    const inPlace = new PassThrough();
    let expected = '';
    inPlace.on('data', (c: Buffer) => (expected += c.toString()));
    await runReplayHere([path, '--threads', '2'], {
      stdin: Readable.from([]),
      stdout: inPlace,
      stderr: new PassThrough().resume(),
    });
    expect(expected.length).toBeGreaterThan(4 * MAX_PENDING_CHARS);
    expect(out).toBe(expected);
    expect(whileHeld).toBeLessThanOrEqual(MAX_PENDING_CHARS + (256 << 10));
    // The config's 120 s, not 60 s: two replays of 100,000 lines (engine threads, in the test's
    // process) passed 60 s in the cli package's run at load ~30 on 2 cores.
  });
});
