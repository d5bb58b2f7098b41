import { expect, it } from 'vitest';
import { DegradedRecord, MAX_RECORDED_EVENTS } from '../src/state/degraded-record.ts';
import { block, ev, SEC, T0 } from './helpers.ts';

/** DegradedRecord: bounded, and past its cap it gives up on the whole episode (no partial resend). */

it('records, then ships what the engine gave back in rounds', () => {
  const record = new DegradedRecord();
  const events = Array.from({ length: 5 }, (_, i) => ev(block(T0 + (5 - i) * SEC, 'mallory')));
  for (const e of events) expect(record.record(e)).toBe(0);
  expect(record.size).toBe(5);
  expect(record.oldest).toBe(T0 + SEC);
  expect(record.recorded()).toEqual(new Set(events.map((e) => e.event)));
  expect(record.givenBack).toBe(false);
  // The engine gives them back (its buffer's order): shipped in rounds, given back until empty.
  record.replace([...events].reverse());
  expect(record.givenBack).toBe(true);
  expect(record.take(3)).toEqual([...events].reverse().slice(0, 3));
  expect(record.givenBack).toBe(true);
  expect(record.take(3)).toEqual([...events].reverse().slice(3));
  expect(record.size).toBe(0);
  expect(record.givenBack).toBe(false);
  expect(record.started).toBe(false);
});

it('past MAX_RECORDED_EVENTS drops what it recorded and refuses the rest until forgotten', () => {
  const record = new DegradedRecord();
  const e = ev(block(T0, 'mallory'));
  for (let i = 0; i < MAX_RECORDED_EVENTS; i++) expect(record.record(e)).toBe(0);
  // The event past the cap and every one recorded before it stay local only.
  expect(record.record(e)).toBe(MAX_RECORDED_EVENTS + 1);
  expect(record.size).toBe(0);
  expect(record.started).toBe(true);
  expect(record.record(e)).toBe(1);
  expect(record.forget()).toBe(0);
  expect(record.started).toBe(false);
  expect(record.record(e)).toBe(0);
  expect(record.size).toBe(1);
});
