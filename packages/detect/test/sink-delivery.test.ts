import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '@llmsec/core';
import { DeliveryQueue } from '../src/sinks/delivery-queue.ts';
import { postJson } from '../src/sinks/http-post.ts';
import { notificationCounter } from '../src/sinks/notification-counter.ts';
import { fakeFetch, testMetrics } from './sink-support.ts';

const METRIC = 'llmsec.alert.notifications';

function setup(
  respond: (url: string, call: number) => number,
  overrides: { maxQueue?: number; maxBatch?: number; maxRetryMs?: number } = {},
) {
  const metrics = testMetrics();
  const clock = new ManualClock(1_000_000);
  const { fetch, calls } = fakeFetch(respond);
  const queue = new DeliveryQueue<{ id: string; v: number }>({
    target: 'http://am.test/api/v2/alerts',
    deliver: async (batch, signal) =>
      await postJson(fetch, 'http://am.test/api/v2/alerts', JSON.stringify(batch), {}, signal),
    maxQueue: overrides.maxQueue ?? 100,
    maxBatch: overrides.maxBatch ?? 100,
    timeoutMs: 1_000,
    maxRetryMs: overrides.maxRetryMs ?? 60_000,
    backoff: { initialMs: 1, maxMs: 4 },
    clock,
    random: seededRandom(7),
    record: notificationCounter(metrics.meter, 'test'),
  });
  const count = async (outcome: string): Promise<number> =>
    await metrics.sum(METRIC, { sink: 'test', outcome });
  const delivered = (): unknown[] =>
    calls.filter((c) => c.status === 200).flatMap((c) => c.body as unknown[]);
  return { queue, calls, clock, count, delivered };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(check()).toBe(true);
}

describe('DeliveryQueue', () => {
  it('batches what is queued in one tick', async () => {
    const { queue, calls, count } = setup(() => 200, { maxBatch: 2 });
    for (let i = 0; i < 5; i++) queue.enqueue(`k${i}`, { id: `k${i}`, v: 1 });
    await queue.flush(5_000);
    expect(calls.map((c) => (c.body as unknown[]).length)).toEqual([2, 2, 1]);
    expect(await count('sent')).toBe(5);
  });

  it('gives a `once` item up after a failed attempt (counted failed), retrying the rest of its batch', async () => {
    const { queue, calls, count, delivered } = setup((_, n) => (n === 1 ? 503 : 200));
    queue.enqueue('once', { id: 'once', v: 1 }, true);
    queue.enqueue('kept', { id: 'kept', v: 1 });
    await queue.flush(5_000);
    expect(calls.map((c) => c.status)).toEqual([503, 200]);
    expect(delivered()).toEqual([{ id: 'kept', v: 1 }]);
    expect(await count('sent')).toBe(1);
    expect(await count('failed')).toBe(1);
  });

  it('retries with backoff until the target answers', async () => {
    const { queue, calls, count, delivered } = setup((_, n) => (n <= 3 ? (n === 2 ? 503 : 0) : 200));
    queue.enqueue('a', { id: 'a', v: 1 });
    await queue.flush(5_000);
    expect(calls.map((c) => c.status)).toEqual([0, 503, 0, 200]);
    expect(delivered()).toEqual([{ id: 'a', v: 1 }]);
    expect(await count('sent')).toBe(1);
    expect(await count('failed')).toBe(0);
  });

  it('keeps only the latest state per key while the target is down', async () => {
    let up = false;
    const { queue, calls, delivered } = setup(() => (up ? 200 : 0));
    queue.enqueue('a', { id: 'a', v: 1 });
    queue.enqueue('b', { id: 'b', v: 1 });
    await until(() => calls.length >= 2);
    queue.enqueue('a', { id: 'a', v: 2 });
    queue.enqueue('a', { id: 'a', v: 3 });
    expect(queue.size).toBe(2);
    up = true;
    await queue.flush(5_000);
    // Key order is first-queued order; `a` carries its last state only.
    expect(delivered()).toEqual([
      { id: 'a', v: 3 },
      { id: 'b', v: 1 },
    ]);
    expect(queue.size).toBe(0);
  });

  it('is bounded: a new key on a full queue is dropped and counted, a known key is replaced', async () => {
    let up = false;
    const { queue, calls, count, delivered } = setup(() => (up ? 200 : 503), { maxQueue: 3 });
    for (let i = 0; i < 5; i++) queue.enqueue(`k${i}`, { id: `k${i}`, v: 1 });
    queue.enqueue('k1', { id: 'k1', v: 2 });
    expect(queue.size).toBe(3);
    expect(await count('dropped')).toBe(2);
    await until(() => calls.length >= 1);
    up = true;
    await queue.flush(5_000);
    expect(delivered()).toEqual([
      { id: 'k0', v: 1 },
      { id: 'k1', v: 2 },
      { id: 'k2', v: 1 },
    ]);
    expect(await count('sent')).toBe(3);
  });

  it('does not retry a payload the target rejected (4xx): counted failed', async () => {
    const { queue, calls, count } = setup(() => 400);
    queue.enqueue('a', { id: 'a', v: 1 });
    await queue.flush(5_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toHaveLength(1);
    expect(await count('failed')).toBe(1);
    expect(queue.size).toBe(0);
  });

  it('retries 429 and 408 like outages', async () => {
    const { queue, calls } = setup((_, n) => [429, 408, 200][n - 1] ?? 200);
    queue.enqueue('a', { id: 'a', v: 1 });
    await queue.flush(5_000);
    expect(calls.map((c) => c.status)).toEqual([429, 408, 200]);
  });

  it('gives up on a notification after maxRetryMs (counted failed)', async () => {
    const { queue, calls, clock, count } = setup(() => 0, { maxRetryMs: 10_000 });
    queue.enqueue('a', { id: 'a', v: 1 });
    await until(() => calls.length >= 2);
    expect(queue.size).toBe(1);
    clock.advance(10_001);
    await queue.flush(5_000);
    expect(queue.size).toBe(0);
    expect(await count('failed')).toBe(1);
  });

  it('flush gives up waiting after its timeout; shutdown counts what is left as failed and stops', async () => {
    const { queue, calls, count } = setup(() => 0);
    queue.enqueue('a', { id: 'a', v: 1 });
    queue.enqueue('b', { id: 'b', v: 1 });
    await queue.flush(30);
    await queue.flush(1);
    expect(queue.size).toBe(2);
    expect((queue as unknown as { waiters: unknown[] }).waiters).toHaveLength(0);
    await queue.shutdown(30);
    expect(queue.size).toBe(0);
    expect(await count('failed')).toBe(2);
    const callsAtShutdown = calls.length;
    queue.enqueue('c', { id: 'c', v: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(queue.size).toBe(0);
    expect(calls.length).toBe(callsAtShutdown);
  });

  it('counts a batch still in flight at shutdown by its outcome, not twice', async () => {
    const metrics = testMetrics();
    let release: (status: number) => void = () => {};
    const queue = new DeliveryQueue<string>({
      target: 'slow',
      deliver: async () => {
        const status = await new Promise<number>((r) => (release = r));
        if (status !== 200) throw new Error('down');
      },
      maxQueue: 10,
      maxBatch: 1,
      timeoutMs: 1_000,
      maxRetryMs: 60_000,
      backoff: { initialMs: 1, maxMs: 1 },
      clock: new ManualClock(0),
      random: () => 0.5,
      record: notificationCounter(metrics.meter, 'slow'),
    });
    const count = async (outcome: string): Promise<number> =>
      await metrics.sum(METRIC, { sink: 'slow', outcome });
    queue.enqueue('a', 'a');
    queue.enqueue('b', 'b');
    await until(() => queue.size === 2 && release.length === 1);
    await queue.shutdown(20);
    // `b` never left: given up. `a` is on the wire: its outcome decides.
    expect(await count('failed')).toBe(1);
    release(200);
    await until(() => queue.size === 0);
    expect(await count('sent')).toBe(1);
    expect(await count('failed')).toBe(1);
  });
});
