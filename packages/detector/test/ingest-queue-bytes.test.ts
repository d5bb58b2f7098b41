// The ingest queue bounded in bytes, not only in events: while the engine's consumer is behind
// (a Redis state flusher at its high-water mark) the queue fills, and events filled to core's
// caps hold far more than the "few KB" queue_capacity was sized for. Measured in a child process
// (--expose-gc, fixtures/queue-memory.ts) with real protobuf requests: each event's 16 metadata
// values of 8,000 characters, cut to 1,024 by core's caps, held all 8,000 (a V8 slice keeps its
// parent): ~150 KB per queued event before, ~26 KB after; and an export past
// queue_max_bytes is refused (overloaded: 429 / RESOURCE_EXHAUSTED, retried).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const FIXTURE = fileURLToPath(new URL('./fixtures/queue-memory.ts', import.meta.url));

interface Measured {
  queued: number;
  refused: number;
  heldBytes: number;
  heapBytes: number;
  heapBytesPerEvent: number;
}

async function measure(args: number[]): Promise<Measured> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--conditions=@llmsec/source', FIXTURE, ...args.map(String)],
    { timeout: 110_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Measured;
}

describe('the ingest queue in bytes', () => {
  it(
    'holds a queued event at its cut size, within the estimate it counts',
    { timeout: 120_000 },
    async () => {
      // 20 requests of 5 records, 16 values of 8,000 characters each; no byte cap in the way.
      const m = await measure([20, 5, 16, 8_000, 1024 ** 3]);
      expect(m.queued).toBe(100);
      expect(m.heapBytesPerEvent).toBeLessThan(48_000); // before: ~150,000 (the whole values)
      expect(m.heapBytes).toBeLessThan(m.heldBytes); // the estimate bounds what is held
    },
  );

  it('refuses an export past queue_max_bytes (the queue not draining)', { timeout: 120_000 }, async () => {
    const m = await measure([20, 5, 16, 8_000, 1024 * 1024]);
    expect(m.refused).toBeGreaterThan(0); // before: none, whatever the bytes
    // The first export is taken into an empty queue whatever its size; then at most the cap.
    expect(m.heldBytes).toBeLessThanOrEqual(1024 * 1024);
    expect(m.queued).toBeGreaterThan(0);
  });
});
