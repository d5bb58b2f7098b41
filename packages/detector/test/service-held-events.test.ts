// The engine holds each event for the allowed lateness (and, ahead of the clock, until the clock
// reaches it): up to maxBufferedEvents (100,000) of them. It must hold what the rules read, not
// the record: an OTLP record may carry a correlated_events list of max_attributes ids of up to
// max_string_bytes each, or metadata the rules never name (256 keys of 1,024-item lists), so a
// sender's held events cost megabytes each. llmsec replay feeds its engine the same projection
// (replayProjector), and its alerts are the detector's (test/parity-replay-detector.test.ts).
import type { SecurityEvent } from '@llmsec/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDetector } from '../src/service/detector.ts';
import { startDetectorWith } from './service-support.ts';

let detector: RunningDetector | undefined;
afterEach(async () => {
  await detector?.shutdown();
  detector = undefined;
});

const str = (v: string) => ({ stringValue: v });

describe('events the detector holds', () => {
  it('carry the fields the rules read, not the correlated ids and metadata no rule names', async () => {
    ({ detector } = await startDetectorWith('held-events', () => ({ allowed_lateness: '15m' })));
    const held: SecurityEvent[] = [];
    const engine = detector.engine;
    // The receiver feeds ingestOnce (ids counted once per group); in memory it admits the event
    // itself, on a shared state through ingest: watch both, each event once.
    const hold = (event: SecurityEvent) => {
      if (!held.includes(event)) held.push(event);
    };
    const ingest = engine.ingest.bind(engine);
    engine.ingest = (event, timeMs) => {
      hold(event);
      ingest(event, timeMs);
    };
    const ingestOnce = engine.ingestOnce.bind(engine);
    engine.ingestOnce = (event, timeMs) => {
      hold(event);
      return ingestOnce(event, timeMs);
    };
    const ids = Array.from({ length: 1_024 }, (_, i) => str(`EVT-${i}-${'c'.repeat(1_000)}`));
    const attributes = [
      { key: 'llmsec.event.id', value: str('EVT-held') },
      { key: 'llmsec.event.category', value: str('guardrail_block') },
      { key: 'llmsec.event.severity', value: str('warning') },
      { key: 'llmsec.event.timestamp', value: str(new Date().toISOString()) },
      { key: 'user.id', value: str('alice') },
      { key: 'llmsec.metadata.guardrail_layer', value: str('input') },
      { key: 'llmsec.event.correlated_events', value: { arrayValue: { values: ids } } },
      { key: 'llmsec.metadata.unread', value: { arrayValue: { values: ids } } },
      { key: 'llmsec.event.description', value: str('d'.repeat(1_000)) },
    ];
    const body = JSON.stringify({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ eventName: 'llmsec.guardrail_block', attributes }] }] }],
    });
    const res = await fetch(`http://${detector.http.host}:${detector.http.port}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(held).toHaveLength(1);
    const event = held[0]!;
    expect(event.event_id).toBe('EVT-held');
    expect(event.user_id).toBe('alice');
    expect(event.correlated_events).toBeUndefined();
    expect(event.description).toBeUndefined();
    expect(event.metadata?.unread).toBeUndefined();
    expect(JSON.stringify(event).length).toBeLessThan(1_000);
  });
});
