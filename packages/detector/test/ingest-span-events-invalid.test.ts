// A span of llmsec's own instrumentation (scope @llmsec/...) whose llmsec span events are all
// unusable (an attribute missing, a bad timestamp) was answered as taken, with no partial
// success and no llmsec_detector_records_rejected_total{reason="invalid_event"}: the events were
// dropped without a word, where the same span under another scope name is rejected as
// invalid_event (README: span event llmsec.<category> -> rejected invalid_event). A span of
// llmsec's own with no llmsec events stays accepted (its request_completed comes on its own).
import { afterEach, describe, expect, it } from 'vitest';
import { eventToAttributes } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { DetectorIngest } from '../src/service/detector-ingest.ts';
import { DEFAULT_SESSION_ATTRIBUTES, DEFAULT_USER_ATTRIBUTES } from '../src/service/genai-attributes.ts';
import { IngestQueue } from '../src/service/ingest-queue.ts';
import { DetectorMetrics } from '../src/service/metrics.ts';
import type { Attributes } from '../src/otlp/types.ts';
import type { RunningDetector } from '../src/service/detector.ts';
import { startDetectorWith } from './service-support.ts';
import { decodedSpan, secEvent, T0 } from './support.ts';

function ingest(): { ingest: DetectorIngest; metrics: DetectorMetrics } {
  const engine = new DetectionEngine({ allowedLatenessMs: 0 });
  const queue: IngestQueue = new IngestQueue({
    capacity: 100,
    process: (e, t) => engine.ingestOnce(e, t),
    onError: () => {},
  });
  const metrics = new DetectorMetrics({
    queueDepth: () => queue.depth,
    stateHealthy: () => ({ store: 'memory', healthy: true }),
  });
  const genAi = { userAttributes: DEFAULT_USER_ATTRIBUTES, sessionAttributes: DEFAULT_SESSION_ATTRIBUTES };
  return { ingest: new DetectorIngest({ queue, metrics, genAi, onError: () => {} }), metrics };
}

/** An llmsec span event without its user.id: not a usable event. */
function brokenEvent(id: string) {
  const attributes = eventToAttributes(secEvent({ event_id: id })) as Attributes;
  delete attributes['user.id'];
  return { timeMs: T0, name: 'llmsec.guardrail_block', attributes };
}

describe('llmsec span events that are not usable events', () => {
  for (const scope of ['@llmsec/sdk/instrumentation', 'other-instrumentation']) {
    it(`are rejected as invalid_event on a span of scope ${scope}`, async () => {
      const s = ingest();
      const span = decodedSpan({ scope, events: [brokenEvent('EVT-a'), brokenEvent('EVT-b')] });
      const result = s.ingest.traces([span]);
      await s.metrics.shutdown();
      expect(result).toEqual({ kind: 'accepted', rejected: 1, message: '1 spans rejected: invalid_event=1' });
    });
  }

  it('leave a span of llmsec with no llmsec events accepted', async () => {
    const s = ingest();
    const result = s.ingest.traces([decodedSpan({ scope: '@llmsec/sdk/instrumentation' })]);
    await s.metrics.shutdown();
    expect(result).toEqual({ kind: 'accepted', rejected: 0 });
  });
});

/** OTLP/JSON KeyValues of string attributes. */
function keyValues(attributes: Record<string, unknown>) {
  return Object.entries(attributes).map(([key, v]) => ({ key, value: { stringValue: String(v) } }));
}

describe('a span with usable and unusable llmsec span events (the detector service)', () => {
  let running: RunningDetector | undefined;
  afterEach(async () => {
    await running?.shutdown();
    running = undefined;
  });

  it('takes the span, counts the unusable events in llmsec_detector_values_dropped_total and says so in partial_success', async () => {
    ({ detector: running } = await startDetectorWith('span-events-mixed', () => ({})));
    const http = `http://127.0.0.1:${running.http.port}`;
    const good = eventToAttributes(secEvent({ event_id: 'EVT-good' })) as Record<string, unknown>;
    const bad: Record<string, unknown> = { ...good, 'llmsec.event.id': 'EVT-bad' };
    delete bad['user.id'];
    const event = (attributes: Record<string, unknown>) => ({
      timeUnixNano: String(T0 * 1e6),
      name: 'llmsec.guardrail_block',
      attributes: keyValues(attributes),
    });
    const body = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              scope: { name: 'other-instrumentation' },
              spans: [
                {
                  traceId: '0af7651916cd43dd8448eb211c80319c',
                  spanId: 'b7ad6b7169203331',
                  name: 'chat',
                  kind: 1,
                  startTimeUnixNano: String(T0 * 1e6),
                  endTimeUnixNano: String((T0 + 1) * 1e6),
                  events: [event(good), event(bad), event({ ...bad, 'llmsec.event.id': 'EVT-bad-2' })],
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${http}/v1/traces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    // The span is taken whole (rejected_spans 0: OTLP counts spans), its two unusable events
    // counted as dropped parts of a taken record and said in partial_success's error_message.
    expect(await res.json()).toEqual({
      partialSuccess: {
        errorMessage:
          '2 llmsec span events dropped from spans taken: invalid_event (first: missing string attribute "user.id")',
      },
    });
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/llmsec_detector_values_dropped_total\{signal="traces"[^}]*\} 2/);
    expect(metrics).toMatch(/llmsec_detector_records_accepted_total\{signal="traces"[^}]*\} 1/);
  });
});
