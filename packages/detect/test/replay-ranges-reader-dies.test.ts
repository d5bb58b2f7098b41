import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '@llmsec/core';
import { replayFileOnTwoThreads, replayReaderFrom, startReplayReader } from '../src/replay.ts';

/**
 * Reader threads on byte ranges (replay-split.ts) that fail or die mid-way. Killed after the
 * engine's side was fed: the replay rejects with the thread's exit, never resolves as if the
 * file ended there (a replay's summary and alerts over part of the log, exit 0), and says the
 * lines fed (it did not: the CLI's summary then counted the lines of its last malformed one). A reader's read error (here the file cut under it) is taken in file
 * order: the blocks before it, read by the other reader, are still fed, and the error says the
 * lines read up to it, as one reader's does (the CLI's summary printed '0 lines, 1142 events').
 */

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-ranges-dies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EVENTS = 40_000;

function eventLine(i: number): string {
  return encodeEvent({
    event_id: `EVT-${i}`,
    timestamp: new Date(Date.UTC(2026, 10, 22, 10, 0, 0, i)).toISOString(),
    category: 'guardrail_block',
    severity: 'warning',
    user_id: `user-${i % 97}`,
  });
}

describe('replay on byte ranges, a reader thread killed mid-way', () => {
  it('rejects with the exit after part was fed, saying the lines fed', async () => {
    const lines: string[] = [];
    for (let i = 0; i < EVENTS; i++) lines.push(eventLine(i));
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const started = startReplayReader(file, 1 << 20, { readers: 2, blockBytes: 64 << 10, minBytes: 0 });
    const handed = started.handOver();
    if (handed === undefined) throw new Error('reader threads did not start');
    expect(handed.link.more).toHaveLength(1);
    let events = 0;
    const outcome = await replayFileOnTwoThreads(
      { file, maxLineBytes: 1 << 20, rules: undefined },
      {
        onEvent: () => {
          // At the first event: both threads terminated (their ports stay open, taken).
          if (events++ === 0) started.close();
        },
        onMalformed: () => {},
        onOverlong: () => {},
      },
      replayReaderFrom(handed.link),
    ).then(
      (read) => read,
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/replay reader thread exited with code 1/);
    expect(events).toBeGreaterThan(0);
    expect(events).toBeLessThan(EVENTS);
    // The lines of what was fed (every line an event), for the summary before the error.
    expect((outcome as { lines?: number }).lines).toBe(events);
  });

  it('a read error waits for its turn in file order and says the lines read up to it', async () => {
    const B = 64 << 10;
    const text = `${Array.from({ length: EVENTS }, (_, i) => eventLine(i)).join('\n')}\n`;
    const file = join(dir, 'cut.jsonl');
    writeFileSync(file, text);
    // The lines starting in blocks 0-2 (readers 0, 1, 0); block 3 is reader 1's, cut in its middle.
    let before = 0;
    for (let at = 0; at < 3 * B; at = text.indexOf('\n', at) + 1) before++;
    let events = 0;
    const replay = replayFileOnTwoThreads(
      { file, maxLineBytes: 1 << 20, rules: undefined, split: { readers: 2, blockBytes: B, minBytes: 0 } },
      { onEvent: () => events++, onMalformed: () => {}, onOverlong: () => {} },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Planned (synchronously, in the call) at the whole size; cut before the threads, which
    // load their modules first, read anything.
    truncateSync(file, 3 * B + B / 2);
    const err = await replay;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/shrank below the \d+ bytes it had when the replay began/);
    // Block 3 holds fewer lines than a batch: nothing of it was fed.
    expect(events).toBe(before);
    expect((err as { lines?: number }).lines).toBe(before);
  });
});
