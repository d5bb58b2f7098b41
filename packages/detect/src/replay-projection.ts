import type { SecurityEvent } from '@llmsec/core';
import { fieldsOf, projector, type Projector } from './state/projection.ts';
import type { RuleDefinition } from './types.ts';

/**
 * What a replay's engine needs of each event, per category: the shared state's projection
 * (ids, user, category, severity, trace and span, the fields of the rules matching the category;
 * the payload fingerprint instead of the preview it is computed from) plus the timestamp. An
 * event of a category no rule matches keeps only what every event needs (it still advances
 * event time and resolves incidents). The reader thread sends these to the engine's thread, so
 * the previews and descriptions of a log never cross threads.
 */
export class ReplayProjection {
  private readonly byCategory = new Map<string, Projector>();
  private readonly other: Projector = projector([]);

  constructor(rules: readonly RuleDefinition[]) {
    const paths = new Map<string, string[]>();
    for (const rule of rules) {
      for (const category of rule.match.categories) {
        const list = paths.get(category) ?? [];
        list.push(...fieldsOf(rule));
        paths.set(category, list);
      }
    }
    for (const [category, list] of paths) this.byCategory.set(category, projector(list));
  }

  project(event: SecurityEvent): SecurityEvent {
    const out = (this.byCategory.get(event.category) ?? this.other)(event);
    out.timestamp = event.timestamp;
    return out;
  }
}
