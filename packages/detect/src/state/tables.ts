import type { CompiledRule } from '../compile.ts';
import type { RuleDefinition } from '../types.ts';
import type { RuleTable } from './group-runner.ts';
import { fieldsOf, projector, type Projector } from './projection.ts';
import { projectionOf } from './projection-cover.ts';
import type { RedisDetectionState } from './redis-state.ts';
import { DEFAULT_NAMESPACE, ruleStateId, tableTag, writerOf, type StateShape } from './rule-identity.ts';

/** Margin on every group TTL, so a key never expires while its window still matters. */
const TTL_MARGIN_MS = 60_000;

/**
 * The shared state's layout for a rule list: one table (one state blob per group) per
 * group-by field, so one event costs one compare-and-set per field (user, fingerprint, ...)
 * rather than one per rule; its TTL; the projection of its pending events; and the namespace of
 * the keys (the `ruleset` option, else DEFAULT_NAMESPACE). Nothing in a key or a stored group
 * is positional: a table is named by its field, a rule's state and resolve index by its state
 * id (rule-identity.ts), so replicas running different rule lists share what they have in common.
 */
export function sharedTables(
  defs: RuleDefinition[],
  compiled: CompiledRule[],
  latenessMs: number,
  state: RedisDetectionState,
  shape?: StateShape,
): { tables: RuleTable[]; projectors: Projector[]; ruleset: string } {
  const ruleset = state.rulesetOption ?? DEFAULT_NAMESPACE;
  const byField = new Map<
    string,
    {
      rules: CompiledRule[];
      sids: string[];
      rulePaths: string[][];
      breaks: boolean[];
      paths: string[];
      ttl: number;
    }
  >();
  compiled.forEach((rule, i) => {
    const def = defs[i]!;
    let t = byField.get(rule.groupBy);
    if (t === undefined) {
      t = { rules: [], sids: [], rulePaths: [], breaks: [], paths: [], ttl: 0 };
      byField.set(rule.groupBy, t);
    }
    const sid = ruleStateId(def, shape);
    // Two rules of one list with one state id (the same definition twice under one id) would
    // write one state: refused, as the loader refuses duplicate ids.
    if (t.sids.includes(sid)) throw new Error(`detection state: rule ${rule.id} is listed twice`);
    t.rules.push(rule);
    t.sids.push(sid);
    const paths = fieldsOf(def);
    t.rulePaths.push(paths);
    t.breaks.push(def.condition.kind === 'identical');
    t.paths.push(...paths);
    let ttl = rule.windowMs + rule.quietMs + latenessMs + TTL_MARGIN_MS;
    // A baseline outlives any window: its groups keep their state longer (bounded, configurable).
    if (def.condition.kind === 'baseline') ttl = Math.max(ttl, state.baselineTtlMs);
    t.ttl = Math.max(t.ttl, ttl);
  });
  const tables: RuleTable[] = [];
  const projectors: Projector[] = [];
  for (const [field, t] of byField) {
    const tag = tableTag(field);
    const projection = projectionOf(t.paths);
    tables.push({
      field,
      index: tables.length,
      tag,
      rules: t.rules,
      sids: t.sids,
      writer: writerOf(t.sids),
      indexKeys: t.sids.map((sid) => state.indexKey(ruleset, sid)),
      pendingKey: state.pendingKey(ruleset, tag),
      projectionTag: projection.tag,
      projectionFields: projection.fields,
      rulePaths: t.rulePaths,
      breaksOnUnread: t.breaks,
      ttlMs: t.ttl,
    });
    projectors.push(projector(t.paths));
  }
  return { tables, projectors, ruleset };
}
