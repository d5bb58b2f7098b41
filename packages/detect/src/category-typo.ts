import { diag } from '@opentelemetry/api';
import { CATEGORIES, type Category } from '@llmsec/core';
import type { AnyRule } from './types.ts';

/**
 * A rule may read a category of its own (the format lets apps record more), so a name that is
 * no built-in one is not an error; but `guardrail_blok` is far more likely a typo, and such a
 * rule silently never fires. A name within TYPO_DISTANCE edits of a built-in category (case
 * aside) is reported as a likely typo; a name further from all of them is taken as meant.
 */
export const TYPO_DISTANCE = 2;

const LONGEST = Math.max(...CATEGORIES.map((c) => c.length));
const BUILT_IN: ReadonlySet<string> = new Set(CATEGORIES);

/**
 * The built-in category `name` is likely a typo of (the nearest within TYPO_DISTANCE edits,
 * the first listed on a tie), or undefined for a built-in name or one further from all of them.
 * Bounded: a name longer than the longest built-in plus TYPO_DISTANCE cannot be that near and
 * is not compared, so each comparison is at most ~23 x 21 steps over ten categories.
 */
export function likelyCategoryTypo(name: string): Category | undefined {
  if (BUILT_IN.has(name) || name.length > LONGEST + TYPO_DISTANCE) return undefined;
  const lower = name.toLowerCase();
  let best: Category | undefined;
  let bestDistance = TYPO_DISTANCE + 1;
  for (const c of CATEGORIES) {
    if (Math.abs(c.length - lower.length) >= bestDistance) continue;
    const d = editDistance(lower, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * One message per (rule, category) whose category is a likely typo of a built-in one, naming
 * the file when given, the rule, the category and the built-in it is near. Custom categories
 * further from every built-in one give none.
 */
export function categoryTypoWarnings(rules: readonly AnyRule[], fileName?: string): string[] {
  const out: string[] = [];
  for (const rule of rules) {
    const categories = 'match' in rule ? rule.match.categories : rule.categories;
    for (const category of new Set(categories)) {
      const near = likelyCategoryTypo(category);
      if (near === undefined) continue;
      out.push(
        `${fileName === undefined ? '' : `${fileName}: `}rule "${rule.id}": category "${category}" is not ` +
          `built in; did you mean "${near}"? As written the rule reads no event the SDK records ` +
          `(a custom category is fine; only names within ${TYPO_DISTANCE} edits of a built-in one are warned about)`,
      );
    }
  }
  return out;
}

/** Messages already given in this process (engines are built per replay, per shard, per fallback). */
const warned = new Set<string>();

/**
 * Says each likely category typo once per process at engine construction (diag.warn), so the
 * detector's log shows it at start; the CLI's commands print theirs on stderr as they load a
 * rule file (categoryTypoWarnings), where the file's name is known.
 */
export function warnCategoryTypos(rules: readonly AnyRule[]): void {
  for (const message of categoryTypoWarnings(rules)) {
    if (warned.has(message)) continue;
    warned.add(message);
    diag.warn(`llmsec detect: ${message}`);
  }
}

/**
 * Optimal string alignment distance (insertions, deletions, substitutions, and a swap of two
 * neighbours, each one edit): `guardrail_blcok` is one edit from `guardrail_block`. Both
 * strings are short (callers cap them), so the full table is cheap.
 */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1);
    row[0] = i;
    rows.push(row);
  }
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
