import { commonPrefix, commonSuffix } from './common-ends.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { valueText } from './tool-arguments.ts';

/**
 * A chat message's `content` as an array of parts, which some OpenAI-compatible servers send in
 * an answer (`choices[i].message.content`; the openai package's type for an assistant message
 * allows it) and in a streamed delta (`delta.content`): `[{type: 'text', text}, {type:
 * 'refusal', refusal}]`. Before, the output guards read `content` only as a string: an address
 * in a text part passed detect, block and redact.
 *
 * The text-bearing parts (any part's `text`, then its `refusal`, whatever its `type`: textFields) are read back to
 * back as one answer text, as a reader shows them and as a stream's parts are read (one lane per
 * choice), found as `text`, under one `maxChars` as a string content is. Read one text per part,
 * an address cut between two parts passed every mode (neither half is one), and a long answer
 * cut into many parts was scanned for personal data in full, each part under its own cap. A
 * rewrite goes back into the parts (writeContentParts), the array's shape kept. A part that is
 * text itself, not an object (a string, number, boolean or list: bare), is read in its place.
 * Parts with neither field, or both null (images, audio), are neither read nor touched. Linear:
 * one pass over the parts.
 *
 * A text-bearing part whose field is there but not a string (an array, an object, a number: not
 * the API's shape, but a server may send it) is read as its JSON text (partText), as Anthropic's
 * tool input object is (tool-arguments.ts): every string in it verbatim, so what an application
 * that stringifies the part shows is what the guards read. Before, it was neither read nor
 * touched: `{type: 'text', text: ['jane.doe@example.com']}` passed detect, block and redact, plain
 * and streamed. A redact that changes its text writes the rewrite as a string in its place (the
 * value's shape is not kept: its rewrite need not be JSON, a placeholder in place of a number).
 *
 * A `content` that is one part object, not in a list (`{type: 'text', text}`, in an answer or a
 * delta), is read as a one-part array holding it (contentParts: same cap, found as `text`, a
 * rewrite written into the object); a number or boolean as its JSON text (scalarContent). Before,
 * neither was read: an address or a card number there passed detect, block and redact.
 */

type Obj = Record<string, unknown>;

type Field = 'text' | 'refusal';
const NONE: readonly Field[] = [];
const TEXT: readonly Field[] = ['text'];
const REFUSAL: readonly Field[] = ['refusal'];
const BOTH: readonly Field[] = ['text', 'refusal'];

/**
 * The fields of a part that carry its text, in reading order (constant lists: no allocation per
 * part). Any part with a `text` or `refusal` field that is not null, whatever its `type`: a part
 * with no `type`, `type: 'TEXT'` or `type: 'output_text'` (the Responses API's name) carries text
 * that a reader showing any part's `text` shows. Before, only `type: 'text'` / `'refusal'` were
 * read: such a part passed detect, block and redact.
 */
function textFields(part: unknown): readonly Field[] {
  if (typeof part !== 'object' || part === null || Array.isArray(part)) return NONE;
  const p = part as Obj;
  const text = p.text != null;
  const refusal = p.refusal != null;
  return text ? (refusal ? BOTH : TEXT) : refusal ? REFUSAL : NONE;
}

/**
 * Whether a part is text itself, not a part object: a string, a number or boolean, or a list
 * (`content: ['write to jane@...']`). Not the API's shape, but an application that shows the
 * content (joined, or as a string) shows it; before, such a part was neither read nor touched,
 * so an address in it passed detect, block and redact, plain and streamed. Read as the part
 * itself (a string as it is, another value its JSON text: partText), a rewrite written in its
 * place in the array (a string, when it changes).
 */
function bare(part: unknown): boolean {
  const t = typeof part;
  return t === 'string' || t === 'number' || t === 'boolean' || Array.isArray(part);
}

/**
 * Each text slot of the parts in reading order: a bare part (bare) is slot `i` of the array
 * itself, a part object's `text`, then `refusal` (textFields), slots of the part.
 */
function forEachSlot(parts: readonly unknown[], visit: (holder: Obj, key: string | number) => void): void {
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (bare(part)) visit(parts as unknown as Obj, i);
    else for (const f of textFields(part)) visit(part as Obj, f);
  }
}

/** Whether any of the parts carries text (bare, textFields). */
function anyText(parts: readonly unknown[]): boolean {
  return parts.some((p) => bare(p) || textFields(p).length > 0);
}

/**
 * The text of a part's field `f` as the guards read it: a string as it is (no copy: the usual
 * part), any other value its JSON text, escapes read as tool arguments' are (readableJson); ''
 * for a value with no JSON text (a cycle: nothing a server sends).
 */
function partText(p: Obj, f: string | number): string {
  return valueText(p[f]) ?? '';
}

/** The text-bearing parts' texts joined, appended to `out` as one text (none: nothing appended). */
export function contentPartTexts(parts: readonly unknown[], out: string[]): void {
  const text = deltaContent(parts);
  if (anyText(parts)) out.push(text ?? '');
}

/**
 * `next[at]`, the rewrite of the joined text contentPartTexts read, written back into the parts;
 * returns the index after it and whether any part's text changed. Where the old and new text
 * agree (their common prefix and suffix, common-ends.ts) each part keeps its characters; the
 * changed span between them goes to the part where it starts, and the parts wholly inside it
 * are left empty (a rewrite does not say where in it each old part's characters went).
 */
export function writeContentParts(
  parts: readonly unknown[],
  next: readonly string[],
  at: number,
): { at: number; changed: boolean } {
  if (!anyText(parts)) return { at, changed: false };
  const before = deltaContent(parts) ?? '';
  const after = next[at] ?? '';
  if (after === before) return { at: at + 1, changed: false };
  const prefix = commonPrefix(before, after);
  const tail = before.length - commonSuffix(before, after, prefix);
  const shift = after.length - before.length;
  // An old offset's place in the new text: kept in the prefix, moved in the suffix, and the
  // changed span's end for one inside it (non-decreasing, so the slices tile the new text).
  // The old text's end is the new text's end: when the old text is all prefix (text added
  // after it, or an empty text replaced), the prefix rule would keep it and the added text
  // would fall in no part (a custom guard's disclaimer appended was dropped).
  const place = (o: number) =>
    o >= before.length ? after.length : o <= prefix ? o : o >= tail ? o + shift : tail + shift;
  let changed = false;
  let start = 0;
  let from = 0;
  forEachSlot(parts, (p, f) => {
    const read = partText(p, f);
    const end = start + read.length;
    const to = place(end);
    const text = after.slice(from, to);
    // A value that is not a string is compared as read: unchanged, it stays as sent.
    if (text !== read) {
      p[f] = text;
      changed = true;
    }
    start = end;
    from = to;
  });
  return { at: at + 1, changed };
}

/**
 * A `content` that is not a string, as parts: an array as it is, one part object (not in a
 * list: `{type: 'text', text}`) as a one-part array holding that object, so a rewrite is written
 * into it and its shape kept; undefined for anything else. Before, such an object was not read:
 * an address in it passed detect, block and redact, plain and streamed.
 */
export function contentParts(content: unknown): readonly unknown[] | undefined {
  if (Array.isArray(content)) return content;
  return typeof content === 'object' && content !== null ? [content] : undefined;
}

/**
 * A `content` that is a number or a boolean: its JSON text, what an application that shows the
 * content shows (as the other non-string fields are read: valueText); undefined for any other
 * value. Not the API's shape; before, it was not read (a card number passed every mode).
 */
export function scalarContent(content: unknown): string | undefined {
  return typeof content === 'number' || typeof content === 'boolean' ? valueText(content) : undefined;
}

/**
 * A `content` that is not a string, appended to `out` as the guards read it: its parts joined
 * (contentPartTexts; one part object as a one-part array), a number or boolean its JSON text
 * (scalarContent); nothing for null, absent or parts without text.
 */
export function otherContentTexts(content: unknown, out: string[]): void {
  const parts = contentParts(content);
  if (parts !== undefined) contentPartTexts(parts, out);
  else {
    const text = scalarContent(content);
    if (text !== undefined) out.push(text);
  }
}

/**
 * A streamed delta's `content`: the string, its parts' texts back to back (one part object as a
 * one-part array), a number's or boolean's JSON text; undefined when none.
 */
export function deltaContent(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  const parts = contentParts(content);
  if (parts === undefined) return scalarContent(content);
  let out = '';
  forEachSlot(parts, (p, f) => (out += partText(p, f)));
  return out;
}

/**
 * A streamed delta's content parts rewritten in place, each part's text the next characters of
 * its choice's lane (as a string delta is); `placed` is told each part's text and its rewrite (the
 * lane's annotation offsets follow them, stream-offsets.ts). Returns whether any changed.
 */
export function rewriteDeltaParts(
  parts: readonly unknown[],
  rw: StreamItemRewrite,
  lane: number,
  placed: (before: string, after: string) => void,
): boolean {
  let changed = false;
  forEachSlot(parts, (p, f) => {
    const text = partText(p, f);
    if (text.length === 0) return;
    const next = rw.next(text, lane);
    placed(text, next);
    if (next !== text) {
      p[f] = next;
      changed = true;
    }
  });
  return changed;
}
