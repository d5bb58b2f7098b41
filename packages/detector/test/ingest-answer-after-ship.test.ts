import { describe, expect, it, vi } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { DetectorIngest } from '../src/service/detector-ingest.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import { IngestQueue } from '../src/service/ingest-queue.ts';
import { DetectorMetrics } from '../src/service/metrics.ts';
import { logRecord, secEvent, T0 } from './support.ts';

/**
 * With Redis state the service answers an export once its events are shipped (the README,
 * "Replicas and event time"): DetectorIngest hands the receivers a `settled` promise that waits
 * for the queue to process the export's events and then for `shipped`, bounded.
 */

const GENAI = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };

function setup(shipped: (() => Promise<void>) | undefined, maxAnswerWaitMs?: number) {
  const processed: SecurityEvent[] = [];
  const metrics = new DetectorMetrics({
    queueDepth: () => queue.depth,
    stateHealthy: () => ({ store: 'redis', healthy: true }),
  });
  const errors: unknown[] = [];
  const queue: IngestQueue = new IngestQueue({
    capacity: 1000,
    process: (e) => processed.push(e),
    onError: (err) => errors.push(err),
  });
  const ingest = new DetectorIngest({
    queue,
    metrics,
    genAi: GENAI,
    onError: (err) => errors.push(err),
    ...(shipped !== undefined ? { shipped } : {}),
    ...(maxAnswerWaitMs !== undefined ? { maxAnswerWaitMs } : {}),
  });
  return { ingest, processed, errors, metrics };
}

const records = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) =>
    logRecord(
      secEvent({ event_id: `e${from + i}`, timestamp: new Date(T0 + (from + i) * 1000).toISOString() }),
    ),
  );

describe('DetectorIngest: the answer after the events are shipped', () => {
  it('settles only after the queue processed the export and shipped() resolved for it', async () => {
    let release!: () => void;
    let calls = 0;
    let processedAtCall = -1;
    const s = setup(() => {
      calls++;
      processedAtCall = s.processed.length;
      return new Promise<void>((r) => (release = r));
    });
    const result = s.ingest.logs(records(3));
    expect(result.kind).toBe('accepted');
    if (result.kind !== 'accepted') return;
    expect(result.settled).toBeDefined();
    let settled = false;
    void result.settled!.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    // Asked once the export's events were handed to the engine, and not settled before shipped.
    expect(calls).toBe(1);
    expect(processedAtCall).toBe(3);
    expect(settled).toBe(false);
    release();
    await result.settled;
    expect(settled).toBe(true);
    expect(s.errors).toEqual([]);
    await s.metrics.shutdown();
  });

  it('answers at the bound when shipping does not end (a stalled Redis), and on a failure', async () => {
    const stalled = setup(() => new Promise<void>(() => {}), 100);
    const t0 = Date.now();
    const r1 = stalled.ingest.logs(records(2));
    if (r1.kind !== 'accepted') throw new Error(r1.kind);
    await r1.settled;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    await stalled.metrics.shutdown();

    const failing = setup(() => Promise.reject(new Error('boom')));
    const r2 = failing.ingest.logs(records(2));
    if (r2.kind !== 'accepted') throw new Error(r2.kind);
    await r2.settled;
    expect(failing.errors).toHaveLength(1);
    await failing.metrics.shutdown();
  });

  it('clears the bound once shipped: no timer left per answered export', async () => {
    // Only timeouts are faked: the queue still drains on real immediates.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const s = setup(() => Promise.resolve());
      const results = [0, 1, 2].map((i) => s.ingest.logs(records(2, i * 2)));
      expect(vi.getTimerCount()).toBe(3);
      for (const r of results) {
        if (r.kind !== 'accepted') throw new Error(r.kind);
        await r.settled;
      }
      // A bound left running would hold each answered export's closures for 2 s.
      expect(vi.getTimerCount()).toBe(0);
      expect(s.processed).toHaveLength(6);
      await s.metrics.shutdown();
    } finally {
      vi.useRealTimers();
    }
  });

  it('no wait without shipped (memory state) or for an export with no usable record', async () => {
    const memory = setup(undefined);
    const r1 = memory.ingest.logs(records(2));
    expect(r1.kind === 'accepted' && r1.settled).toBe(undefined);
    await memory.metrics.shutdown();
    const redis = setup(() => Promise.resolve());
    const r2 = redis.ingest.logs([]);
    expect(r2.kind === 'accepted' && r2.settled).toBe(undefined);
    await redis.metrics.shutdown();
  });
});

describe('IngestQueue.whenProcessed', () => {
  it('waits for the events offered before the call, not those offered after it', async () => {
    const seen: string[] = [];
    const queue = new IngestQueue({
      capacity: 100,
      chunk: 2,
      process: (e) => seen.push(e.event_id),
      onError: () => {},
    });
    const batch = (ids: string[]) => ({
      events: ids.map((id) => secEvent({ event_id: id })),
      times: ids.map(() => T0),
    });
    queue.offer(batch(['a', 'b', 'c']));
    const first = queue.whenProcessed();
    queue.offer(batch(['d', 'e', 'f', 'g']));
    await first;
    // Chunks of 2: a, b, then c, d; the later export's e, f, g not yet.
    expect(seen.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(seen.length).toBeLessThan(7);
    await queue.whenProcessed();
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });
});
