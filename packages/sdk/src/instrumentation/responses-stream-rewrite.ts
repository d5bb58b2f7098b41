import { arr, num, obj } from './adapter.ts';
import { dropListLogprobs } from './logprobs.ts';
import { WITHHELD } from './output-texts.ts';
import { responsesOutputTexts } from './responses-output.ts';
import { placeAnnotations, StreamOffsets } from './stream-offsets.ts';
import type { StreamItemRewrite } from './stream-rewriter.ts';
import { hostedInputs } from './responses-hosted-inputs.ts';
import { ItemRun } from './stream.ts';
import { reasoningTexts } from './responses-reasoning.ts';
import { STREAM_LIMIT_FILTER } from './stream-limit.ts';
import {
  argumentsText,
  MAX_TOOL_CALLS,
  textSlot,
  UnwritableArguments,
  valueText,
  type ArgumentSlot,
} from './tool-arguments.ts';

/**
 * OpenAI Responses events rewritten for the reader (the adapter's `rewriteStreamItem`,
 * stream-item-rewrite.ts): `response.output_text.delta`'s `delta` through `rw.next`; the text
 * the stream repeats (`output_text.done`, the parts of `content_part.*` and `output_item.*`, the
 * response of `response.created` / `in_progress` / `completed` / `incomplete` / `failed` and its
 * `output_text`) as the deltas of that part were delivered; annotations' titles and URLs
 * (`output_text.annotation.added`, and in each part) through `rw.whole`, as texts of their own;
 * a refusal whole (`refusal.done`, `refusal` parts), its `refusal.delta` pieces delivered empty.
 *
 * A part's repeated text is what its deltas became: the events come in order, so when a part's
 * done events reach the reader its deltas have been delivered (the held ones first). Before,
 * each repeat was rewritten on its own: an address cut between two parts (or two items) was
 * redacted in the deltas, which run on from one part into the next, but found in neither half
 * alone, so the done events and the final response (`responses.stream()`'s `finalResponse()`)
 * carried it whole. A part whose repeat is not what its deltas joined to repeats what they were
 * delivered as; one whose deltas were not seen is withheld in its own done events (WITHHELD) and
 * rewritten with the others' text whole in the response (responses-output.ts), never left as
 * it was.
 *
 * Memory: the raw and delivered text of each part (keyed by output and content index), as
 * long as the answer, for the stream's life. Bounded: the raw text is the stream's deltas, which
 * its accumulator counts against the end check's cap (kept-text.ts: the delta past it is cut
 * before it reaches this rewrite), the delivered text their rewrite; and at most
 * MAX_DELIVERED_PARTS parts, since a delta may be empty: before, a stream of empty deltas each
 * naming a new part grew the map without bound and the character count never moved.
 */

/** Parts a stream's rewrite follows (an answer has a few); a delta naming one more cuts the stream. */
export const MAX_DELIVERED_PARTS = 1024;

const TOO_MANY_PARTS = `stream_limit: more than ${MAX_DELIVERED_PARTS} output_text parts`;

interface PartText {
  raw: string;
  out: string;
  /** Where the deltas changed the part's text: annotation.added offsets are moved by it. */
  offsets: StreamOffsets;
}

/** Per stream (its StreamItemRewrite): each part's deltas, raw and as delivered. */
const delivered = new WeakMap<StreamItemRewrite, Map<string, PartText>>();

function key(outputIndex: unknown, contentIndex: unknown): string | undefined {
  const o = num(outputIndex);
  const c = num(contentIndex);
  return o === undefined || c === undefined ? undefined : `${o}:${c}`;
}

export function rewriteResponsesEvent(item: unknown, rw: StreamItemRewrite): unknown {
  const ev = obj(item);
  if (ev === undefined) return item;
  switch (ev.type) {
    case 'response.output_text.delta': {
      // A delta that is not a string: its JSON text, replaced only when its rewrite differs.
      const raw = valueText(ev.delta);
      if (raw !== undefined) {
        const next = rw.next(raw);
        const k = key(ev.output_index, ev.content_index);
        if (k !== undefined) {
          let parts = delivered.get(rw);
          if (parts === undefined) delivered.set(rw, (parts = new Map()));
          let p = parts.get(k);
          if (p === undefined) {
            // Fail closed, as the hold's cap (held-text.ts): an OutputBlockedError, filter stream_limit.
            if (parts.size >= MAX_DELIVERED_PARTS)
              throw new UnwritableArguments(STREAM_LIMIT_FILTER, TOO_MANY_PARTS);
            parts.set(k, (p = { raw: '', out: '', offsets: new StreamOffsets() }));
          }
          p.raw += raw;
          p.out += next;
          p.offsets.add(raw, next, next !== raw ? rw.changes?.() : undefined);
        }
        if (next !== raw) {
          dropListLogprobs(ev);
          ev.delta = next;
        }
      }
      break;
    }
    case 'response.output_text.done': {
      const text = valueText(ev.text);
      if (text !== undefined) {
        const next = repeated(rw, key(ev.output_index, ev.content_index), text) ?? WITHHELD;
        if (next !== text) {
          dropListLogprobs(ev);
          ev.text = next;
        }
      }
      break;
    }
    case 'response.refusal.delta':
      // A refusal goes out whole, redacted, in its done event (and the parts and response that
      // repeat it): its pieces are not the stream text the rewriter follows, so they are kept
      // back ('' delivered), a string or not (read as its JSON text). Before, they reached the
      // reader as sent.
      if (ev.delta != null) ev.delta = '';
      break;
    case 'response.refusal.done':
      // Not a string: its JSON text, written as a string only when its rewrite differs.
      rewriteReasoning(ev, 'refusal', rw);
      break;
    case 'response.content_part.added':
    case 'response.content_part.done':
      // A reasoning item's reasoning_text part: its text whole, as the item's other repeats.
      if (obj(ev.part)?.type === 'reasoning_text') {
        rewriteReasoning(obj(ev.part)!, 'text', rw);
        break;
      }
      rewriteItems(undefined, [{ content: [ev.part] }], [num(ev.output_index)], num(ev.content_index), rw);
      break;
    case 'response.output_item.added':
    case 'response.output_item.done':
      rewriteItems(undefined, [ev.item], [num(ev.output_index)], undefined, rw);
      rewriteCallItems([ev.item], rw);
      break;
    case 'response.function_call_arguments.delta':
    case 'response.custom_tool_call_input.delta':
    case 'response.mcp_call_arguments.delta':
    case 'response.code_interpreter_call_code.delta':
      // A tool call's arguments go out whole, rewritten, in one delta before its done event and
      // in the done events (rewriteCallItems): a finding in a piece of JSON cannot be replaced
      // before the rest is seen. A piece that is not a string (read as its JSON text) too.
      if (ev.delta != null && ev.delta !== '') {
        ev.delta = '';
        keptBack(rw, ev);
      }
      break;
    case 'response.shell_call_command.added':
      // A shell command's first text (the added event carries one) and its pieces, kept back as
      // a function call's: the command goes out whole, rewritten, before its done event (one that
      // is not a string too: read as its JSON text).
      if (ev.command != null && ev.command !== '') {
        ev.command = '';
        keptBack(rw, ev);
      }
      break;
    case 'response.shell_call_command.delta':
      if (ev.delta != null && ev.delta !== '') {
        ev.delta = '';
        keptBack(rw, ev);
      }
      break;
    case 'response.shell_call_command.done':
      rewriteArguments(ev, 'command', rw);
      return wholeDeltaBefore(ev, 'command', 'response.shell_call_command.delta', rw);
    case 'response.function_call_arguments.done':
      rewriteArguments(ev, 'arguments', rw);
      return wholeDeltaBefore(ev, 'arguments', 'response.function_call_arguments.delta', rw);
    case 'response.custom_tool_call_input.done':
      rewriteArguments(ev, 'input', rw);
      return wholeDeltaBefore(ev, 'input', 'response.custom_tool_call_input.delta', rw);
    case 'response.mcp_call_arguments.done':
      rewriteArguments(ev, 'arguments', rw);
      return wholeDeltaBefore(ev, 'arguments', 'response.mcp_call_arguments.delta', rw);
    case 'response.code_interpreter_call_code.done':
      rewriteArguments(ev, 'code', rw);
      return wholeDeltaBefore(ev, 'code', 'response.code_interpreter_call_code.delta', rw);
    case 'response.reasoning_summary_text.delta':
    case 'response.reasoning_text.delta':
      // A reasoning summary or content part goes out as a call's arguments do
      // (responses-reasoning.ts): its pieces empty, its text whole, rewritten, in one delta
      // before its done event. A piece that is not a string (read as its JSON text) too.
      if (ev.delta != null && ev.delta !== '') {
        ev.delta = '';
        keptBack(rw, ev);
      }
      break;
    case 'response.reasoning_summary_text.done':
      rewriteReasoning(ev, 'text', rw);
      return wholeDeltaBefore(ev, 'text', 'response.reasoning_summary_text.delta', rw);
    case 'response.reasoning_text.done':
      rewriteReasoning(ev, 'text', rw);
      return wholeDeltaBefore(ev, 'text', 'response.reasoning_text.delta', rw);
    case 'response.reasoning_summary_part.added':
    case 'response.reasoning_summary_part.done': {
      const part = obj(ev.part);
      if (part !== undefined) rewriteReasoning(part, 'text', rw);
      break;
    }
    case 'response.output_text.annotation.added':
      rewriteItems(
        undefined,
        [{ content: [{ type: 'output_text', text: '', annotations: [ev.annotation] }] }],
        [],
        undefined,
        rw,
      );
      placeAdded(ev, rw);
      break;
    case 'response.created':
    case 'response.in_progress':
    case 'response.completed':
    case 'response.incomplete':
    case 'response.failed':
      rewriteItems(ev.response, undefined, undefined, undefined, rw);
      rewriteCallItems(arr(obj(ev.response)?.output), rw);
      break;
    default:
      break;
  }
  return item;
}

/**
 * A redact stream's tool-call arguments (tool-arguments.ts): the `function_call_arguments.delta`
 * (`custom_tool_call_input.delta`) pieces are delivered empty and the arguments whole, rewritten,
 * in the done event and in every item and response that repeats the call. A rewrite that is no
 * longer JSON where the arguments were throws UnwritableArguments: the stream is cut there as a
 * block (call-stream.ts). Before, the pieces and repeats reached the reader as sent.
 */
function rewriteArguments(holder: Record<string, unknown>, field: string, rw: StreamItemRewrite): void {
  // Arguments that are not a string are read as their JSON text (textSlot, as the complete
  // response's), the rewrite written as a string when it differs; before, they went out as sent.
  const raw = holder[field];
  if (raw == null || raw === '') return;
  const slots: ArgumentSlot[] = [];
  textSlot(holder, field, slots);
  if (slots[0] !== undefined) slots[0].write(rw.whole(slots[0].read));
}

/**
 * A reasoning text (responses-reasoning.ts) or a refusal: prose, a string rewritten whole as it
 * is (no escape decoded); a value that is not a string is read as its JSON text (valueText) and written as
 * a string only when its rewrite differs (a clean one goes out as sent).
 */
function rewriteReasoning(holder: Record<string, unknown>, field: string, rw: StreamItemRewrite): void {
  const read = valueText(holder[field]);
  if (read === undefined || read.length === 0) return;
  const next = rw.whole(read);
  if (next !== read) holder[field] = next;
}

/**
 * Per stream (its StreamItemRewrite): the calls whose argument pieces were emptied, by output
 * index (and command index: a shell_call's commands each go out whole).
 */
const emptied = new WeakMap<StreamItemRewrite, Set<string>>();

function callKey(ev: Record<string, unknown>): string {
  const o = num(ev.output_index) ?? 0;
  const c = num(ev.command_index);
  if (c !== undefined) return `${o}:${c}`;
  // A reasoning item's summaries and content parts each go out whole.
  const s = num(ev.summary_index);
  if (s !== undefined) return `${o}:s${s}`;
  const r = num(ev.content_index);
  return r === undefined ? `${o}` : `${o}:c${r}`;
}

function keptBack(rw: StreamItemRewrite, ev: Record<string, unknown>): void {
  let at = emptied.get(rw);
  if (at === undefined) emptied.set(rw, (at = new Set()));
  // Bounded: the accumulator cuts a guarded stream past MAX_TOOL_CALLS calls.
  if (at.size < MAX_TOOL_CALLS) at.add(callKey(ev));
}

/**
 * A call's done event, its arguments rewritten, after one delta of `type` carrying them whole,
 * when its pieces went out empty: an application joining the deltas itself gets the rewritten
 * arguments, not '' (before, redact gave it '' even for clean arguments); openai's ResponseStream
 * appends the delta to the call's arguments and then sets them to the done event's, the same
 * text. The delta repeats the done event's sequence_number (read only to resume a stream after
 * a number: both are then skipped or both kept).
 */
function wholeDeltaBefore(
  ev: Record<string, unknown>,
  field: string,
  type: string,
  rw: StreamItemRewrite,
): unknown {
  // Arguments the rewrite left as sent that are not a string: their JSON text (the pieces went
  // out empty, so a reader joining the deltas gets the text the guards read).
  const whole = argumentsText(ev[field]);
  const at = emptied.get(rw);
  if (at === undefined || !at.delete(callKey(ev)) || whole === undefined || whole.length === 0) return ev;
  const delta: Record<string, unknown> = {
    type,
    sequence_number: ev.sequence_number,
    item_id: ev.item_id,
    output_index: ev.output_index,
    delta: whole,
  };
  // A shell command's delta names its command, not an item.
  if (ev.command_index !== undefined) {
    delete delta.item_id;
    delta.command_index = ev.command_index;
  }
  if (ev.summary_index !== undefined) delta.summary_index = ev.summary_index;
  if (ev.content_index !== undefined) delta.content_index = ev.content_index;
  return new ItemRun([delta, ev]);
}

/** The function_call / custom_tool_call items of a list, their arguments rewritten (rewriteArguments). */
function rewriteCallItems(items: readonly unknown[], rw: StreamItemRewrite): void {
  for (const item of items) {
    const o = obj(item);
    if (o?.type === 'function_call') rewriteArguments(o, 'arguments', rw);
    else if (o?.type === 'custom_tool_call') rewriteArguments(o, 'input', rw);
    else if (o?.type === 'reasoning')
      for (const [holder, field] of reasoningTexts(o)) rewriteReasoning(holder, field, rw);
    else for (const [holder, field] of hostedInputs(o)) rewriteArguments(holder, field, rw);
  }
}

/**
 * An annotation.added event's offsets (`start_index` / `end_index`, `index`: into its part's
 * text as sent) moved to the part's text as its deltas were delivered (stream-offsets.ts, as a
 * chat stream's annotation chunks): kept before the first change, moved after one, and where it
 * cannot be placed (over a change, past the text delivered so far, a part whose deltas were not
 * seen) its offsets are removed. The event itself must go out (an
 * item is not dropped), so it carries no claim of where it points; the part's done events and the
 * final response drop that annotation (annotation-offsets.ts). Before, the offsets went out as
 * sent: after a placeholder of another length, they marked the wrong characters.
 */
function placeAdded(ev: Record<string, unknown>, rw: StreamItemRewrite): void {
  const a = obj(ev.annotation);
  if (a === undefined || !OFFSETS.some((f) => typeof a[f] === 'number')) return;
  const k = key(ev.output_index, ev.content_index);
  const p = k === undefined ? undefined : delivered.get(rw)?.get(k);
  if (p !== undefined && placeAnnotations([a], p.offsets).length === 1) return;
  for (const f of OFFSETS) delete a[f];
}

const OFFSETS = ['start_index', 'end_index', 'index'] as const;

/**
 * What a part's deltas were delivered as, when it had any: the repeat of a part is never more
 * than the reader got from its deltas, even when the server's repeat differs from them (before,
 * such a repeat was rewritten alone, and half of an address cut at the part's edge, found in
 * neither part on its own, went out in it). Undefined for a part without deltas.
 */
function repeated(rw: StreamItemRewrite, k: string | undefined, text: string): string | undefined {
  if (k === undefined || text.length === 0) return undefined;
  return delivered.get(rw)?.get(k)?.out;
}

/**
 * The output_text parts of a response (or of the items given, at output indexes `at`; one part
 * at content index `contentIndex`) written back as their deltas were delivered when every part
 * with text has its deltas seen. Else a response (every part) is rewritten whole as one text and
 * cut back part by part (responses-output.ts), and an event's own items have each part without
 * deltas withheld: a part read alone cannot be judged, since the next part's first characters
 * (not sent yet) may complete a finding cut at its end. Annotations through `rw.whole` each.
 */
function rewriteItems(
  response: unknown,
  items: readonly unknown[] | undefined,
  at: ReadonlyArray<number | undefined> | undefined,
  contentIndex: number | undefined,
  rw: StreamItemRewrite,
): void {
  const t = responsesOutputTexts(response, items);
  const text = t.answer[0] ?? '';
  if (text.length === 0 && t.side.length === 0) return;
  const side = t.side.map((s) => rw.whole(s));
  const list = items ?? arr(obj(response)?.output);
  const out: string[] = [];
  /** Each part's repeat, a part without deltas withheld (an event's own items only). */
  const pieces: string[] = [];
  let all = true;
  for (const [i, it] of list.entries()) {
    const oi = at === undefined ? i : at[i];
    for (const [ci, part] of arr(obj(it)?.content).entries()) {
      const p = obj(part);
      const read = p?.type === 'output_text' ? valueText(p.text) : undefined;
      if (read === undefined) continue;
      const next = read.length === 0 ? '' : repeated(rw, key(oi, contentIndex ?? ci), read);
      if (next === undefined) all = false;
      else out.push(next);
      pieces.push(next ?? WITHHELD);
    }
  }
  if (all) t.writeParts(out, side);
  else if (items === undefined) t.write([text.length > 0 ? rw.whole(text) : text], side);
  else t.writeParts(pieces, side);
}
