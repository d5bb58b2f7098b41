import { describe, expect, it } from 'vitest';
import type { Metadata, SecurityEvent } from '@llmsec/core';
import { compileRule } from '../src/compile.ts';
import { defaultRules } from '../src/default-rules.ts';
import { GroupTable } from '../src/group-table.ts';
import type { ConditionDefinition, RuleDefinition } from '../src/index.ts';
import type { SlabRule } from '../src/slab/slab-rule.ts';
import { slabRuleFor, slabRulesFor } from '../src/slab/slab-rules.ts';
import { SlabLane, type SlabStore } from '../src/slab/slab-store.ts';

/** The slab's layout and what it holds: inline ring sizes, and bounds under a flood of groups. */

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const LIMITS = { maxEventsPerWindow: 1_000, maxDistinctValues: 1_000 };

function slabOf(condition: ConditionDefinition, windowMs = 60_000): SlabRule {
  const def: RuleDefinition = {
    id: 'r',
    title: 't',
    severity: 'warning',
    match: { categories: ['c'] },
    group_by: 'user_id',
    window_ms: windowMs,
    condition,
  };
  return slabRuleFor(def, compileRule(def, 0, LIMITS), LIMITS)!;
}

function event(i: number, user: string, metadata: Metadata): SecurityEvent {
  return {
    event_id: `evt-${user}-${i}`,
    timestamp: new Date(T0 + i).toISOString(),
    category: 'c',
    severity: 'info',
    user_id: user,
    trace_id: `trace-${user}-${i}`,
    metadata,
  };
}

function spilledRows(store: SlabStore): number {
  return store.spilledCount;
}

describe('slab inline rings', () => {
  it('hold a monotonic window of max(last, min_events) values inline when it fits', () => {
    // last 2 below min_events 12: the object window keeps 12 values, and the rule cannot hold
    // with fewer, so an inline ring sized by `last` alone (8) would judge every time spilled.
    const slab = slabOf({ kind: 'monotonic', value: ['metadata.n'], min_events: 12, last: 2, factor: 1 });
    const table = new GroupTable('user_id', 10, 0, [slab]);
    let held = 0;
    for (let i = 0; i < 40; i++) {
      const g = table.touch('u');
      if (slab.update(table.slab!, g, event(i, 'u', { n: 1 + i }), T0 + i)) held++;
      expect(spilledRows(table.slab!), `event ${i}`).toBe(0);
    }
    expect(held).toBe(40 - 11);
  });

  it('spill a window longer than 16 entries, and take it back once it has shrunk', () => {
    const slab = slabOf({ kind: 'ratio', min_events: 40, field: 'metadata.b', above: 0.5 }, 100);
    const table = new GroupTable('user_id', 10, 0, [slab]);
    const store = table.slab!;
    for (let i = 0; i < 17; i++) slab.update(store, table.touch('u'), event(i, 'u', { b: true }), T0 + i);
    expect(spilledRows(store)).toBe(1);
    // Past the window: the next event finds it empty and the state comes back inline.
    slab.update(store, table.touch('u'), event(500, 'u', { b: true }), T0 + 500);
    expect(spilledRows(store)).toBe(0);
  });
});

describe('slab memory under a flood of new groups', () => {
  it('stays at the cap: pages, spill slots and strings of evicted groups are not kept', () => {
    // The default rules' user table (its five slab rules and four object rules), a cap of
    // 1,000 groups, and 20,000 users in 20 generations of 1,000: in the even generations each
    // user floods every slab rule past its inline ring, in the odd ones each sends one event,
    // in the row of a flooder of the generation before (a burst touches its row once, so the
    // hand takes the rows in turn).
    const rules = defaultRules().filter((r) => r.group_by === 'user_id');
    const slabs: SlabRule[] = [];
    for (const [i, def] of rules.entries()) {
      const slab = slabRuleFor(def, compileRule(def, i, LIMITS), LIMITS);
      if (slab !== undefined) slabs.push(slab);
    }
    expect(slabs).toHaveLength(5);
    const cap = 1_000;
    const table = new GroupTable('user_id', cap, rules.length - slabs.length, slabs);
    const store = table.slab!;
    let t = T0;
    for (let u = 0; u < 20 * cap; u++) {
      const user = `flood-${u}`;
      for (let k = 0, n = Math.floor(u / cap) % 2 === 0 ? 20 : 1; k < n; k++) {
        const g = table.touch(user);
        const e = event(k, user, {
          blocked: true,
          prompt_length: 100,
          new_input_length: 10 + k,
          prompt_tokens: 10 + k,
          completion_tokens: 1,
        });
        e.request_preview = 'x'.repeat(10 + k);
        t++;
        for (const slab of slabs) slab.update(store, g, e, t);
      }
    }
    expect(table.size).toBe(cap);
    expect(table.evicted).toBe(19_000);
    // Rows: per lane, no more rows than groups, one page of 256 rows per 256 of them.
    for (const lane of store.lanes) {
      expect(lane.rows).toBeLessThanOrEqual(cap);
      expect(lane.pageCount).toBeLessThanOrEqual(Math.ceil(cap / 256));
    }
    // At most one string row per held group and string rule.
    expect(store.stringRows).toBeLessThanOrEqual(cap * store.strStride);
    // The groups held (the last generation) have no spilled window, and the string rows name
    // only them: nothing of the flooders they replaced is kept.
    expect(spilledRows(store)).toBe(0);
    const held = new Set<string>();
    for (let u = 19_000; u < 20_000; u++) held.add(`flood-${u}`);
    for (let g = 0; g < cap; g++) {
      for (const s of store.rowStrings(g)) if (s !== undefined) expect(held.has(ownerOf(s))).toBe(true);
    }
  });
});

/** The user an id, trace or user string of this test belongs to. */
function ownerOf(s: string): string {
  return /flood-\d+/.exec(s)![0];
}

describe('slab row layout by lane', () => {
  it("puts each category's rules' scalars together where the read-ahead reads (the default rules)", () => {
    // token_usage_anomaly reads every request, the other three request rules only those
    // without block_source: laid out by where-filter its scalars sat at the row's end, a line
    // the read-ahead did not read. Every double an event's first update of a fresh group writes
    // lies in the lane's hot part, [0, laneLast] of the lane's row, at most 25 doubles: the lines
    // SlabLane.peek reads; and it writes no other lane's row.
    const rules = defaultRules().filter((r) => r.group_by === 'user_id');
    // As the engine builds them (identical_requests reads high_block_rate's window).
    const built = slabRulesFor(
      rules.map((def, i) => ({ def, rule: compileRule(def, i, LIMITS) })),
      LIMITS,
    );
    const slabs: { slab: SlabRule; categories: string[] }[] = [];
    for (const [i, slab] of built.entries())
      if (slab !== undefined) slabs.push({ slab, categories: rules[i]!.match.categories });
    const table = new GroupTable(
      'user_id',
      100,
      rules.length - slabs.length,
      slabs.map((s) => s.slab),
    );
    const store = table.slab!;
    const cases: [string, Metadata, string?][] = [
      // The replay mix's request: no new_input_length, so escalating_length writes no ring entry.
      ['request_completed', { blocked: true, prompt_length: 100, prompt_tokens: 10, completion_tokens: 1 }],
      ['guardrail_block', { guardrail_layer: 'injection' }, 'x'.repeat(40)],
      ['output_filter_block', { filter_name: 'pii' }, 'x'.repeat(40)],
    ];
    for (const [n, [category, metadata, preview]] of cases.entries()) {
      const fed = slabs.filter((s) => s.categories.includes(category));
      expect(fed.length, category).toBeGreaterThan(0);
      const lane = store.laneOf(fed[0]!.slab);
      const last = store.laneLast(fed[0]!.slab);
      expect(last, category).toBeLessThan(25);
      for (const { slab } of fed)
        expect([store.laneOf(slab), store.laneLast(slab)], category).toEqual([lane, last]);
      const g = table.touch(`u${n}`);
      const rowsBefore = store.lanes.map((l) => l.rows);
      const page = store.page(lane, g);
      const o = store.rowAt(lane, g);
      const stride = store.lanes[lane]!.stride;
      const before = page.slice(o, o + stride);
      const e = { ...event(1, `u${n}`, metadata), category };
      if (preview !== undefined) e.request_preview = preview;
      for (const { slab } of fed) slab.update(store, g, e, T0 + 1);
      const written: number[] = [];
      for (let i = 0; i < stride; i++) if (!Object.is(page[o + i], before[i])) written.push(i);
      expect(written.length, category).toBeGreaterThan(0);
      for (const i of written) {
        expect(i, `${category}: double ${i} of the row`).toBeGreaterThanOrEqual(0);
        expect(i, `${category}: double ${i} of the row`).toBeLessThanOrEqual(last);
      }
      // Only the event's lane has a row for the new group: the one its page/rowAt above made.
      expect(
        store.lanes.map((l) => l.rows),
        category,
      ).toEqual(rowsBefore.map((r, i) => (i === lane ? r + 1 : r)));
    }
  });

  it('a request whose monotonic window is empty reads no string-row slot (it is not read ahead)', () => {
    // escalating_length keeps its entries' ids in a string row made at the window's first entry;
    // the slot holding it (SlabStore.strings: 8 B a group in pages) is outside the lane's row and
    // not read ahead, so with many users reading it was a cache miss per request. A request
    // without new_input_length (the replay mix's, most traffic) leaves the window empty and must
    // not read it; once the window has entries it is read (and the ids land there).
    const rules = defaultRules().filter((r) => r.match.categories.includes('request_completed'));
    const built = slabRulesFor(
      rules.map((def, i) => ({ def, rule: compileRule(def, i, LIMITS) })),
      LIMITS,
    );
    const slabs = built.filter((s): s is SlabRule => s !== undefined);
    expect(slabs.length).toBe(rules.length);
    const table = new GroupTable('user_id', 100, 0, slabs);
    const store = table.slab!;
    let reads = 0;
    const strings = store.strings.bind(store);
    store.strings = (g, slot) => {
      reads++;
      return strings(g, slot);
    };
    const g = table.touch('u');
    const request = (i: number, metadata: Metadata): SecurityEvent => ({
      ...event(i, 'u', metadata),
      category: 'request_completed',
    });
    // Within the window and past it (5 min): never a valued event.
    for (const i of [1, 2, 3, 400_000, 400_001])
      for (const slab of slabs)
        slab.update(store, g, request(i, { prompt_tokens: 10, blocked: false }), T0 + i);
    expect(reads).toBe(0);
    expect(store.stringRows).toBe(0);
    for (const i of [400_002, 400_003])
      for (const slab of slabs)
        slab.update(store, g, request(i, { prompt_tokens: 10, new_input_length: i - 400_000 }), T0 + i);
    expect(reads).toBeGreaterThan(0);
    expect(store.rowStrings(g)).toContain('evt-u-400003');
  });
});

describe('the read-ahead of a lane (group-prefetch.ts)', () => {
  it('reads a row only where the group has one, and makes, moves or writes none', () => {
    const template = Float64Array.from({ length: 28 }, (_, i) => i + 1);
    const lane = new SlabLane(template);
    // Room for 600 groups, grown as the store grows it (a group at a time).
    for (let g = 1; g <= 600; g++) lane.grow(g);
    // No row yet: -1, and asking makes none.
    expect(lane.rowIfAny(5)).toBe(-1);
    expect([lane.rows, lane.pageCount]).toEqual([0, 0]);
    // Rows on two pages (256 rows a page), the index the read-ahead finds is the update's.
    for (let g = 0; g < 600; g += 2) lane.row(g);
    expect([lane.rows, lane.pageCount]).toEqual([300, 2]);
    for (let g = 0; g < 600; g++) {
      const r = lane.rowIfAny(g);
      expect(r).toBe(g % 2 === 0 ? lane.row(g) : -1);
      if (r < 0) continue;
      const page = lane.pageOf(r);
      const o = lane.offsetOf(r);
      const before = page.slice(o, o + 28);
      // The template's doubles are positive: each span's reads see them (1), for every hot part.
      for (const last of [0, 7, 8, 15, 16, 24, 27]) expect(lane.peek(r, last)).toBe(1);
      expect(page.slice(o, o + 28)).toEqual(before);
    }
    expect([lane.rows, lane.pageCount]).toEqual([300, 2]);
    // A released row is none again.
    lane.release(0);
    expect(lane.rowIfAny(0)).toBe(-1);
  });
});
