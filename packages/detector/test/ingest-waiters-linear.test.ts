import { describe, expect, it } from 'vitest';
import { IngestQueue } from '../src/service/ingest-queue.ts';
import { TargetWaiters } from '../src/service/target-waiters.ts';
import { secEvent, T0 } from './support.ts';

// A sender making many one-record exports leaves one whenProcessed() waiter each. The queue
// settles them after every run of `chunk` events; copying the rest of the list each time was
// quadratic (N²/2·chunk moves). Counted, not timed: the copies the compaction makes.
describe('whenProcessed waiters: linear bookkeeping', () => {
  it('200,000 one-event exports, 200 processed per run: every waiter settled, under 2 moves each', async () => {
    const N = 200_000;
    let moved = 0;
    let processed = 0;
    const queue = new IngestQueue({
      capacity: N,
      chunk: 200,
      process: () => processed++,
      onError: (err) => {
        throw err;
      },
      onWaiterMove: (n) => (moved += n),
    });
    const event = secEvent({ event_id: 'e' });
    let settled = 0;
    const all: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      expect(queue.offer({ events: [event], times: [T0] })).toBe(true);
      all.push(queue.whenProcessed().then(() => void settled++));
    }
    await queue.whenIdle();
    await Promise.all(all);
    expect(processed).toBe(N);
    expect(settled).toBe(N);
    // Copying the remainder after each of the 1,000 runs moves ~N²/400 = 100,000,000.
    expect(moved).toBeLessThan(2 * N);
  });

  it('settles in order up to the count, and keeps the rest across compactions', async () => {
    let moved = 0;
    const w = new TargetWaiters((n) => (moved += n));
    const done: number[] = [];
    for (let t = 1; t <= 5000; t++) void w.wait(t).then(() => done.push(t));
    w.settle(3000); // 3,000 settled: over 1,024 and over half, so the 2,000 left are copied once
    await Promise.resolve();
    expect(done.length).toBe(3000);
    expect(done.at(-1)).toBe(3000);
    expect(w.size).toBe(2000);
    expect(moved).toBe(2000);
    w.settle(2999); // nothing new
    w.settle(5000);
    await Promise.resolve();
    expect(done).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(w.size).toBe(0);
    expect(moved).toBe(2000);
  });
});
