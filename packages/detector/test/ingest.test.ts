import { afterEach, describe, expect, it } from 'vitest';
import { eventToAttributes } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { DetectorIngest } from '../src/service/detector-ingest.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import { IngestQueue } from '../src/service/ingest-queue.ts';
import { DetectorMetrics } from '../src/service/metrics.ts';
import type { Attributes } from '../src/otlp/types.ts';
import { decodedSpan, logRecord, secEvent, T0 } from './support.ts';

const GENAI = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };

async function scrape(metrics: DetectorMetrics): Promise<string> {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => metrics.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  try {
    return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } finally {
    server.close();
  }
}

function setup(capacity = 1000) {
  const engine = new DetectionEngine({ allowedLatenessMs: 0 });
  const metrics = new DetectorMetrics({
    queueDepth: () => queue.depth,
    stateHealthy: () => ({ store: 'memory', healthy: true }),
  });
  const errors: unknown[] = [];
  const queue: IngestQueue = new IngestQueue({
    capacity,
    process: (e, t) => engine.ingestOnce(e, t),
    onError: (err) => errors.push(err),
  });
  const ingest = new DetectorIngest({ queue, metrics, genAi: GENAI, onError: (err) => errors.push(err) });
  return { engine, metrics, queue, ingest, errors };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe('DetectorIngest', () => {
  it('turns llmsec log records into engine events and rejects the rest by reason (partial success)', async () => {
    const s = setup();
    cleanup.push(() => s.metrics.shutdown());
    const good = Array.from({ length: 10 }, (_, i) =>
      logRecord(secEvent({ event_id: `EVT-${i}`, timestamp: new Date(T0 + i * 1000).toISOString() })),
    );
    const notOurs = logRecord(secEvent({ event_id: 'EVT-x' }), { eventName: 'http.request' });
    const alert = logRecord(secEvent({ event_id: 'EVT-y' }), { eventName: 'llmsec.alert' });
    const broken = logRecord(secEvent({ event_id: 'EVT-z' }), { attributes: { 'llmsec.event.id': 'EVT-z' } });
    const badTime = logRecord(secEvent({ event_id: 'EVT-t', timestamp: 'yesterday' }));
    const result = s.ingest.logs([...good, notOurs, alert, broken, badTime]);
    expect(result).toEqual({
      kind: 'accepted',
      rejected: 4,
      message:
        '4 log records rejected: not_llmsec=1, alert_record=1, invalid_event=2 (first: missing string attribute "llmsec.event.category")',
    });
    await s.queue.whenIdle();
    s.engine.flush();
    expect(s.engine.stats.processed).toBe(10);
    expect(s.engine.activeIncidents().map((a) => a.rule)).toEqual(['rapid_guardrail_blocks']);
    const text = await scrape(s.metrics);
    expect(text).toMatch(/llmsec_detector_records_received_total\{signal="logs"[^}]*\} 14/);
    expect(text).toMatch(/llmsec_detector_records_accepted_total\{signal="logs"[^}]*\} 10/);
    expect(text).toMatch(
      /llmsec_detector_records_rejected_total\{signal="logs",reason="invalid_event"[^}]*\} 2/,
    );
    expect(text).toMatch(
      /llmsec_detector_records_rejected_total\{signal="traces",reason="not_genai"[^}]*\} 0/,
    );
  });

  it('reads a record stamped in a leap second (23:59:60 UTC) as 23:59:59.999, not as invalid', async () => {
    const s = setup();
    cleanup.push(() => s.metrics.shutdown());
    const stamps = ['2016-12-31T23:59:60.500Z', '2017-01-01T08:59:60+09:00'];
    const records = stamps.map((timestamp, i) =>
      logRecord(secEvent({ event_id: `EVT-leap-${i}`, timestamp })),
    );
    expect(s.ingest.logs(records)).toEqual({ kind: 'accepted', rejected: 0 });
    await s.queue.whenIdle();
    s.engine.flush();
    expect(s.engine.stats.processed).toBe(2);
    expect(s.errors).toEqual([]);
  });

  it('counts one event once when it arrives as span event and log record, and on a retried export', async () => {
    const s = setup();
    cleanup.push(() => s.metrics.shutdown());
    const ev = secEvent({ event_id: 'EVT-dup' });
    const span = decodedSpan({
      events: [
        { timeMs: T0, name: 'llmsec.guardrail_block', attributes: eventToAttributes(ev) as Attributes },
      ],
      scope: '@llmsec/sdk/instrumentation',
    });
    expect(s.ingest.traces([span])).toEqual({ kind: 'accepted', rejected: 0 });
    expect(s.ingest.logs([logRecord(ev)])).toEqual({ kind: 'accepted', rejected: 0 });
    expect(s.ingest.logs([logRecord(ev)])).toEqual({ kind: 'accepted', rejected: 0 });
    await s.queue.whenIdle();
    s.engine.flush();
    expect(s.engine.stats.processed).toBe(1);
  });

  it('turns GenAI spans into request_completed once per span, also when the export is retried', async () => {
    const s = setup();
    cleanup.push(() => s.metrics.shutdown());
    const spans = Array.from({ length: 6 }, (_, i) =>
      decodedSpan({
        spanId: `00000000000000a${i}`,
        startMs: T0 + i * 1000,
        endMs: T0 + i * 1000 + 200,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': 10,
          'gen_ai.input.messages': '[{"role":"user","content":"same prompt"}]',
          'user.id': 'mallory',
        },
      }),
    );
    const other = decodedSpan({ spanId: '00000000000000ff', attributes: { 'http.route': '/x' } });
    expect(s.ingest.traces([...spans, other])).toEqual({
      kind: 'accepted',
      rejected: 1,
      message: '1 spans rejected: not_genai=1',
    });
    expect(s.ingest.traces(spans).kind).toBe('accepted'); // the retry
    await s.queue.whenIdle();
    s.engine.flush();
    expect(s.engine.stats.processed).toBe(6);
    expect(s.engine.activeIncidents().map((a) => [a.rule, a.user_ids])).toEqual([
      ['identical_requests', ['mallory']],
    ]);
  });

  it('refuses a whole request when the queue would overflow, takes it after the drain; unavailable after stop', async () => {
    const s = setup(5);
    cleanup.push(() => s.metrics.shutdown());
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => logRecord(secEvent({ event_id: `EVT-${from + i}` })));
    expect(s.ingest.logs(batch(0, 4)).kind).toBe('accepted');
    expect(s.ingest.logs(batch(4, 2))).toEqual({ kind: 'overloaded', retryAfterSeconds: 1 });
    expect(s.queue.depth).toBe(4);
    await s.queue.whenIdle();
    expect(s.ingest.logs(batch(4, 2)).kind).toBe('accepted');
    await s.queue.whenIdle();
    s.engine.flush();
    expect(s.engine.stats.processed).toBe(6);
    s.ingest.stop();
    expect(s.ingest.logs(batch(6, 1))).toEqual({ kind: 'unavailable', retryAfterSeconds: 1 });
    const text = await scrape(s.metrics);
    expect(text).toMatch(
      /llmsec_detector_requests_refused_total\{signal="logs",reason="overloaded"[^}]*\} 1/,
    );
    expect(text).toMatch(
      /llmsec_detector_requests_refused_total\{signal="logs",reason="unavailable"[^}]*\} 1/,
    );
  });
});

describe('IngestQueue', () => {
  it('drains in chunks across event-loop turns, in arrival order, and keeps a failing event from stopping it', async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const q = new IngestQueue({
      capacity: 100,
      chunk: 3,
      process: (e) => {
        if (e.event_id === 'bad') throw new Error('boom');
        seen.push(e.event_id);
      },
      onError: (err) => errors.push(err),
    });
    const mk = (ids: string[]) => ({
      events: ids.map((id) => secEvent({ event_id: id })),
      times: ids.map(() => T0),
    });
    expect(q.offer(mk(['a', 'b', 'c', 'd']))).toBe(true);
    expect(q.offer(mk(['bad', 'e']))).toBe(true);
    expect(q.depth).toBe(6);
    await new Promise((r) => setImmediate(r));
    expect(seen.length).toBeLessThan(5); // one chunk per turn
    await q.whenIdle();
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(errors).toHaveLength(1);
    expect(q.depth).toBe(0);
    expect(() => new IngestQueue({ capacity: 0, process: () => {}, onError: () => {} })).toThrow(/capacity/);
  });

  it('takes a batch larger than the whole capacity when empty: refusing it would refuse every retry, and the sender would drop it', async () => {
    const seen: string[] = [];
    const q = new IngestQueue({ capacity: 3, process: (e) => seen.push(e.event_id), onError: () => {} });
    const mk = (ids: string[]) => ({
      events: ids.map((id) => secEvent({ event_id: id })),
      times: ids.map(() => T0),
    });
    expect(q.offer(mk(['a', 'b', 'c', 'd', 'e']))).toBe(true);
    expect(q.depth).toBe(5);
    expect(q.offer(mk(['f']))).toBe(false); // over capacity until it drains
    await q.whenIdle();
    expect(q.offer(mk(['f']))).toBe(true);
    await q.whenIdle();
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });
});
