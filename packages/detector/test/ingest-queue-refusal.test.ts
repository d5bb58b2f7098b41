// The ingest queue says which bound refused an offer (queue_capacity's events, or
// queue_max_bytes), so the service counts the refusal by the setting an operator would raise
// (llmsec_detector_requests_refused_total{reason="overloaded",bound}).
import type { SecurityEvent } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { IngestQueue } from '../src/service/ingest-queue.ts';
import type { EventBatch } from '../src/service/record-events.ts';

const batch = (n: number, bytes: number): EventBatch => ({
  events: Array.from({ length: n }, () => ({}) as SecurityEvent),
  times: Array.from({ length: n }, () => 0),
  bytes,
});

const queue = (): IngestQueue =>
  new IngestQueue({ capacity: 10, maxBytes: 1_000, process: () => {}, onError: () => {} });

describe('IngestQueue.lastRefusal', () => {
  it('is undefined until an offer is refused, and an empty queue takes anything', () => {
    const q = queue();
    expect(q.offer(batch(50, 50_000))).toBe(true); // past both bounds, but the queue was empty
    expect(q.lastRefusal).toBeUndefined();
  });

  it('names the bound each refusal met; events are checked first', () => {
    const q = queue();
    expect(q.offer(batch(5, 100))).toBe(true);
    expect(q.offer(batch(6, 100))).toBe(false); // 11 events > 10
    expect(q.lastRefusal).toBe('capacity');
    expect(q.offer(batch(1, 901))).toBe(false); // 1,001 bytes > 1,000
    expect(q.lastRefusal).toBe('maxBytes');
    expect(q.offer(batch(6, 5_000))).toBe(false); // past both
    expect(q.lastRefusal).toBe('capacity');
    expect(q.offer(batch(5, 900))).toBe(true); // exactly at both
    expect(q.depth).toBe(10);
    expect(q.heldBytes).toBe(1_000);
  });
});
