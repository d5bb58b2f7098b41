// The ingest queue's byte estimate (service/event-bytes.ts) is a bound only if it is at least
// what a queued event holds, for every shape a sender can give an event, not only the long
// metadata strings of ingest-queue-bytes.test.ts. Measured in a child process (--expose-gc,
// fixtures/queue-memory-shapes.ts): the heap held by the queued events against the estimate.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testTimeLeftMs } from '../../../test/support/time-left.ts';

const run = promisify(execFile);
const FIXTURE = fileURLToPath(new URL('./fixtures/queue-memory-shapes.ts', import.meta.url));

interface Measured {
  queued: number;
  heldBytes: number;
  heapBytes: number;
}

async function measure(args: (string | number)[]): Promise<Measured> {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--conditions=@llmsec/source', FIXTURE, ...args.map(String)],
    // A bound on a hung child only: what is left of the test's timeout.
    { timeout: testTimeLeftMs() },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Measured;
}

describe('the ingest queue byte estimate, per shape', () => {
  it(
    "a GenAI span's long error.type: the 128 characters kept do not hold the whole value",
    { timeout: 120_000 },
    async () => {
      const m = await measure(['errtype', 20, 50]);
      expect(m.queued).toBe(1000);
      // Before: 60,794 bytes held per event (the 60,000-character value) for 1,324 estimated.
      expect(m.heapBytes).toBeLessThan(m.heldBytes);
      expect(m.heapBytes / m.queued).toBeLessThan(4_000);
    },
  );

  // Before: 8 keys held 1,342 bytes an event for 1,035 estimated; after, 1,335 for 1,867
  // (96 keys: 10,297 for 15,746; 256: 22,871 for 41,059). One test per count: the child of
  // 256 keys alone takes 8.8 s of CPU (8 keys 1.4 s), 86 s of wall at load 20 on 2 cores, and
  // the four in one test passed its 120 s at load 20-30.
  for (const keys of [8, 96, 200, 256]) {
    it(`metadata entries of names of their own (numbers): ${keys} keys`, { timeout: 300_000 }, async () => {
      const m = await measure(['numkeys', 40, 100, keys]);
      expect(m.queued).toBe(4000);
      expect(m.heapBytes, `${keys} keys`).toBeLessThan(m.heldBytes);
    });
  }
});
