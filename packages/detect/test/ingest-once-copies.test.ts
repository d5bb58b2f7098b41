import { describe, expect, it } from 'vitest';
import { DetectionEngine } from '../src/index.ts';
import { VALUE_SPAN } from '../src/recent-ids.ts';
import { blockBurst, ev, SEC, T0 } from './helpers.ts';

/**
 * In memory, ingestOnce drops an exact copy of one of the last VALUE_SPAN (256) events it took;
 * any other repeat is for the groups (group-ids.ts). It remembered 10,000 ids and the events of
 * the last 256 only: an id seen again after 256 others was found with no event kept and not
 * recorded anew, so an exact copy of that second event, right after it, was taken and left to
 * the groups (counted once more wherever the group had since pushed the id out).
 */
const burst = blockBurst;

const block = (at: number, user: string, id: string, trace?: string) =>
  ev({ at: T0 + at * SEC, category: 'guardrail_block', user, id, ...(trace ? { trace } : {}) });

describe('ingestOnce in memory: exact copies of the last 256 events', () => {
  it('drops a copy of a recent event whose id was first seen more than 256 events before', () => {
    const engine = new DetectionEngine({ rules: [burst], allowedLatenessMs: 60 * SEC });
    const first = block(1, 'alice', 'x1');
    expect(engine.ingestOnce(first.event, first.t)).toBe(true);
    for (let i = 0; i < VALUE_SPAN + 50; i++) {
      const other = block(2, `u${i}`, `o${i}`);
      engine.ingestOnce(other.event, other.t);
    }
    // The same id again (the log record of the span event: a trace id added): for the groups.
    const again = block(1, 'alice', 'x1', 'a'.repeat(32));
    expect(engine.ingestOnce(again.event, again.t)).toBe(true);
    // An exact copy of that event (an export sent again): dropped here.
    expect(engine.ingestOnce({ ...again.event }, again.t)).toBe(false);
    engine.flush();
    expect(engine.stats.droppedRepeated).toBe(1);
  });

  it('still drops an exact copy within the last 256 events, not one further back', () => {
    const engine = new DetectionEngine({ rules: [burst], allowedLatenessMs: 60 * SEC });
    const first = block(1, 'bob', 'y1');
    engine.ingestOnce(first.event, first.t);
    for (let i = 0; i < VALUE_SPAN - 2; i++) {
      const other = block(2, `u${i}`, `o${i}`);
      engine.ingestOnce(other.event, other.t);
    }
    expect(engine.ingestOnce({ ...first.event }, first.t)).toBe(false);
    for (let i = 0; i < VALUE_SPAN; i++) {
      const other = block(3, `v${i}`, `p${i}`);
      engine.ingestOnce(other.event, other.t);
    }
    // Past the span: taken, and dropped by Bob's group, which holds its id.
    expect(engine.ingestOnce({ ...first.event }, first.t)).toBe(true);
    engine.flush();
    expect(engine.stats.droppedRepeated).toBe(1);
  });

  it('honours a dedupeCapacity below 256', () => {
    const engine = new DetectionEngine({ rules: [burst], allowedLatenessMs: 60 * SEC, dedupeCapacity: 2 });
    const first = block(1, 'carol', 'z1');
    engine.ingestOnce(first.event, first.t);
    expect(engine.ingestOnce({ ...first.event }, first.t)).toBe(false);
    for (const id of ['a', 'b']) {
      const other = block(2, 'dave', id);
      engine.ingestOnce(other.event, other.t);
    }
    expect(engine.ingestOnce({ ...first.event }, first.t)).toBe(true);
  });
});
