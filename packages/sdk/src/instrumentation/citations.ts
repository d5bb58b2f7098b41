import { guardMessageOf, withMessageText } from './message-text.ts';
import type { GuardMessage } from './types.ts';

/**
 * The citations of Anthropic text blocks an application resends (an assistant's answer kept in
 * the history, `citations: [{cited_text, document_title, ...}]`), read by the input guards. A
 * citation's `cited_text` is a quote of a document (or a web page, a search result) sent to the
 * provider with the block, and its `document_title` / `title` are that document's or page's
 * title: third-party text, so the quotes of one message are a guard message of their own with
 * role `document` (tool-role.ts), as plain-text documents are (tool-split.ts). Before, the
 * guards read none of it: piiGuard redacted an email from the block's `text` and sent it in
 * the quote beside it, and block mode let it through.
 *
 * Each field is read apart (joined with '\n': quotes are separate excerpts, not one text), and a
 * guard's rewrite goes back into each by message-text.ts's write-back of string slots (by
 * lines, each redaction in its own field); a field a rewrite empties is sent as ''.
 *
 * Fixed shape, linear: each block's `citations`, when a list, is walked once; entries that are
 * not objects and fields that are not strings are skipped and sent as they were. The guards' own
 * per-message caps apply to the joined text.
 */

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** The fields of a citation read, in order: the quote, then the titles of what it quotes. */
const FIELDS = ['cited_text', 'document_title', 'title'] as const;

/** Whether any block of a content list carries a citations list (one pass, no allocation). */
export function hasCitations(content: unknown): boolean {
  if (!Array.isArray(content)) return false;
  for (const block of content) if (Array.isArray(asObj(block)?.citations)) return true;
  return false;
}

/** Calls take with each citation's string fields, in order. */
function eachField(
  content: readonly unknown[],
  take: (citation: Obj, field: string, value: string) => void,
): void {
  for (const block of content) {
    const list = asObj(block)?.citations;
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      const c = asObj(entry);
      if (c === undefined) continue;
      for (const f of FIELDS) {
        const v = c[f];
        if (typeof v === 'string') take(c, f, v);
      }
    }
  }
}

/** The string slots of the citations, as parts a stand-in message reads apart. */
function standIn(content: readonly unknown[]): { content: Array<{ content: string }> } {
  const parts: Array<{ content: string }> = [];
  eachField(content, (_c, _f, v) => parts.push({ content: v }));
  return { content: parts };
}

/** The `document` guard message of a content list's citations (call when hasCitations). */
export function citationsGuardMessage(content: readonly unknown[]): GuardMessage {
  return guardMessageOf('document', standIn(content));
}

/**
 * The content with `text` (a guard's rewrite of citationsGuardMessage's content) written back
 * into the citations' fields, as copies of the blocks and citations that have any; `content`
 * itself when nothing changed.
 */
export function withCitationsText(content: readonly unknown[], text: string): readonly unknown[] {
  const before = standIn(content);
  if (before.content.length === 0) return content;
  const after = withMessageText(before, text);
  if (after === before) return content;
  const pieces = (asObj(after)?.content as unknown[]).map((p) => {
    const v = asObj(p)?.content;
    return typeof v === 'string' ? v : '';
  });
  let at = 0;
  return content.map((block) => {
    const b = asObj(block);
    if (b === undefined || !Array.isArray(b.citations)) return block;
    const citations = b.citations.map((entry: unknown) => {
      const c = asObj(entry);
      if (c === undefined) return entry;
      const next: Obj = { ...c };
      for (const f of FIELDS) if (typeof c[f] === 'string') next[f] = pieces[at++] ?? '';
      return next;
    });
    return { ...b, citations };
  });
}
