/**
 * The text of one request message as the input guards read it, and the message with a guard's
 * replacement text written back. Tool results are input too, and the usual route of indirect
 * prompt injection (a fetched page, an email, a retrieved document), so besides text parts the
 * reader takes:
 * - Anthropic `tool_result` blocks (and blocks like `search_result`): their `content`, a string
 *   or a list of blocks whose `text` is read (images are not text), or whose own `content`
 *   blocks' `text` is (a `search_result` returned by a tool, the RAG tool shape);
 * - Anthropic plain-text `document` blocks (`source: {type: 'text', data}`), in a message or
 *   a tool result: a retrieved document (base64 PDFs and files are not text), and in a tool
 *   result custom-content ones (`source: {type: 'content', content}`, a string or text blocks);
 * - Responses API items with an `output` (`function_call_output`, `custom_tool_call_output`,
 *   ...): a string, or a list of parts whose `text` is read;
 * - OpenAI chat `tool` / `function` messages: their `content` (string or text parts).
 *
 * The shapes are fixed (at most three list levels: a message's parts, a tool result's blocks,
 * a search result's blocks),
 * so reading is linear in the message and needs no recursion or node cap; the guards' own
 * per-message caps apply to the joined text as to any other message.
 *
 * A text slot is one string the reader took, in order: the message's `content` (string, or
 * each part's `text`, or each part's `content`), then its `output`. Text parts next to each
 * other in one list (a message's parts, a tool result's blocks, a search result's blocks, a
 * custom-content document's blocks, an output's parts) are joined with '', as the provider joins them: the model reads them as one
 * text, so "ignore all previous" + " instructions" or "jane@exa" + "mple.com" is whole in what
 * the guards read (before, with '\n' between, a cut hid it from every pattern and detector).
 * Evidence: OpenAI's harmony renderer (openai/harmony, src/encoding.rs, the format gpt-oss is
 * trained on, made to mirror the Responses API) writes a message's text contents one after the
 * other with nothing between; Anthropic does not document its join, and its response text
 * blocks are pieces of one text (a sentence cut where a citation starts). Every other slot
 * (a tool result, a document, text on the far side of an image) is joined with '\n'.
 */

import { splitByChars } from './slot-chars.ts';
import type { GuardMessage } from './types.ts';
import { splitByLines } from './slot-lines.ts';
import { commonPrefix, commonSuffix } from './common-ends.ts';

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/**
 * Calls `take` with each text slot of a content / output value, in order; `joined`: the slot
 * is a text part right after another in the same list (the provider reads the two as one).
 */
function eachSlot(value: unknown, take: (text: string, joined: boolean) => void): void {
  if (typeof value === 'string') {
    take(value, false);
    return;
  }
  if (!Array.isArray(value)) return;
  let afterText = false;
  for (const part of value) {
    const p = asObj(part);
    const isText = typeof p?.text === 'string';
    if (p === undefined) {
      // Not a part: nothing read, but the parts either side are not next to each other.
    } else if (isText) take(p.text as string, afterText);
    else if (typeof p.content === 'string') take(p.content, false);
    else if (Array.isArray(p.content)) {
      let innerAfterText = false;
      for (const inner of p.content) {
        const b = asObj(inner);
        const innerIsText = typeof b?.text === 'string';
        if (innerIsText) take((b as Obj).text as string, innerAfterText);
        else if (Array.isArray(b?.content)) {
          let leafAfterText = false;
          for (const leaf of b.content) {
            const t = asObj(leaf)?.text;
            if (typeof t === 'string') take(t, leafAfterText);
            leafAfterText = typeof t === 'string';
          }
        } else {
          const d = documentText(b);
          if (d !== undefined) take(d, false);
          else eachContentDocumentText(b, take);
        }
        innerAfterText = innerIsText;
      }
    } else {
      const d = documentText(p);
      if (d !== undefined) take(d, false);
    }
    afterText = isText;
  }
}

/** The text of an Anthropic plain-text document block (`source: {type: 'text', data}`), else undefined. */
function documentText(block: Obj | undefined): string | undefined {
  if (block?.type !== 'document') return undefined;
  const source = asObj(block.source);
  return source?.type === 'text' && typeof source.data === 'string' ? source.data : undefined;
}

/**
 * Calls `take` with each text of a custom-content document (`source: {type: 'content',
 * content}`, a string or text blocks) inside a tool result; its text blocks side by side are
 * read back to back, as text parts are (an injection cut over two of them walked past the
 * guards with '\n' between). (One in a message is read by the Anthropic adapter itself, as a
 * `document` message: nested-blocks.ts.)
 */
function eachContentDocumentText(
  block: Obj | undefined,
  take: (text: string, joined: boolean) => void,
): void {
  const source = block?.type === 'document' ? asObj(block.source) : undefined;
  if (source?.type !== 'content') return;
  if (typeof source.content === 'string') take(source.content, false);
  else if (Array.isArray(source.content)) {
    let afterText = false;
    for (const inner of source.content) {
      const t = asObj(inner)?.text;
      if (typeof t === 'string') take(t, afterText);
      afterText = typeof t === 'string';
    }
  }
}

/** The custom-content document with its texts replaced by the next pieces (same walk as eachContentDocumentText). */
function withContentDocumentText(block: Obj, next: () => string | undefined): Obj {
  const source = asObj(block.source) as Obj;
  if (typeof source.content === 'string') return { ...block, source: { ...source, content: next() ?? '' } };
  if (!Array.isArray(source.content)) return block;
  return { ...block, source: { ...source, content: rewriteTextBlocks(source.content, next) } };
}

function isContentDocument(block: Obj): boolean {
  return block.type === 'document' && asObj(block.source)?.type === 'content';
}

/** The document block with `data` as its source's text (emptied where the piece is undefined). */
function withDocumentText(block: Obj, data: string | undefined): Obj {
  return { ...block, source: { ...asObj(block.source), data: data ?? '' } };
}

/** The guards' text of a raw message: its content's and output's text slots, joined as the provider joins them. */
export function messageText(message: unknown): string {
  return read(message, undefined);
}

/**
 * The guard message of a raw message: `role`, its text (messageText) and, where two text
 * parts read back to back meet in it, their offsets (`cuts`; absent when none). The provider
 * receives each part's text, whatever the model makes of the join: a guard that must find
 * what a part holds (personal data sent in one part, 'jane@example.com' + '42') reads the
 * pieces between the cuts too.
 */
export function guardMessageOf(role: string, message: unknown): GuardMessage {
  const cuts: number[] = [];
  const content = read(message, cuts);
  return cuts.length > 0 ? { role, content, cuts } : { role, content };
}

function read(message: unknown, cuts: number[] | undefined): string {
  const o = asObj(message);
  if (o === undefined) return '';
  // The common message is one string: no joining.
  if (typeof o.content === 'string' && o.output === undefined) return o.content;
  let out = '';
  let first = true;
  const take = (t: string, joined: boolean): void => {
    if (!first && joined && cuts !== undefined) cuts.push(out.length);
    out = first || joined ? out + t : `${out}\n${t}`;
    first = false;
  };
  eachSlot(o.content, take);
  eachSlot(o.output, take);
  return out;
}

/**
 * The message with `text` (a guard's replacement for messageText(message)) written back, as a
 * new object (the original is not mutated); the message itself when nothing changed. The
 * structure is kept (tool_use_id, call_id, is_error, cache_control, images, block types): each
 * run of slots read back to back gets its own lines of `text` when the replacement has as many
 * lines as the original (a redaction within lines, the usual case), otherwise see split(); a
 * run of several slots is then cut into them by the text around each cut (slot-chars.ts). No
 * original text survives the rewrite: the slots read back are `text`, less the separators of
 * removed runs, plus an empty slot for each string slot emptied (a document's data, a tool
 * result's string content).
 */
export function withMessageText(message: unknown, text: string): unknown {
  const o = asObj(message);
  if (o === undefined) return message;
  const slots: string[] = [];
  const joined: boolean[] = [];
  const take = (t: string, j: boolean): void => {
    slots.push(t);
    joined.push(j && slots.length > 1);
  };
  eachSlot(o.content, take);
  eachSlot(o.output, take);
  // Runs of slots the provider reads back to back (joined with ''); runs are joined with '\n'.
  const runs: string[] = [];
  const runStart: number[] = [];
  for (let j = 0; j < slots.length; j++) {
    if (joined[j]) runs[runs.length - 1] += slots[j] as string;
    else {
      runs.push(slots[j] as string);
      runStart.push(j);
    }
  }
  if (runs.join('\n') === text) return message;
  const out: Obj = { ...o };
  if (slots.length === 0) {
    // Nothing to rewrite in place (a message with no text): its content becomes the text.
    out.content = text;
    return out;
  }
  const pieces = splitRuns(slots, runs, runStart, text);
  let at = 0;
  const next = (): string | undefined => pieces[at++];
  if ('content' in o) out.content = rewrite(o.content, next);
  if ('output' in o) out.output = rewrite(o.output, next);
  return out;
}

/**
 * `text` cut into one piece per slot: first one piece per run (split(), the runs being joined
 * with '\n'), then a run of several slots cut into its slots' pieces by splitByChars
 * (slot-chars.ts); a run merged away (undefined) leaves all its slots undefined.
 */
function splitRuns(
  slots: readonly string[],
  runs: readonly string[],
  runStart: readonly number[],
  text: string,
): Array<string | undefined> {
  const byRun = split(runs, text);
  if (runs.length === slots.length) return byRun;
  const out: Array<string | undefined> = [];
  for (let r = 0; r < runs.length; r++) {
    const from = runStart[r] as number;
    const to = r + 1 < runs.length ? (runStart[r + 1] as number) : slots.length;
    const piece = byRun[r];
    if (to - from === 1) out.push(piece);
    else if (piece === undefined) for (let j = from; j < to; j++) out.push(undefined);
    else if (piece === runs[r]) for (let j = from; j < to; j++) out.push(slots[j]);
    // Pushed one by one: a spread of a run of 10^5 parts would overflow the call stack.
    else for (const p of splitByChars(slots.slice(from, to), piece)) out.push(p);
  }
  return out;
}

/**
 * `text` cut into one piece per slot: by the slots' line counts when the line count matches.
 * Otherwise (a multi-line private key redacted to one line, say) the slots before the first
 * changed character and after the last keep their text, and the slots between share the new
 * text by its lines (splitByRange here, splitByLines in slot-lines.ts): a slot boundary the
 * change leaves in place stays between its slots, so each redaction stays in its own slot and
 * a slot none touched keeps its text; where a change spans a boundary (or past the alignment's caps) the slots
 * either side are merged: the first gets the new text of them all, the others undefined (their
 * text parts are removed, a string is emptied). Before, all of `text` went into the first slot
 * and the others were emptied, so a user's text block after a tool_result moved into the tool
 * result and was left as an empty text block, which the Anthropic API refuses (400).
 */
function split(slots: readonly string[], text: string): Array<string | undefined> {
  if (slots.length === 1) return [text];
  const lines = text.split('\n');
  const counts = slots.map((s) => countLines(s));
  if (counts.reduce((a, b) => a + b, 0) === lines.length) {
    const out: string[] = [];
    let at = 0;
    for (const n of counts) {
      out.push(lines.slice(at, at + n).join('\n'));
      at += n;
    }
    return out;
  }
  return splitByRange(slots, text);
}

/**
 * The pieces by the common prefix and suffix of the old and new text: the slots before the
 * first changed character and after the last keep their text; the slots the changed range
 * touches share its new text by splitByLines, or past its caps the first of them gets it all
 * and the others get undefined.
 */
function splitByRange(slots: readonly string[], text: string): Array<string | undefined> {
  const old = slots.join('\n');
  const prefix = commonPrefix(old, text);
  const suffix = commonSuffix(old, text, prefix);
  const changeEnd = old.length - suffix;
  // first: the last slot starting at or before the change; last: the first ending at or after its end.
  const starts: number[] = [];
  let first = 0;
  let last = -1;
  for (let j = 0, at = 0; j < slots.length; j++) {
    starts.push(at);
    if (at <= prefix) first = j;
    const end = at + (slots[j] as string).length;
    if (last === -1 && end >= changeEnd) last = j;
    at = end + 1;
  }
  const lastEnd = (starts[last] as number) + (slots[last] as string).length;
  const changed = text.slice(starts[first], text.length - (old.length - lastEnd));
  // Several slots in the range: each keeps its own part of it where the lines tell (slot-lines.ts).
  const inner = last > first ? splitByLines(slots.slice(first, last + 1), changed) : undefined;
  const out: Array<string | undefined> = [];
  for (let j = 0; j < slots.length; j++) {
    if (j < first || j > last) out.push(slots[j]);
    else if (inner !== undefined) out.push(inner[j - first]);
    else if (j === first) out.push(changed);
    else out.push(undefined);
  }
  return out;
}

function countLines(s: string): number {
  let n = 1;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * A copy of a content / output value with each text slot replaced by the next piece, same walk
 * as eachSlot; a text part whose piece is undefined is left out, a string slot emptied.
 */
function rewrite(value: unknown, next: () => string | undefined): unknown {
  if (typeof value === 'string') return next() ?? '';
  if (!Array.isArray(value)) return value;
  const out: unknown[] = [];
  for (const part of value) {
    const p = asObj(part);
    if (p === undefined) out.push(part);
    else if (typeof p.text === 'string') {
      const t = next();
      if (t !== undefined) out.push({ ...p, text: t });
    } else if (typeof p.content === 'string') out.push({ ...p, content: next() ?? '' });
    else if (Array.isArray(p.content)) {
      const inner: unknown[] = [];
      for (const block of p.content) {
        const b = asObj(block);
        if (b !== undefined && typeof b.text === 'string') {
          const t = next();
          if (t !== undefined) inner.push({ ...b, text: t });
        } else if (b !== undefined && Array.isArray(b.content))
          inner.push({ ...b, content: rewriteTextBlocks(b.content, next) });
        else if (b !== undefined && documentText(b) !== undefined) inner.push(withDocumentText(b, next()));
        else if (b !== undefined && isContentDocument(b)) inner.push(withContentDocumentText(b, next));
        else inner.push(block);
      }
      out.push({ ...p, content: inner });
    } else if (documentText(p) !== undefined) out.push(withDocumentText(p, next()));
    else out.push(part);
  }
  return out;
}

/** Blocks with each `text` replaced by the next piece (left out where it is undefined), others kept. */
function rewriteTextBlocks(blocks: readonly unknown[], next: () => string | undefined): unknown[] {
  const out: unknown[] = [];
  for (const block of blocks) {
    const b = asObj(block);
    if (b === undefined || typeof b.text !== 'string') out.push(block);
    else {
      const t = next();
      if (t !== undefined) out.push({ ...b, text: t });
    }
  }
  return out;
}
