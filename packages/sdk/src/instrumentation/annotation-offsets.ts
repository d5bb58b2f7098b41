/**
 * OpenAI annotations point into the text they annotate by offsets: chat `url_citation`
 * `start_index` / `end_index` (in `message.content`), Responses `url_citation` /
 * `container_file_citation` `start_index` / `end_index` and `file_citation` / `file_path`
 * `index` (in the output_text part's `text`). When an output guard rewrites that text (piiGuard
 * redact puts a placeholder in place of an address: a different length), the offsets pointed at
 * the old positions, so an app that links citations from them marked the wrong characters.
 *
 * What a reader of the new text can trust: the text before the first change and after the last
 * are unchanged (the common prefix and suffix of the old and new text). An annotation wholly in
 * the prefix keeps its offsets; one wholly in the suffix is moved by the change in length; one
 * that overlaps a change, or lies between two, is removed, since no span of the new text is
 * known to be the one it marked (and it may mark the very text the guard removed). A rewrite
 * does not say where it changed the text, and aligning two texts in general is not linear; the
 * prefix and suffix are, and they are exact. Annotations without offsets are kept as they are.
 */

import { commonPrefix, commonSuffix } from './common-ends.ts';

type Obj = Record<string, unknown>;

const OFFSETS = ['start_index', 'end_index', 'index'] as const;

/**
 * `holder.annotations` after `holder`'s text changed from `before` to `after`: offsets
 * realigned in place, annotations whose span cannot be placed removed (a new list; the old one
 * is left as it was when none is removed). Linear in the texts and the list.
 */
export function realignAnnotations(holder: Obj, before: string, after: string): void {
  const list = holder.annotations;
  if (!Array.isArray(list) || list.length === 0 || before === after) return;
  const prefix = commonPrefix(before, after);
  const suffix = commonSuffix(before, after, prefix);
  const tail = before.length - suffix;
  const shift = after.length - before.length;
  let kept: unknown[] | undefined;
  for (const [i, entry] of list.entries()) {
    if (placed(entry, prefix, tail, shift)) kept?.push(entry);
    else kept ??= list.slice(0, i);
  }
  if (kept !== undefined) holder.annotations = kept;
}

/** The entry's offsets moved when it lies in the suffix; false when it cannot be placed. */
function placed(entry: unknown, prefix: number, tail: number, shift: number): boolean {
  const a = asObj(entry);
  if (a === undefined) return true;
  // Chat nests them in the object named by its type; Responses has them at the top level.
  const nested = typeof a.type === 'string' ? asObj(a[a.type]) : undefined;
  const o = nested !== undefined && OFFSETS.some((f) => typeof nested[f] === 'number') ? nested : a;
  let inPrefix = true;
  let inSuffix = true;
  let any = false;
  for (const f of OFFSETS) {
    const v = o[f];
    if (typeof v !== 'number') continue;
    any = true;
    if (!(v <= prefix)) inPrefix = false;
    if (!(v >= tail)) inSuffix = false;
  }
  if (!any || inPrefix) return true;
  if (!inSuffix) return false;
  for (const f of OFFSETS) {
    const v = o[f];
    if (typeof v === 'number') o[f] = v + shift;
  }
  return true;
}

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}
