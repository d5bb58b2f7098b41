import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { ReorderBuffer } from '../src/reorder-buffer.ts';

/**
 * The reorder buffer keeps event times in an array of tagged values (reorder-buffer.ts: so the
 * engine passes on the caller's number instead of boxing a new one per event). Whatever the
 * array's representation, it must hand back every event once, in time order (ties in arrival
 * order), with the time and id hash it was given: fractional epoch times, small integers,
 * -0, Infinity, out-of-order arrivals and growth past the initial 1,024 slots.
 */

function ev(i: number): SecurityEvent {
  return { event_id: `e${i}`, timestamp: '', category: 'c', severity: 'info' } as SecurityEvent;
}

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('ReorderBuffer', () => {
  it('releases events in time order, ties in arrival order, with their times and hashes', () => {
    const next = random(7);
    const buffer = new ReorderBuffer();
    const given: { t: number; h: number; i: number }[] = [];
    // 5,000 events (the ring grows from 1,024 to 8,192): fractional epoch times and small
    // integers mixed, each up to 3 s out of order, one in five repeating the previous time.
    for (let i = 0; i < 5_000; i++) {
      const base = i % 3 === 0 ? 1_765_000_000_000.25 + i * 7 : i;
      const t = next() < 0.2 ? (given[given.length - 1]?.t ?? base) : base - Math.floor(next() * 3_000);
      const h = (next() * 0x7fffffff) | 0;
      given.push({ t, h, i });
      buffer.insert(ev(i), t, h);
    }
    expect(buffer.size).toBe(5_000);
    const expected = [...given].sort((x, y) => x.t - y.t || x.i - y.i);
    for (const want of expected) {
      expect(buffer.peekTime()).toBe(want.t);
      expect(buffer.peekHash()).toBe(want.h);
      expect(buffer.shift().event_id).toBe(`e${want.i}`);
    }
    expect(buffer.size).toBe(0);
    expect(buffer.peekTime()).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps -0, Infinity and a time inserted before older ones', () => {
    const buffer = new ReorderBuffer();
    buffer.insert(ev(1), 5.5);
    buffer.insert(ev(2), -0);
    buffer.insert(ev(3), Number.POSITIVE_INFINITY);
    buffer.insert(ev(4), 0);
    buffer.insert(ev(5), 5.5, 9);
    const out: [string, number][] = [];
    while (buffer.size > 0) {
      const t = buffer.peekTime();
      out.push([buffer.shift().event_id, t]);
    }
    expect(out.map(([id]) => id)).toEqual(['e2', 'e4', 'e1', 'e5', 'e3']);
    expect(Object.is(out[0]![1], -0)).toBe(true);
    expect(out.map(([, t]) => t)).toEqual([-0, 0, 5.5, 5.5, Number.POSITIVE_INFINITY]);
  });

  it('remove takes the given events out, oldest first, and keeps the others in order with their hashes', () => {
    const buffer = new ReorderBuffer();
    const events = Array.from({ length: 3_000 }, (_, i) => ev(i));
    // Wrapped around the ring: shift some first, so the head is not at 0.
    for (let i = 0; i < 100; i++) buffer.insert(ev(-i - 1), -1);
    for (let i = 0; i < 100; i++) buffer.shift();
    for (let i = events.length - 1; i >= 0; i--) buffer.insert(events[i]!, i, i + 1);
    const which = new Set(events.filter((_, i) => i % 3 === 0));
    which.add(ev(-5)); // not held: ignored
    const out = buffer.remove(which);
    expect(out.map((e) => e.t)).toEqual(events.map((_, i) => i).filter((i) => i % 3 === 0));
    expect(out.every((e) => e.event === events[e.t])).toBe(true);
    expect(buffer.size).toBe(2_000);
    for (let i = 0; i < events.length; i++) {
      if (i % 3 === 0) continue;
      expect(buffer.peekTime()).toBe(i);
      expect(buffer.peekHash()).toBe(i + 1);
      expect(buffer.shift()).toBe(events[i]);
    }
    expect(buffer.size).toBe(0);
  });
});
