import type { OutputTexts } from './output-texts.ts';
import { splitByChars } from './slot-chars.ts';
import { valueText } from './tool-arguments.ts';

/**
 * The text of an Anthropic answer's content blocks as the output guards read it, and a guard's
 * rewrite written back into them (non-streamed answers; anthropic-messages.ts).
 *
 * The answer's text blocks are pieces of one text: the API cuts it where a citation starts or
 * ends ('According to the page, ' + 'the owner is Jane' [cited] + '.'), and a stream's text
 * deltas run on from one block into the next. So the blocks are read back to back with '',
 * whatever lies between them (a tool_use, a thinking block), as the streamed path reads its
 * deltas: the output guards see the same text for the same answer streamed or not (before,
 * '\n' between the blocks hid an email cut where a citation begins from piiGuard, and the
 * leakage and custom guards read another text than the stream's).
 *
 * A rewrite goes back block by block: the cuts between the blocks are found in it by the text
 * around them (slot-chars.ts, as the input side writes back text parts read back to back), so
 * each block keeps its own text and its citations still sit on the text they support. Before,
 * all of the text went into the first block and the others were emptied: an app resending the
 * answer got empty text blocks, which the API refuses (400), and every citation pointed at
 * the wrong text.
 *
 * A block left with no text but blanks (its text removed by the guard, or moved into a
 * neighbour by a redaction across the cut) is dropped, with its citations: the API refuses
 * empty and whitespace-only text blocks, and a placeholder would be text neither the model nor
 * the guard wrote, shown to the user as part of the answer. Its blank remainder (a space, a
 * newline) goes to the block before it (or after it, when it is the first), so the blocks joined
 * are exactly the guard's text: nothing it removed is sent, nothing it kept is lost. A rewrite
 * that is all blank drops every text block (an answer with none is what the guard asked for);
 * one of an answer with no text block is a text block put after its thinking blocks, if any
 * (with thinking on, a resent assistant turn must start with them), before anything else.
 *
 * A block whose own text the guard changed loses its `citations`: they quote the source of the
 * text it had (`cited_text`, titles), so they can hold what the guard removed (piiGuard redacted
 * an address from the text and the quote beside it handed it back to the app). Blocks the
 * rewrite left alone keep theirs; a blank remainder moved in from a neighbour is not a change.
 * The citations' quotes and titles are read by the output guards too, each as a text of its own
 * (anthropicOutputTexts, output-texts.ts): before, a quote whose block text was unchanged was
 * never checked, so an address quoted beside clean text reached the app in every mode.
 *
 * Linear: one pass to read, splitByChars (budgeted, linear in the text) and one pass to write;
 * blocks whose `text` is null or absent, and anything not an object, are neither read nor touched.
 *
 * A text block whose `text` is there but not a string (an array, an object, a number: not the
 * API's shape, but a server may send it) is read as its JSON text (valueText, as chat content
 * parts are): what an application that stringifies it shows. Before, it was neither read nor
 * touched: `{type: 'text', text: ['jane.doe@example.com']}` passed detect, block and redact. A
 * rewrite that changes it writes a string there; one that leaves it unchanged leaves it as sent.
 */

type Obj = Record<string, unknown>;

/** The quote and titles of a citation, read in this order (as citations.ts on the input side). */
const CITATION_FIELDS = ['cited_text', 'document_title', 'title'] as const;

/** Calls take with each text block's citations' string fields, in order. */
function eachCitationField(
  content: readonly unknown[],
  take: (c: Obj, field: string, value: string) => void,
): void {
  for (const block of content) {
    const b = asObj(block);
    if (!isTextBlock(b) || !Array.isArray(b.citations)) continue;
    for (const entry of b.citations) eachField(entry, take);
  }
}

function eachField(citation: unknown, take: (c: Obj, field: string, value: string) => void): void {
  const c = asObj(citation);
  if (c === undefined) return;
  for (const f of CITATION_FIELDS) {
    const v = c[f];
    if (typeof v === 'string' && v.length > 0) take(c, f, v);
  }
}

/** One citation's quote and titles, appended to `out` (a stream's citations_delta, in the order read here). */
export function citationTexts(citation: unknown, out: string[]): void {
  eachField(citation, (_c, _f, v) => out.push(v));
}

/** A message whose `content` is a list (the caller checked). */
export type AnswerMessage = Obj & { content: readonly unknown[] };

/**
 * An Anthropic answer's texts (output-texts.ts): its text blocks back to back as one, then its
 * citations' quotes and titles, each apart. Written back: the quotes in place, then the text
 * block by block (withResponseText, which drops a changed block's citations).
 */
export function anthropicOutputTexts(message: AnswerMessage): OutputTexts {
  const content = message.content;
  const side: string[] = [];
  eachCitationField(content, (_c, _f, v) => side.push(v));
  const cuts = blockCuts(content);
  return {
    answer: [responseText(content)],
    side,
    ...(cuts === undefined ? {} : { cuts }),
    write(answer, nextSide) {
      let i = 0;
      eachCitationField(content, (c, f) => {
        const next = nextSide[i++];
        if (typeof next === 'string') c[f] = next;
      });
      message.content = withResponseText(content, answer[0] ?? '');
      return message;
    },
  };
}

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function isTextBlock(b: Obj | undefined): b is Obj & { text: unknown } {
  return b?.type === 'text' && b.text != null;
}

/** A text block's text as read (valueText: the string itself, or the JSON text of another value). */
function blockText(b: Obj & { text: unknown }): string {
  return valueText(b.text) ?? '';
}

/** Where the text blocks meet in responseText (OutputTexts.cuts); undefined for fewer than two. */
function blockCuts(content: readonly unknown[]): number[] | undefined {
  let cuts: number[] | undefined;
  let at = 0;
  let blocks = 0;
  for (const block of content) {
    const b = asObj(block);
    if (!isTextBlock(b)) continue;
    if (blocks++ > 0) (cuts ??= []).push(at);
    at += blockText(b).length;
  }
  return cuts;
}

/** The answer's text: its text blocks' text back to back, as the streamed path reads the deltas. */
export function responseText(content: readonly unknown[]): string {
  let out = '';
  for (const block of content) {
    const b = asObj(block);
    if (isTextBlock(b)) out += blockText(b);
  }
  return out;
}

/** The answer's text blocks' texts, in order (responseText joins them). */
export function responseTexts(content: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const block of content) {
    const b = asObj(block);
    if (isTextBlock(b)) out.push(blockText(b));
  }
  return out;
}

function isThinking(b: Obj | undefined): boolean {
  return b?.type === 'thinking' || b?.type === 'redacted_thinking';
}

function isBlank(s: string): boolean {
  return s.trim() === '';
}

/**
 * The content with `text` (a guard's rewrite of responseText(content)) written back block by
 * block, as a new list of new text blocks (other blocks kept as they are); `content` itself
 * when nothing changed.
 */
export function withResponseText(content: readonly unknown[], text: string): readonly unknown[] {
  const slots: string[] = [];
  for (const block of content) {
    const b = asObj(block);
    if (isTextBlock(b)) slots.push(blockText(b));
  }
  if (slots.join('') === text) return content;
  // No text block to write into (a tool_use alone): the guard's text goes where an answer's text
  // starts, after its thinking (a resent turn with thinking on must start with it: else 400).
  if (slots.length === 0) {
    if (isBlank(text)) return content;
    let at = 0;
    while (at < content.length && isThinking(asObj(content[at]))) at++;
    return [...content.slice(0, at), { type: 'text', text }, ...content.slice(at)];
  }
  const pieces = splitByChars(slots, text);
  // A blank piece goes to its neighbour: before (the last kept), or after when none is kept yet.
  const keep: boolean[] = [];
  // Before blanks move: a block whose own piece differs from its text was rewritten.
  const changed = slots.map((slot, j) => pieces[j] !== slot);
  let carry = '';
  let lastKept = -1;
  for (let j = 0; j < slots.length; j++) {
    const piece = pieces[j] ?? '';
    if (isBlank(piece)) {
      keep.push(false);
      if (lastKept >= 0) pieces[lastKept] += piece;
      else carry += piece;
      continue;
    }
    keep.push(true);
    pieces[j] = carry + piece;
    carry = '';
    lastKept = j;
  }
  const out: unknown[] = [];
  let j = 0;
  for (const block of content) {
    const b = asObj(block);
    if (!isTextBlock(b)) out.push(block);
    else {
      if (keep[j] === true) {
        // Unchanged (a value that is not a string too): as sent.
        const next: Obj = { ...b, text: pieces[j] === slots[j] ? b.text : pieces[j] };
        if (changed[j] === true) delete next.citations;
        out.push(next);
      }
      j++;
    }
  }
  return out;
}
