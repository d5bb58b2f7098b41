// replayFileOnTwoThreads ended by its options' signal (llmsec replay's Ctrl-C): it rejects at
// once with ReplayAbortedError and the lines of the events fed, even while the reader thread is
// blocked reading a FIFO whose writer neither writes nor closes (the reader's own end would
// never come: a worker cannot be stopped in that read).
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { encodeEvent } from '@llmsec/core';
import { ReplayAbortedError, replayFileOnTwoThreads } from '../src/replay.ts';

const dir = mkdtempSync(join(tmpdir(), 'llmsec-replay-abort-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('an abort ends the replay at once with the lines fed, the reader blocked on a silent FIFO', async () => {
  const fifo = join(dir, 'events.fifo');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  const LINES = 3_000;
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) {
    lines.push(
      encodeEvent({
        event_id: `e${i}`,
        timestamp: new Date(Date.parse('2026-11-22T10:00:00.000Z') + i).toISOString(),
        category: 'guardrail_block',
        severity: 'warning',
        user_id: `u${i % 7}`,
        metadata: { guardrail_layer: 'injection', block_reason: 'jailbreak' },
      }),
    );
  }
  // Written whole, then the FIFO stays open: the reader waits for more that never comes.
  const writer = createWriteStream(fifo);
  // The reader ended, what was not read yet has nowhere to go.
  writer.on('error', () => undefined);
  writer.write(`${lines.join('\n')}\n`);
  const abort = new AbortController();
  let events = 0;
  const replay = replayFileOnTwoThreads(
    { file: fifo, maxLineBytes: 1 << 20, rules: undefined, signal: abort.signal },
    {
      onEvent: () => {
        // From the event loop once events come, as a signal handler would.
        if (++events === 1) setImmediate(() => abort.abort());
      },
      onMalformed: (n, reason) => expect.fail(`line ${n}: ${reason}`),
      onOverlong: (n) => expect.fail(`line ${n} over-long`),
    },
  );
  try {
    const err = await replay.then(
      () => expect.fail('resolved without the end of its input'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplayAbortedError);
    // Every line an event: the lines said are those of the events fed, no more.
    expect(events).toBeGreaterThan(0);
    expect((err as ReplayAbortedError).lines).toBe(events);
  } finally {
    writer.end();
  }
}, 30_000);
