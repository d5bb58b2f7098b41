import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '@llmsec/core';
import { replayFileOnTwoThreads, replayReaderFrom, startReplayReader } from '../src/replay.ts';

/**
 * Reader threads on byte ranges (replay-split.ts) killed mid-way, after the engine's side was
 * fed: the replay rejects with the thread's exit, never resolves as if the file ended there
 * (a replay's summary and alerts over part of the log, exit 0). A guard: it passed when written.
 */

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-ranges-dies-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EVENTS = 40_000;

describe('replay on byte ranges, a reader thread killed mid-way', () => {
  it('rejects with the exit after part was fed', async () => {
    const lines: string[] = [];
    for (let i = 0; i < EVENTS; i++) {
      lines.push(
        encodeEvent({
          event_id: `EVT-${i}`,
          timestamp: new Date(Date.UTC(2026, 10, 22, 10, 0, 0, i)).toISOString(),
          category: 'guardrail_block',
          severity: 'warning',
          user_id: `user-${i % 97}`,
        }),
      );
    }
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
  });
});
