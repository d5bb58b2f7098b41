import type { SecurityEvent } from '@llmsec/core';
import type { CompiledRule } from './compile.ts';
import type { EngineLimits } from './engine-limits.ts';
import type { EngineRule } from './engine-rules.ts';
import type { GroupPrefetch } from './group-prefetch.ts';
import { GroupTable } from './group-table.ts';
import { OpenIncidents } from './open-incidents.ts';
import { OverflowIncidents } from './overflow-incidents.ts';
import type { SlabRule } from './slab/slab-rule.ts';

/** One rule at run time: its compiled form, its group table and its two incident tiers. */
export interface RuleRuntime {
  rule: CompiledRule;
  table: GroupTable;
  /** Open incidents by group key, in order of lastTrueAt. */
  open: OpenIncidents;
  /** Incidents opened while `open` was at maxOpenIncidentsPerRule (see OverflowIncidents). */
  overflow: OverflowIncidents;
}

/**
 * One rule as the hot path calls it, for one category: everything `process` reads, in one
 * object of one shape, so each load is monomorphic (the condition objects come in many
 * shapes, and loading `update` from them would not be).
 */
export interface Dispatch {
  rt: RuleRuntime;
  /** The rule's slot in its table's object-state rows (states[g][slot]); -1 for a slab rule. */
  slot: number;
  /** The rule's slab implementation, when its state lives in the table's slab instead. */
  slab: SlabRule | undefined;
  filter: ((event: SecurityEvent) => boolean) | undefined;
  groupKey: (event: SecurityEvent) => unknown;
  table: GroupTable;
  condition: CompiledRule['condition'];
  update: CompiledRule['condition']['update'];
}

export interface DispatchTables {
  /** One per rule, in rule order. */
  runtimes: RuleRuntime[];
  /** One per group key. */
  tables: GroupTable[];
  /** The rules reading each category, in rule order. */
  byCategory: Map<string, Dispatch[]>;
}

/**
 * Lays the compiled rules out for the hot path: one group table per group key (a slot per
 * object-state rule in its rows, a region per slab rule), and per category the list of
 * dispatches to run. Registers each rule's groups with the prefetcher, if any.
 */
export function buildDispatchTables(
  compiled: readonly EngineRule[],
  limits: Pick<EngineLimits, 'maxGroupsPerRule' | 'maxOverflowIncidentsPerRule'>,
  prefetch: GroupPrefetch | undefined,
): DispatchTables {
  const tables: GroupTable[] = [];
  const byCategory = new Map<string, Dispatch[]>();
  const tablesByField = new Map<string, { slots: number; slabRules: SlabRule[]; table?: GroupTable }>();
  const slots = compiled.map(({ rule, slab }) => {
    let entry = tablesByField.get(rule.groupBy);
    if (entry === undefined) {
      entry = { slots: 0, slabRules: [] };
      tablesByField.set(rule.groupBy, entry);
    }
    if (slab !== undefined) {
      entry.slabRules.push(slab);
      return -1;
    }
    return entry.slots++;
  });
  const runtimes = compiled.map(({ rule, slab }, i) => {
    const entry = tablesByField.get(rule.groupBy)!;
    let table = entry.table;
    if (table === undefined) {
      table = new GroupTable(rule.groupBy, limits.maxGroupsPerRule, entry.slots, entry.slabRules);
      entry.table = table;
      tables.push(table);
    }
    const runtime: RuleRuntime = {
      rule,
      table,
      open: new OpenIncidents(),
      overflow: new OverflowIncidents(limits.maxOverflowIncidentsPerRule),
    };
    const dispatch: Dispatch = {
      rt: runtime,
      slot: slots[i]!,
      slab,
      filter: rule.filter,
      groupKey: rule.groupKey,
      table,
      condition: rule.condition,
      update: rule.condition.update,
    };
    for (const category of rule.categories) {
      prefetch?.add(
        category,
        table,
        rule.groupBy,
        rule.groupKey,
        dispatch.slot,
        slab === undefined ? 0 : table.slab!.laneOf(slab),
        slab === undefined ? 0 : table.slab!.laneLast(slab),
      );
      const list = byCategory.get(category);
      if (list === undefined) byCategory.set(category, [dispatch]);
      else list.push(dispatch);
    }
    return runtime;
  });
  return { runtimes, tables, byCategory };
}
