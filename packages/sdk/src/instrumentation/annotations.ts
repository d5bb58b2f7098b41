/**
 * The text fields of OpenAI `annotations` that reach the application beside an answer: chat
 * `message.annotations[]` (`{type: 'url_citation', url_citation: {title, url, ...}}`) and
 * Responses output_text parts' `annotations[]` (`url_citation` `{title, url}`, `file_citation`
 * / `container_file_citation` `{filename}`, and a quote where a type carries one). A page's title
 * or URL can hold what the answer's text was redacted of (a search result titled with a
 * person's address, a URL with an email in its query), so output guards read them as texts of
 * their own (output-texts.ts) and a rewrite goes back field by field.
 *
 * Read: FIELDS at the annotation's top level, then in the object named by its `type` (chat's
 * nested shape). Ids, indexes and types are not text and are left alone. Fixed shape, linear:
 * one pass over each list; entries that are not objects and fields that are not strings are
 * skipped and kept.
 */

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** The fields read, in order. */
const FIELDS = ['title', 'url', 'filename', 'quote', 'text'] as const;

/** Calls take with each string field of an annotation list, in order. */
export function eachAnnotationField(
  list: unknown,
  take: (holder: Obj, field: string, value: string) => void,
): void {
  if (!Array.isArray(list)) return;
  for (const entry of list) {
    const a = asObj(entry);
    if (a === undefined) continue;
    visit(a, take);
    const nested = typeof a.type === 'string' ? asObj(a[a.type]) : undefined;
    if (nested !== undefined) visit(nested, take);
  }
}

function visit(o: Obj, take: (holder: Obj, field: string, value: string) => void): void {
  for (const f of FIELDS) {
    const v = o[f];
    if (typeof v === 'string' && v.length > 0) take(o, f, v);
  }
}

/** The text fields of an annotation list, appended to `out`. */
export function annotationTexts(list: unknown, out: string[]): void {
  eachAnnotationField(list, (_o, _f, v) => out.push(v));
}

/**
 * Writes `texts` (from `at` on) back into the fields annotationTexts read, in place; returns the
 * index after the last one used.
 */
export function writeAnnotationTexts(list: unknown, texts: readonly string[], at: number): number {
  let i = at;
  eachAnnotationField(list, (o, f) => {
    const next = texts[i++];
    if (typeof next === 'string') o[f] = next;
  });
  return i;
}
