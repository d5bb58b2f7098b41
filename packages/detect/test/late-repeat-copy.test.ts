import { describe, expect, it } from 'vitest';
import { DetectionEngine, defaultRules } from '../src/index.ts';
import { VALUE_SPAN } from '../src/recent-ids.ts';
import { ev, SEC, T0 } from './helpers.ts';

/**
 * A second copy of an event that arrives after the lateness (its span event exported when a
 * long request span ends, its log record seconds before; a busy detector took more than the
 * exact-copy ring's 256 events in between) was counted as a late drop (stats.droppedLate, the
 * `llmsec.detect.events.dropped{reason="late"}` metric that LlmsecDetectionEventsDropped alerts
 * on), though the event had been counted: found by the s22 acceptance sweep (960 events inside
 * four 12 s spans at 80 a second into `llmsec detector`: 151 "late", none lost). A copy whose
 * groups all hold its id is now a repeat (stats.droppedRepeated); a late event they do not hold
 * is still late.
 */
const block = (at: number, user: string, id: string) =>
  ev({ at: T0 + at, category: 'guardrail_block', user, id });

function engineAfter(n: number): DetectionEngine {
  const engine = new DetectionEngine({ rules: defaultRules(), allowedLatenessMs: 5 * SEC });
  // n events of 20 users (at most 32 each: a group keeps its last 32 ids), 100 ms apart: the first ones end up past the 5 s lateness.
  for (let i = 0; i < n; i++) {
    const e = block(i * 100, `u${i % 20}`, `id-${i}`);
    engine.ingestOnce(e.event, e.t);
  }
  return engine;
}

describe('a late copy of a counted event is a repeat, not a late drop', () => {
  it('copies past the exact-copy ring and the lateness count as repeated', () => {
    const n = VALUE_SPAN + 200;
    const engine = engineAfter(n);
    // The first 20 again, as a second signal delivers them (a span event after its log record).
    for (let i = 0; i < 20; i++) {
      const copy = block(i * 100, `u${i % 20}`, `id-${i}`);
      copy.event.trace_id = 'a'.repeat(32);
      expect(engine.ingestOnce(copy.event, copy.t)).toBe(true);
    }
    engine.flush();
    expect(engine.stats.droppedLate).toBe(0);
    expect(engine.stats.droppedRepeated).toBe(20);
    expect(engine.stats.processed).toBe(n);
  });

  it('a late event no group holds is still late (a new id, or a user never seen)', () => {
    const engine = engineAfter(VALUE_SPAN + 200);
    const fresh = block(100, 'u1', 'never-seen');
    const stranger = block(200, 'nobody', 'id-2');
    engine.ingestOnce(fresh.event, fresh.t);
    engine.ingestOnce(stranger.event, stranger.t);
    engine.flush();
    expect(engine.stats.droppedLate).toBe(2);
    expect(engine.stats.droppedRepeated).toBe(0);
  });

  it('ingest (not ingestOnce) keeps counting every late event as late', () => {
    const engine = engineAfter(VALUE_SPAN + 200);
    const copy = block(0, 'u0', 'id-0');
    engine.ingest(copy.event, copy.t);
    engine.flush();
    expect(engine.stats.droppedLate).toBe(1);
    expect(engine.stats.droppedRepeated).toBe(0);
  });
});
