import { realignAnnotations } from './annotation-offsets.ts';
import { annotationTexts, writeAnnotationTexts } from './annotations.ts';
import { dropListLogprobs } from './logprobs.ts';
import type { OutputTexts } from './output-texts.ts';
import { splitByChars } from './slot-chars.ts';
import { valueText } from './tool-arguments.ts';

/**
 * A Responses answer's texts (output-texts.ts), for a complete response and for the response
 * objects and output items a stream repeats (stream-item-rewrite.ts).
 *
 * The answer is its `output_text` parts read back to back with '', across parts and across
 * output items, as the streamed `output_text.delta`s run on from one into the next. Before, the
 * parts were joined with '\n' and each was rewritten on its own (the streamed response's parts
 * one by one too): an address cut between two parts ("jane@exa" + "mple.com") was found in
 * neither and reached the application whole in the response. A rewrite goes back part by part
 * by the text around the cuts (slot-chars.ts, as Anthropic's text blocks: response-text.ts); a
 * part whose text changed loses its logprobs (logprobs.ts), and one left with none keeps ''.
 * The SDK's `output_text` convenience field, when present, is the parts joined again.
 *
 * Beside the answer: each part's annotations' titles, URLs and file names (annotations.ts),
 * then each `refusal` part's text (the model declines in a part of its own, text the app gets
 * that can name what it declines to share: before, no output guard read it). A refusal that is
 * not a string is read as its JSON text too (valueText), written as a string only when its
 * rewrite differs; before, it was neither read nor touched.
 *
 * A part whose `text` is there but not a string (an array, an object, a number: not the API's
 * shape, but a server may send it) is read as its JSON text (valueText, as chat content parts
 * and Anthropic text blocks are): what an application that stringifies it shows. Before, it was
 * neither read nor touched, and its address passed detect, block and redact. A rewrite that
 * changes it writes a string there; one that leaves it unchanged leaves it as sent.
 *
 * `data`: a response object (`output: [...items]`); `items`: a list of output items read
 * instead (an `output_item.done` event's one item). Linear: one pass to read, splitByChars
 * (budgeted linear), one pass to write.
 */
export function responsesOutputTexts(
  data: unknown,
  items?: readonly unknown[],
): OutputTexts & {
  /** Each part's new text given (in the order read), and the side texts. */
  writeParts(pieces: ReadonlyArray<string | undefined>, side: readonly string[]): unknown;
} {
  const d = asObj(data);
  const parts: Array<Record<string, unknown>> = [];
  /** Each part's text as read (valueText), in the order of `parts`. */
  const slots: string[] = [];
  const refusals: Array<Record<string, unknown>> = [];
  /** Each refusal's text as read (valueText), in the order of `refusals`. */
  const refused: string[] = [];
  const side: string[] = [];
  for (const item of items ?? (Array.isArray(d?.output) ? d.output : [])) {
    const content = asObj(item)?.content;
    if (!Array.isArray(content)) continue;
    for (const part of content) {
      const p = asObj(part);
      if (isRefusalPart(p)) {
        refusals.push(p);
        refused.push(valueText(p.refusal)!);
      }
      if (p?.type !== 'output_text') continue;
      const read = valueText(p.text);
      if (read === undefined) continue;
      parts.push(p);
      slots.push(read);
      annotationTexts(p.annotations, side);
    }
  }
  // After the annotations, in the order read (writeParts writes them back in that order).
  for (const r of refused) side.push(r);
  const writeParts = (pieces: ReadonlyArray<string | undefined>, nextSide: readonly string[]): unknown => {
    let at = 0;
    for (const [j, p] of parts.entries()) {
      const next = pieces[j] ?? '';
      at = writeAnnotationTexts(p.annotations, nextSide, at);
      // The part's tokens repeat the text it had (logprobs.ts); its annotations' offsets point
      // into it (annotation-offsets.ts).
      // Unchanged (a value that is not a string too): as sent.
      if (next !== slots[j]) {
        dropListLogprobs(p);
        realignAnnotations(p, slots[j]!, next);
        p.text = next;
      }
    }
    for (const [j, r] of refusals.entries()) {
      const next = nextSide[at++];
      // Unchanged (a value that is not a string too): as sent.
      if (typeof next === 'string' && next !== refused[j]) r.refusal = next;
    }
    if (d !== undefined && parts.length > 0 && typeof d.output_text === 'string')
      d.output_text = parts.map((p) => valueText(p.text)).join('');
    return data;
  };
  return {
    answer: [slots.join('')],
    side,
    ...(slots.length > 1 ? { cuts: partCuts(slots) } : {}),
    write(answer, nextSide) {
      const text = answer[0] ?? '';
      return writeParts(slots.length === 1 ? [text] : splitByChars(slots, text), nextSide);
    },
    writeParts,
  };
}

/** Where texts read back to back meet: each one's end but the last, in the join. */
export function partCuts(texts: readonly string[]): number[] {
  const out: number[] = [];
  let at = 0;
  for (let i = 0; i < texts.length - 1; i++) out.push((at += (texts[i] as string).length));
  return out;
}

/**
 * A `{type: 'refusal', refusal}` content part with text: a non-empty string, or any other value
 * but null (read as its JSON text, valueText).
 */
export function isRefusalPart(p: Record<string, unknown> | undefined): p is Record<string, unknown> {
  return p?.type === 'refusal' && p.refusal != null && p.refusal !== '';
}

function asObj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
