import { hash } from 'node:crypto';
import { ALWAYS_KEPT } from './projection.ts';

/**
 * Which rules may judge a pending event projected by another process. A pending event keeps only
 * the fields its writer's rules read (projection.ts), and replicas of two releases share a group
 * (rule-identity.ts): a rule that only the newer release runs would otherwise judge an older
 * replica's event by fields that were cut from it, as absent (`exists: false`, `not_in` hold; a
 * `distinct` field counts as missing). Each pending event carries its writer's projection tag,
 * the group the tag's fields (GroupBody.f); a rule whose fields the event's projection does not
 * hold skips that event, as it would an event of a category it does not read.
 */

/** A projection's fields, sorted and without duplicates or the always-kept ones, and its tag. */
export function projectionOf(paths: Iterable<string>): { tag: string; fields: string[] } {
  const fields = [...new Set(paths)].filter((p) => !ALWAYS_KEPT.includes(p)).sort();
  return { tag: hash('sha256', JSON.stringify(fields), 'base64url').slice(0, 8), fields };
}

/**
 * Per foreign tag met in one group step: per rule of the table, whether the event's projection
 * holds every field the rule reads. A tag the group does not describe (a damaged state) is taken
 * as holding them: the event is judged as it is, as before projections were tagged.
 */
export class ProjectionCover {
  private readonly seen = new Map<string, boolean[]>();
  private readonly ownTag: string;
  /** Per rule: the fields it reads (fieldsOf). */
  private readonly rulePaths: readonly (readonly string[])[];
  /** The group's tag table (GroupBody.f). */
  private readonly known: Record<string, unknown>;

  constructor(ownTag: string, rulePaths: readonly (readonly string[])[], known: Record<string, unknown>) {
    this.ownTag = ownTag;
    this.rulePaths = rulePaths;
    this.known = known;
  }

  /** Whether rule `j` may judge an event projected under `tag`. */
  covers(tag: unknown, j: number): boolean {
    if (tag === undefined || tag === this.ownTag || typeof tag !== 'string') return true;
    let per = this.seen.get(tag);
    if (per === undefined) {
      const fields = this.known[tag];
      const has = Array.isArray(fields) ? new Set(fields.filter((f) => typeof f === 'string')) : undefined;
      per = this.rulePaths.map(
        (paths) => has === undefined || paths.every((p) => ALWAYS_KEPT.includes(p) || has.has(p)),
      );
      this.seen.set(tag, per);
    }
    return per[j] ?? true;
  }
}
