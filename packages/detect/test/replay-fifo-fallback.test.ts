import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '@llmsec/core';
import {
  replayFileOnTwoThreads,
  replayReaderFrom,
  ReplayThreadUnavailableError,
  startReplayReader,
  type ReplayReader,
} from '../src/replay.ts';

/**
 * A reader thread that dies having fed the engine nothing lets the replay read the file on its
 * own thread instead (ReplayThreadUnavailableError). For a regular file that is the same input
 * again; for a FIFO (or `<(zcat log.gz)`) the thread has already taken bytes out of the pipe,
 * and reading on would replay the log without its start. Here the thread is killed after it
 * took ~1 MB out of a real FIFO (the writer's write completes only once the 64 KiB pipe buffer
 * was drained), before it posted a batch (fewer lines than one batch).
 */

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-fifo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MAX_LINE = 1 << 20;

function lines(count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      encodeEvent({
        event_id: `EVT-${i}`,
        timestamp: new Date(Date.UTC(2026, 10, 22, 10, 0, i)).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: `user-${i % 7}`,
        description: 'x'.repeat(2000),
      }),
    );
  }
  return `${out.join('\n')}\n`;
}

/** The reader thread killed, with its ports handed to a reader the replay can listen on. */
function killed(reader: ReplayReader): ReplayReader {
  const handed = reader.handOver();
  if (handed === undefined) throw new Error('reader thread did not start');
  reader.close(); // taken: terminates the thread, its ports stay open (its exit comes through)
  return replayReaderFrom(handed.link);
}

async function replay(file: string, reader: ReplayReader): Promise<{ err: unknown; events: number }> {
  let events = 0;
  const err = await replayFileOnTwoThreads(
    { file, maxLineBytes: MAX_LINE, rules: undefined },
    { onEvent: () => events++, onMalformed: () => {}, onOverlong: () => {} },
    reader,
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, events };
}

describe('replay reader thread failing before it fed anything', () => {
  it('on a FIFO it read from: the replay fails, saying why, instead of reading the rest as the whole', async () => {
    const fifo = join(dir, 'events.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = startReplayReader(fifo, MAX_LINE);
    const writer = createWriteStream(fifo);
    writer.on('error', () => {}); // EPIPE once the reader is gone
    const data = lines(500); // ~1 MB, under one batch (1,024 events)
    expect(data.length).toBeGreaterThan(900_000);
    await new Promise<void>((resolve, reject) =>
      writer.write(data, (err) => (err ? reject(err) : resolve())),
    );
    // The thread is told to stop before the writer closes its end: a thread whose read of the
    // FIFO is pending in libuv's pool ends only once that read returns, and with the pipe drained
    // and the writer still open it never would (a hang under load, when the reader had already
    // taken the last bytes). Closed after the stop, the read returns (EOF) into a thread that runs
    // no more JavaScript, so nothing it read is posted.
    const handed = killed(reader);
    writer.destroy();
    const { err, events } = await replay(fifo, handed);
    expect(events).toBe(0);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ReplayThreadUnavailableError);
    expect((err as Error).message).toMatch(
      /exited with code 1, after it began reading .*events\.fifo, which is not a regular file/,
    );
  });
});
