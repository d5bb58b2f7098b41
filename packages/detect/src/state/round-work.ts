import type { SecurityEvent } from '@llmsec/core';
import { keyString } from '../fields.ts';
import type { RuleTable } from './group-runner.ts';
import type { PendingGroups } from './pending-groups.ts';
import type { Projector } from './projection.ts';
import type { RedisDetectionState } from './redis-state.ts';

/** Members read per index per round (orphaned pending groups, due incidents). */
const SWEEP_LIMIT = 256;

/** One group to step in a round, and why. */
export interface Work {
  table: RuleTable;
  key: string;
  /** Known when the work comes from an event; sweeps and releases read it from the body. */
  group: string | undefined;
  events: { t: number; event: SecurityEvent }[];
  /** The rule (its process-local index) whose resolve index named this group (a sweep). */
  fromIndex: number | undefined;
  /** Found in the shared pending index (left there by a process that may be gone). */
  swept?: boolean;
  /** Its events are a failed round's, shipped again (HeldBatch): the group may hold them already. */
  resent?: boolean;
}

/** Index updates a round collects (per index key: flat triples op, member, score), sent after its group writes. */
export interface RoundOps {
  /** Resolve index per rule (OPEN_INDEX_LUA), by its key. */
  index: Map<string, (string | number)[]>;
  /** Shared pending index per table (INDEX_LUA), by its key. */
  pending: Map<string, (string | number)[]>;
}

export function pushOp(
  ops: Map<string, (string | number)[]>,
  at: string,
  op: 0 | 1,
  key: string,
  score: number,
): void {
  let list = ops.get(at);
  if (list === undefined) ops.set(at, (list = []));
  list.push(op, key, score);
}

export interface RoundInput {
  state: RedisDetectionState;
  ruleset: string;
  tables: RuleTable[];
  projectors: Projector[];
  latenessMs: number;
}

/**
 * The groups one round steps: those the batch's events touch (each event projected once per
 * group-by table it matches), those this process left pending that the watermark released (all
 * of them on the final round), orphans in the shared pending index, and groups whose incidents
 * are due by the watermark, whichever process opened them.
 */
export async function collectWork(
  input: RoundInput,
  batch: readonly { t: number; event: SecurityEvent }[],
  pending: PendingGroups,
  watermark: number,
  final: boolean,
): Promise<Map<string, Work>> {
  const { state, ruleset, tables, projectors } = input;
  const work = new Map<string, Work>();
  for (const { t, event } of batch) {
    for (let ti = 0; ti < tables.length; ti++) {
      const table = tables[ti]!;
      let group: string | undefined;
      for (const rule of table.rules) {
        if (!rule.categories.includes(event.category)) continue;
        if (rule.filter !== undefined && !rule.filter(event)) continue;
        group = keyString(rule.groupKey(event));
        break;
      }
      if (group === undefined) continue;
      const key = state.groupKey(ruleset, table.tag, group);
      let w = work.get(key);
      if (w === undefined) {
        w = { table, key, group, events: [], fromIndex: undefined };
        work.set(key, w);
      }
      w.events.push({ t, event: projectors[ti]!(event) });
    }
  }
  for (const [key, p] of pending.entries()) {
    if ((final || p.from <= watermark) && !work.has(key)) {
      work.set(key, { table: p.table, key, group: undefined, events: [], fromIndex: undefined });
    }
  }
  // Groups whose oldest pending event the watermark passed a whole lateness ago: the process
  // that left them pending (and releases them on its next round) is gone, killed before it
  // could, or stopped ticking. Anyone releases them, so an attack's events do not wait for
  // more events in the group, or expire unprocessed.
  const orphanLists = await Promise.all(
    tables.map(async (table) => ({
      table,
      members: await state.dueMembers(table.pendingKey, watermark - input.latenessMs, SWEEP_LIMIT),
    })),
  );
  for (const { table, members } of orphanLists) {
    for (const key of members) {
      const w = work.get(key);
      if (w === undefined)
        work.set(key, { table, key, group: undefined, events: [], fromIndex: undefined, swept: true });
      else w.swept = true;
    }
  }
  // Incidents due by the watermark, whichever process opened them.
  const dueLists = await Promise.all(
    tables.flatMap((table) =>
      table.rules.map(async (rule, j) => ({
        table,
        rule: rule.index,
        members: await state.dueMembers(table.indexKeys[j]!, watermark, SWEEP_LIMIT),
      })),
    ),
  );
  for (const { table, rule, members } of dueLists) {
    for (const key of members) {
      const w = work.get(key);
      if (w === undefined) work.set(key, { table, key, group: undefined, events: [], fromIndex: rule });
      else w.fromIndex ??= rule;
    }
  }
  return work;
}
