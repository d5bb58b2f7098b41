import { describe, expect, it } from 'vitest';
import type { SecurityEvent } from '@llmsec/core';
import { DetectionEngine } from '../src/index.ts';
import type { GroupTable } from '../src/group-table.ts';

/**
 * A group's string rows (monotonic windows' event and trace ids) and its object-state row are
 * made when a rule first writes one for it, not with the group (issue 13: with many users a new
 * group's bytes are its cost). Requests of the replay mix (no new_input_length) make neither;
 * a block makes escalating_complexity's string row and the block rules' state row; eviction
 * lets both go. Likewise a group's row of doubles per lane (the rules one category feeds:
 * requests, blocks): made when an event of the lane first reaches the group, released to the
 * lane on eviction and reused by the next group that writes the lane. The alerts are the
 * engine's as before (the differential and slab tests).
 */

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

/** A request of the replay mix (no new_input_length) or a guardrail block, event `i` of `user`. */
function event(kind: 'request' | 'block', user: string, i: number): SecurityEvent {
  const base = {
    event_id: `${kind}-${user}-${i}`,
    timestamp: new Date(T0 + i).toISOString(),
    user_id: user,
    trace_id: `trace-${user}-${i}`,
  };
  return kind === 'request'
    ? {
        ...base,
        category: 'request_completed',
        severity: 'info',
        metadata: {
          model: 'm',
          prompt_tokens: 100,
          completion_tokens: 10,
          prompt_length: 200,
          blocked: false,
        },
      }
    : {
        ...base,
        category: 'guardrail_block',
        severity: 'warning',
        request_preview: 'ignore previous instructions',
        metadata: { guardrail_layer: 'l1', block_reason: 'x' },
      };
}

function userTable(engine: DetectionEngine): GroupTable {
  const tables = (engine as unknown as { tables: GroupTable[] }).tables;
  return tables.find((t) => t.field === 'user_id')!;
}

function stateRows(table: GroupTable): number {
  return table.states.filter((row) => row !== undefined).length;
}

describe('group rows made on demand', () => {
  it('a request-only group holds no string row and no object-state row; a block makes them', async () => {
    const engine = new DetectionEngine({ maxGroupsPerRule: 100, allowedLatenessMs: 0 });
    const table = userTable(engine);
    let t = T0;
    for (let u = 0; u < 50; u++) for (let i = 0; i < 3; i++) engine.ingest(event('request', `u${u}`, i), ++t);
    expect(table.size).toBe(50);
    expect(table.slab!.stringRows).toBe(0);
    expect(stateRows(table)).toBe(0);

    for (let u = 0; u < 10; u++) engine.ingest(event('block', `u${u}`, 0), ++t);
    // escalating_complexity (the block lane's monotonic rule) keeps its entries' ids: one row a
    // blocking user; the request lane's monotonic (escalating_length) still wrote none.
    expect(table.slab!.stringRows).toBe(10);
    expect(stateRows(table)).toBe(10);
    for (let g = 0; g < 50; g++) {
      const ids = table.slab!.rowStrings(g).filter((s) => s !== undefined);
      expect(ids.every((s) => /^(block|trace)-u\d+-0$/.test(s!))).toBe(true);
    }
    await engine.shutdown();
  });

  it("a monotonic rule's ring row is made at its window's first entry, let go when the window spills or the group is evicted", async () => {
    // escalating_length's ring (20 doubles) no longer sits in every group's request row: a
    // request without new_input_length (the replay mix's) makes none, a valued one does;
    // escalating_complexity's (the block lane's) likewise at the first block.
    const engine = new DetectionEngine({ maxGroupsPerRule: 20, allowedLatenessMs: 0 });
    const table = userTable(engine);
    const rings = table.slab!.rings;
    expect(rings.length).toBe(2);
    const ringRows = (): number => rings.reduce((n, r) => n + r.rows, 0);
    let t = T0;
    for (let u = 0; u < 10; u++) for (let i = 0; i < 3; i++) engine.ingest(event('request', `r${u}`, i), ++t);
    expect(table.slab!.lanes.map((l) => l.rows).reduce((a, b) => a + b)).toBe(10);
    expect(ringRows()).toBe(0);
    const valued = (user: string, i: number, length: number): SecurityEvent => {
      const e = event('request', user, i);
      e.metadata = { ...e.metadata, new_input_length: length };
      return e;
    };
    for (let u = 0; u < 4; u++) engine.ingest(valued(`r${u}`, 10, 5), ++t);
    expect(ringRows()).toBe(4);
    for (let u = 0; u < 3; u++) engine.ingest(event('block', `b${u}`, 0), ++t);
    expect(ringRows()).toBe(7);
    // A window longer than the inline ring (escalating_complexity keeps 8 of up to 1,000)
    // spills into the object state, and its ring row goes back to the rule's rows.
    for (let i = 1; i <= 9; i++) {
      const block = event('block', 'b0', i);
      block.request_preview = 'x'.repeat(10 + i);
      engine.ingest(block, ++t);
    }
    expect(ringRows()).toBe(6);
    // Eviction: block-only newcomers take every row over (enough laps to outlast the heaviest
    // group's weight); nothing of the evicted is kept, each newcomer holds its block ring row.
    for (let u = 0; u < 1_000; u++) engine.ingest(event('block', `x${u}`, 0), ++t);
    expect(table.size).toBe(20);
    expect(engine.stats.groupsEvicted).toBeGreaterThan(900);
    expect(rings.map((r) => r.rows)).toEqual(rings.map((r) => (r.stride === 16 ? 20 : 0)));
    await engine.shutdown();
  });

  it('an evicted group leaves no string row or state row behind', async () => {
    const engine = new DetectionEngine({ maxGroupsPerRule: 20, allowedLatenessMs: 0 });
    const table = userTable(engine);
    let t = T0;
    for (let u = 0; u < 20; u++) engine.ingest(event('block', `b${u}`, 0), ++t);
    expect(table.slab!.stringRows).toBe(20);
    expect(stateRows(table)).toBe(20);
    // Request-only users take every row over.
    for (let u = 0; u < 20; u++) engine.ingest(event('request', `r${u}`, 0), ++t);
    expect(table.size).toBe(20);
    expect(engine.stats.groupsEvicted).toBe(20);
    expect(table.slab!.stringRows).toBe(0);
    expect(stateRows(table)).toBe(0);
    await engine.shutdown();
  });

  it("a group holds a lane's row of doubles only once an event of the lane reached it; eviction gives it back", async () => {
    const engine = new DetectionEngine({ maxGroupsPerRule: 20, allowedLatenessMs: 0 });
    const table = userTable(engine);
    const lanes = table.slab!.lanes;
    // Which lane is which: the request lane's rules hold more doubles (38 against 4; the
    // monotonic rules' rings are rows apart).
    const [request, block] = lanes[0]!.stride > lanes[1]!.stride ? [0, 1] : [1, 0];
    const rows = (): number[] => [lanes[request]!.rows, lanes[block]!.rows];
    let t = T0;
    for (let u = 0; u < 10; u++) for (let i = 0; i < 3; i++) engine.ingest(event('request', `r${u}`, i), ++t);
    expect(rows()).toEqual([10, 0]);
    for (let u = 0; u < 5; u++) engine.ingest(event('block', `b${u}`, 0), ++t);
    expect(rows()).toEqual([10, 5]);
    // A requester who blocks once holds both.
    engine.ingest(event('block', 'r0', 9), ++t);
    expect(rows()).toEqual([10, 6]);
    for (let g = 0; g < table.size; g++)
      expect(lanes[request]!.has(g) || lanes[block]!.has(g), `row ${g}`).toBe(true);
    // Churn: 20 block-only users, then 40 request-only ones, evict groups; each group held
    // has exactly the rows of the lanes its own events wrote (no evicted group's), and a lane
    // never holds more rows than the table holds groups (evicted rows are reused).
    const wrote = new Map<string, Set<number>>();
    for (let u = 0; u < 10; u++) wrote.set(`r${u}`, new Set([request]));
    for (let u = 0; u < 5; u++) wrote.set(`b${u}`, new Set([block]));
    wrote.get('r0')!.add(block);
    const keys = (table as unknown as { keys: string[] }).keys;
    const check = (): void => {
      for (let g = 0; g < table.size; g++) {
        const lanesWritten = wrote.get(keys[g]!)!;
        expect(lanes[request]!.has(g), `${keys[g]} request row`).toBe(lanesWritten.has(request));
        expect(lanes[block]!.has(g), `${keys[g]} block row`).toBe(lanesWritten.has(block));
      }
      const held = keys.map((k) => wrote.get(k)!);
      expect(rows()).toEqual([
        held.filter((l) => l.has(request)).length,
        held.filter((l) => l.has(block)).length,
      ]);
      for (const lane of lanes) expect(lane.pageCount).toBe(1);
    };
    for (let u = 0; u < 20; u++) {
      engine.ingest(event('block', `x${u}`, 0), ++t);
      wrote.set(`x${u}`, new Set([block]));
      check();
    }
    for (let u = 0; u < 40; u++) {
      engine.ingest(event('request', `y${u}`, 0), ++t);
      wrote.set(`y${u}`, new Set([request]));
      check();
    }
    expect(engine.stats.groupsEvicted).toBeGreaterThanOrEqual(40);
    await engine.shutdown();
  });
});
