import { arr, num, obj } from './adapter.ts';
import { checkWholeThinking, holdThinkingPiece, sendThinkingBefore } from './anthropic-thinking.ts';
import { annotationTexts, writeAnnotationTexts } from './annotations.ts';
import { contentParts, deltaContent, rewriteDeltaParts, scalarContent } from './chat-content-parts.ts';
import {
  holdInputPiece,
  rewriteStartInputs,
  rewriteWholeInput,
  sendInputBefore,
} from './anthropic-tool-input-rewrite.ts';
import { rewriteAudioPiece } from './chat-audio.ts';
import { rewriteChatReasoning } from './chat-reasoning.ts';
import { rewriteChatToolArguments } from './chat-tool-arguments-rewrite.ts';
import { readText } from './completions-echo.ts';
import { isFinish } from './finish-reason.ts';
import {
  giveEntries,
  keepEntries,
  releaseEntries,
  type HeldEntries,
  type LogprobsBudget,
} from './held-logprobs.ts';
import { keepHeld, releaseHeld } from './held-text.ts';
import { dropChoiceLogprobs, takeChoiceLogprobs } from './logprobs.ts';
import { placeAnnotations, StreamOffsets } from './stream-offsets.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { valueText } from './tool-arguments.ts';

/**
 * The adapters' `rewriteStreamItem`: a streamed item with its text rewritten in place (the
 * items are the client's freshly parsed objects, read by nothing before the reader). Each reads
 * the deltas exactly where, and in the order, its adapter's `newStream().observe` reads them, so
 * the rewriter's cursor stays on the stream's text; every other place the item repeats the
 * answer's text (done events, the final response, a block's start) is rewritten whole. A
 * reader's helper that builds the answer from the items (openai's ChatCompletionStream and
 * ResponseStream, Anthropic's MessageStream: `finalMessage()`, `finalText()`) then builds it
 * from the rewritten items.
 */

/**
 * OpenAI chat chunks: each choice's `delta.content`, in its choice's lane (`n` > 1: chatLanes);
 * whole: the titles and URLs of `delta.annotations` (web-search models send them in a chunk,
 * outside the API's typed delta), each as its own text, as the complete response's are
 * (annotations.ts). The end check reads them too (the chat accumulator's side texts); a
 * piiGuard `block` checks them before the chunk is delivered (call-stream.ts quoteChecked).
 */
export function rewriteChatChunk(item: unknown, rw: StreamItemRewrite): unknown {
  for (const c of arr(obj(item)?.choices)) {
    const choice = obj(c);
    const d = obj(choice?.delta);
    if (d !== undefined && Array.isArray(d.annotations)) {
      const texts: string[] = [];
      annotationTexts(d.annotations, texts);
      writeAnnotationTexts(
        d.annotations,
        texts.map((t) => rw.whole(t)),
        0,
      );
      // Their offsets point into the choice's content as sent: moved to the content delivered,
      // removed where it cannot be placed (stream-offsets.ts).
      d.annotations = placeAnnotations(d.annotations, offsetsOf(rw, num(choice?.index) ?? 0));
    }
    if (choice !== undefined) {
      // The reasoning first: sent whole (rewritten) in the chunk that ends it (chat-reasoning.ts).
      rewriteChatReasoning(choice, d, rw);
      rewriteRefusalPiece(choice, d, rw);
      // Audio: transcript and data kept back to the finish (chat-audio.ts).
      rewriteAudioPiece(choice, d, rw);
      rewriteChatToolArguments(choice, d, rw);
    }
    if (choice === undefined || d === undefined) continue;
    const parts = typeof d.content === 'string' ? undefined : contentParts(d.content);
    if (parts !== undefined) {
      // Content as parts (chat-content-parts.ts; one part object as a one-part array): each
      // part's text the lane's next characters.
      const lane = num(choice.index) ?? 0;
      const placed = (before: string, after: string) =>
        offsetsOf(rw, lane).add(before, after, after !== before ? rw.changes?.(lane) : undefined);
      if (rewriteDeltaParts(parts, rw, lane, placed)) dropChoiceLogprobs(choice);
      continue;
    }
    // A string, or a number's or boolean's JSON text (written back as a string when it changes).
    const raw = typeof d.content === 'string' ? d.content : scalarContent(d.content);
    if (raw === undefined || raw.length === 0) continue;
    const lane = num(choice.index) ?? 0;
    const next = rw.next(raw, lane);
    offsetsOf(rw, lane).add(raw, next, next !== raw ? rw.changes?.(lane) : undefined);
    // This chunk's tokens repeat the text it had (logprobs.ts).
    if (next !== raw) {
      dropChoiceLogprobs(choice);
      d.content = next;
    }
  }
  return item;
}

/** Choices whose annotation offsets are tracked; past this (a hostile stream) one more is shared by the rest. */
const MAX_OFFSET_CHOICES = 1024;

/**
 * The choice's offsets in this stream (choice 0, the common stream's only one, without a map
 * lookup); past MAX_OFFSET_CHOICES an empty one, so its annotations with offsets are removed.
 */
function offsetsOf(rw: StreamItemRewrite, lane: number): StreamOffsets {
  const by = rw.offsets;
  if (lane === 0) return (by.first ??= new StreamOffsets());
  let o = (by.others ??= new Map()).get(lane);
  if (o === undefined) {
    o = new StreamOffsets();
    if (by.others.size < MAX_OFFSET_CHOICES) by.others.set(lane, o);
  }
  return o;
}

/** A choice's refusal kept back: its pieces, and their chunks' `logprobs.refusal` entries (held-logprobs.ts). */
interface HeldRefusal {
  text: string;
  logprobs: HeldEntries;
}

/** Per stream (its StreamItemRewrite): each choice's refusal not delivered yet, and the logprobs values held. */
const refusals = new WeakMap<StreamItemRewrite, LogprobsBudget & { choices: Map<number, HeldRefusal> }>();
/** Choices whose refusal is kept back; past this (a hostile stream), a new choice's refusal is dropped. */
const MAX_REFUSAL_CHOICES = 1024;

/**
 * A chat choice's `delta.refusal`: its pieces are kept back ('' delivered) and the whole refusal
 * goes out redacted (`rw.whole`) with the choice's finish chunk, as a complete answer's refusal
 * is redacted whole (openai-chat.ts). The refusal is not part of the stream's text the chunk
 * checks hold back and the rewriter's cursor follows, so its pieces cannot be released as they
 * become final; a refusal is one short sentence, so holding it to the choice's end costs little.
 * Before, the pieces reached the reader as sent: a refusal naming an address passed `redact`.
 * A chunk that carried a piece loses its logprobs (their `.refusal` tokens repeat it); they are
 * kept with the piece and come back in the finish chunk when the rewrite left the refusal as it
 * was (held-logprobs.ts). Fail closed: a stream that ends without the choice's finish delivers
 * none of its refusal, nor does a choice past MAX_REFUSAL_CHOICES; a stream keeping back more
 * than MAX_HELD_CHARS of text, all kinds together, is cut (held-text.ts).
 */
function rewriteRefusalPiece(
  choice: Record<string, unknown>,
  d: Record<string, unknown> | undefined,
  rw: StreamItemRewrite,
): void {
  const piece = typeof d?.refusal === 'string' && d.refusal.length > 0 ? d.refusal : undefined;
  const last = isFinish(choice);
  // The common chunk (content, no refusal, not the last): no lookup.
  if (piece === undefined && !last) return;
  let hold = refusals.get(rw);
  if (piece === undefined && hold === undefined) return;
  if (hold === undefined) refusals.set(rw, (hold = { choices: new Map(), logprobs: 0, logprobChars: 0 }));
  const held = hold.choices;
  const index = num(choice.index) ?? 0;
  let so = held.get(index);
  let lp: HeldEntries = [];
  if (piece !== undefined) {
    lp = takeChoiceLogprobs(choice, 'refusal');
    (d as Record<string, unknown>).refusal = '';
  }
  if (!last) {
    if (so === undefined && held.size < MAX_REFUSAL_CHOICES)
      held.set(index, (so = { text: '', logprobs: [] }));
    if (so !== undefined) {
      if (piece !== undefined) keepHeld(rw, piece.length);
      so.text += piece;
      so.logprobs = keepEntries(so.logprobs, hold, lp);
    }
    return;
  }
  held.delete(index);
  if (so !== undefined) {
    releaseHeld(rw, so.text.length);
    releaseEntries(so.logprobs, hold);
  }
  const whole = (so?.text ?? '') + (piece ?? '');
  if (whole.length === 0) return;
  const out = rw.whole(whole);
  if (d !== undefined) d.refusal = out;
  else choice.delta = { refusal: out };
  const before = so === undefined ? [] : so.logprobs;
  if (out === whole && before !== undefined && lp !== undefined)
    giveEntries(choice, 'refusal', [...before, ...lp]);
}

/**
 * OpenAI chat chunks' lanes: the choices' `delta.content` pieces as the adapter's `observe`
 * joins them, each with its choice's index; undefined when every piece is choice 0's (n = 1).
 */
export function chatLanes(item: unknown): Array<[number, number]> | undefined {
  return choiceLanes(item, (c) => deltaContent(obj(c?.delta)?.content));
}

/** OpenAI legacy completions chunks' lanes: the choices' `text`, as chatLanes. */
export function completionLanes(item: unknown): Array<[number, number]> | undefined {
  // An echoed prompt is not part of the stream's text; a departed echo's prefix is (completions-echo.ts).
  return choiceLanes(item, (c) => {
    const t = c?.text;
    return typeof t === 'string' ? readText(c, t) : t;
  });
}

function choiceLanes(
  item: unknown,
  textOf: (choice: Record<string, unknown> | undefined) => unknown,
): Array<[number, number]> | undefined {
  let split: Array<[number, number]> | undefined;
  let other = false;
  for (const c of arr(obj(item)?.choices)) {
    const choice = obj(c);
    const text = textOf(choice);
    if (typeof text !== 'string' || text.length === 0) continue;
    const lane = num(choice?.index) ?? 0;
    if (lane !== 0) other = true;
    (split ??= []).push([lane, text.length]);
  }
  return other ? split : undefined;
}

/**
 * Anthropic message events: `content_block_delta`'s `text_delta.text`; whole: a text block's
 * text in `content_block_start` and in `message_start`'s message (empty in the API's streams).
 *
 * Citations: a `citations_delta`'s citation (and any a block starts with) has each quote and
 * title (`cited_text`, `document_title`, `title`) rewritten whole, as its own text. The
 * non-streamed path drops a rewritten block's citations (response-text.ts), but a stream cannot
 * know that yet: the API sends a block's citations before its text, so the block's rewrite is
 * not made when they pass, and an item cannot be withheld. Before, the quote handed the app the
 * email piiGuard redacted from the text beside it. The quotes of blocks whose text is unchanged
 * are rewritten too, as the non-streamed path now does (output-texts.ts).
 */
export function rewriteAnthropicEvent(item: unknown, rw: StreamItemRewrite): unknown {
  const ev = obj(item);
  if (ev === undefined) return item;
  if (ev.type === 'content_block_delta') {
    const d = obj(ev.delta);
    if (d?.type === 'text_delta' && d.text != null) rewriteText(d, rw);
    else if (d?.type === 'citations_delta') rewriteCitation(d.citation, rw);
    // Tool inputs: kept back, sent whole before the block's stop (anthropic-tool-input-rewrite.ts).
    else if (d?.type === 'input_json_delta') holdInputPiece(ev, d, rw);
    // Thinking: kept back, sent whole before the block's stop if redact leaves it as it is
    // (anthropic-thinking.ts: a signed block cannot be rewritten; else the answer is blocked).
    else if (d?.type === 'thinking_delta') holdThinkingPiece(ev, d, rw);
  } else if (ev.type === 'content_block_stop') {
    return sendThinkingBefore(ev, rw) ?? sendInputBefore(ev, rw);
  } else if (ev.type === 'content_block_start') {
    rewriteTextBlock(ev.content_block, rw);
    rewriteWholeInput(ev.content_block, rw);
    checkWholeThinking(ev.content_block, rw);
  } else if (ev.type === 'message_start') {
    for (const b of arr(obj(ev.message)?.content)) {
      rewriteTextBlock(b, rw);
      checkWholeThinking(b, rw);
    }
    rewriteStartInputs(ev.message, rw);
  }
  return item;
}

function rewriteTextBlock(block: unknown, rw: StreamItemRewrite): void {
  const b = obj(block);
  if (b?.type !== 'text') return;
  const text = valueText(b.text);
  if (text !== undefined && text.length > 0) {
    const next = rw.whole(text);
    if (next !== text) b.text = next;
  }
  for (const c of arr(b.citations)) rewriteCitation(c, rw);
}

/**
 * A text_delta's text through the stream's rewrite. A value that is not a string is read as its
 * JSON text (valueText, response-text.ts) and replaced by its rewrite only when that differs
 * (a clean one goes as sent); a string is written as before.
 */
function rewriteText(d: Record<string, unknown>, rw: StreamItemRewrite): void {
  const raw = d.text;
  if (typeof raw === 'string') {
    d.text = rw.next(raw);
    return;
  }
  const text = valueText(raw) ?? '';
  const next = text.length === 0 ? text : rw.next(text);
  if (next !== text) d.text = next;
}

/** The quoted and title fields of a citation, as citations.ts reads them on the input side. */
const CITATION_FIELDS = ['cited_text', 'document_title', 'title'] as const;

function rewriteCitation(citation: unknown, rw: StreamItemRewrite): void {
  const c = obj(citation);
  if (c === undefined) return;
  for (const f of CITATION_FIELDS) {
    const v = c[f];
    if (typeof v === 'string' && v.length > 0) c[f] = rw.whole(v);
  }
}
