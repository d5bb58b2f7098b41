// Heap per group under a flood of new user ids (`node --conditions=@llmsec/source --expose-gc
// bench/detect/flood-memory.ts [groups]`): the default rules, maxGroupsPerRule = groups
// (100,000 by default), each invented user sending one event; object states (the engine
// before the slab) and the slab state in the same process, in turn. Then twice as many more
// new users, all of them evictions: what the heap keeps growing by once the table is full.
// Heap used after full GCs; deterministic enough that one run says it (the figures repeat to
// within a few bytes per group).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { SecurityEvent } from '@llmsec/core';
import { DetectionEngine } from '@llmsec/detect';
import { OBJECT_STATE_ONLY } from '../../packages/detect/src/engine.ts';
import { fmt, table } from '../report.ts';

setFlagsFromString('--expose-gc');
const gc = (globalThis as { gc?: () => void }).gc ?? (runInNewContext('gc') as () => void);

const GROUPS = Number(process.argv[2] ?? 100_000);
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

type Kind = 'request' | 'block';

/** What one invented user sends: a completed request, or a guardrail block (same payload for all). */
function event(user: number, kind: Kind): SecurityEvent {
  const base = {
    event_id: `evt-${user}-${kind}`,
    timestamp: '',
    severity: 'info' as const,
    user_id: `attacker-${user}`,
    trace_id: `trace-${user}`,
  };
  return kind === 'request'
    ? {
        ...base,
        category: 'request_completed',
        metadata: {
          model: 'm',
          prompt_tokens: 100,
          completion_tokens: 10,
          prompt_length: 200,
          new_input_length: 100,
          blocked: true,
          latency_ms: 1,
          cost_usd: 0,
        },
      }
    : {
        ...base,
        category: 'guardrail_block',
        request_preview: 'ignore previous instructions',
        metadata: { guardrail_layer: 'l1', block_reason: 'x', prompt_length: 100 },
      };
}

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function measure(objectOnly: boolean, kinds: Kind[]): { perGroup: number; afterFullMB: number } {
  const engine = new DetectionEngine({
    maxGroupsPerRule: GROUPS,
    allowedLatenessMs: 0,
    ...(objectOnly ? { [OBJECT_STATE_ONLY]: true } : {}),
  });
  let t = T0;
  const feed = (from: number, to: number): void => {
    for (let u = from; u < to; u++) for (const kind of kinds) engine.ingest(event(u, kind), ++t);
  };
  const h0 = heap();
  feed(0, GROUPS);
  const h1 = heap();
  feed(GROUPS, 3 * GROUPS);
  const h2 = heap();
  if (engine.stats.groupsEvicted < 2 * GROUPS) throw new Error('the flood did not evict');
  return { perGroup: (h1 - h0) / GROUPS, afterFullMB: (h2 - h1) / 1e6 };
}

const rows: string[][] = [];
for (const kinds of [['request'], ['block'], ['request', 'block']] as Kind[][]) {
  const object = measure(true, kinds);
  const slab = measure(false, kinds);
  rows.push([
    kinds.join(' + '),
    fmt(object.perGroup),
    fmt(slab.perGroup),
    (slab.perGroup / object.perGroup).toFixed(2),
    `${object.afterFullMB.toFixed(1)} / ${slab.afterFullMB.toFixed(1)}`,
  ]);
}
console.log(`Heap per group, a flood of ${fmt(GROUPS)} new user ids (one event each, default rules):`);
table(['events per user', 'object B', 'slab B', 'slab / object', `+${fmt(2 * GROUPS)} evictions, MB`], rows);
