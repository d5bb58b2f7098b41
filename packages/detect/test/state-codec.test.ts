import type { SecurityEvent } from '@llmsec/core';
import { describe, expect, it } from 'vitest';
import { compileRule } from '../src/compile.ts';
import { IdenticalState } from '../src/conditions/identical.ts';
import { MonotonicState } from '../src/conditions/monotonic.ts';
import { RatioState } from '../src/conditions/ratio.ts';
import { defaultRules } from '../src/default-rules.ts';
import { decodeState, encodeState } from '../src/state/codec.ts';

/**
 * Ratio, identical and monotonic states are one object (the ring, with their fields beside it)
 * since issue 13; before, the ring was a field of a plain object. The codec writes them as it
 * did, so states stored in Redis by either version read back the same. The texts below were
 * written by the previous version for the events of `events()`. Monotonic windows keep their
 * events' trace ids since (an alert's trace_ids are its evidence's): NOW is what this version
 * writes for them, and a text written before reads back with the trace column, entries without
 * a trace, and goes on as the live state does.
 */
const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const NOW: Record<string, string> = {
  escalating_length:
    '{"ring":{"$R":[10,7,[1795341600000,1000,1000,1000],["e0","e1","e2","e3"],[null,"t1",null,"t3"],[10,30,50,70],0]},"run":4,"prev":70}',
  escalating_complexity:
    '{"ring":{"$R":[1000,7,[1795341600000,1000,1000,1000],["e0","e1","e2","e3"],[null,"t1",null,"t3"],[10,40,70,100],0]},"run":4,"prev":100}',
};
/** A monotonic state's text without the trace ids of e0-e3: the entries an older version wrote. */
function untracedOld(text: string): string {
  const o = JSON.parse(text) as { ring: { $R: unknown[] } };
  const ids = o.ring.$R[3] as string[];
  const traces = o.ring.$R[4] as (string | null)[];
  ids.forEach((id, k) => {
    if (['e0', 'e1', 'e2', 'e3'].includes(id)) traces[k] = null;
  });
  return JSON.stringify(o);
}

const WRITTEN_BEFORE: Record<string, [string, new (...a: never[]) => object]> = {
  high_block_rate: [
    '{"ring":{"$R":[1000,4,[1795341600000,1000,1000,1000],0,0,[1,0,1,0],0]},"hits":2}',
    RatioState,
  ],
  identical_requests: [
    '{"ring":{"$R":[6,0,[1795341600000,1000,1000,1000],0,0,0,0]},"value":500,"breakAt":{"$n":"-Inf"},"prevAt":1795341603000}',
    IdenticalState,
  ],
  escalating_length: [
    '{"ring":{"$R":[10,5,[1795341600000,1000,1000,1000],["e0","e1","e2","e3"],0,[10,30,50,70],0]},"run":4,"prev":70}',
    MonotonicState,
  ],
  escalating_complexity: [
    '{"ring":{"$R":[1000,5,[1795341600000,1000,1000,1000],["e0","e1","e2","e3"],0,[10,40,70,100],0]},"run":4,"prev":100}',
    MonotonicState,
  ],
};

function event(i: number, category: string): SecurityEvent {
  return {
    event_id: `e${i}`,
    timestamp: '',
    category,
    severity: 'info',
    user_id: 'u',
    ...(i % 2 ? { trace_id: `t${i}` } : {}),
    request_preview: 'x'.repeat(10 + i * 30),
    // A block's prompt_length is its payload's (escalating_complexity reads it before the preview).
    metadata: {
      blocked: i % 2 === 0,
      prompt_length: category.endsWith('_block') ? 10 + i * 30 : 500,
      new_input_length: 10 + i * 20,
    },
  };
}

describe('state codec', () => {
  for (const [id, [text, type]] of Object.entries(WRITTEN_BEFORE)) {
    it(`${id}: writes the text the previous version wrote, and reads it back as the same state`, () => {
      const def = defaultRules().find((r) => r.id === id)!;
      const rule = compileRule(def, 0, { maxEventsPerWindow: 1000, maxDistinctValues: 1000 });
      const cond = rule.condition;
      const category = def.match.categories[0]!;
      const live = cond.createState();
      for (let i = 0; i < 4; i++) cond.update(live, event(i, category), T0 + i * 1000);
      expect(live).toBeInstanceOf(type);
      const now = NOW[id];
      expect(encodeState(live)).toBe(now ?? text);

      const read = decodeState<unknown>(text);
      expect(read).toBeInstanceOf(type);
      expect(encodeState(read)).toBe(now !== undefined ? untracedOld(now) : text);
      if (now !== undefined) expect(encodeState(decodeState<unknown>(now))).toBe(now);
      // And it goes on as the live one does (the old entries without their traces, until they leave).
      for (let i = 4; i < 12; i++) {
        const e = event(i, category);
        expect(cond.update(read, e, T0 + i * 1000)).toBe(cond.update(live, e, T0 + i * 1000));
        const written = encodeState(live);
        expect(encodeState(read)).toBe(now !== undefined ? untracedOld(written) : written);
      }
      expect(cond.describe(read, T0 + 12_000)).toBe(cond.describe(live, T0 + 12_000));
    });
  }

  it('leaves other objects holding a ring as plain objects (cross-group: { ring, counts })', () => {
    const text = '{"ring":{"$R":[5,11,[1795341600000],["e0"],[null],0,["u1"]]},"counts":{"$M":[["u1",1]]}}';
    const read = decodeState<{ ring: unknown; counts: Map<string, number> }>(text);
    expect(read.constructor).toBe(Object);
    expect(read.counts.get('u1')).toBe(1);
    expect(encodeState(read)).toBe(text);
  });
});
