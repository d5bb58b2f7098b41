import type { PromptMessage } from '@llmsec/core/internal';
import * as G from './genai-attributes.ts';

/**
 * The prompt messages a GenAI span carries when its instrumentation captures content, read
 * into the role + text view that @llmsec/core's measureNewInput takes, so a span yields the
 * same new_input_length / turn_index the SDK would have recorded for that request. Three
 * conventions, first found wins:
 * - OpenInference: `llm.input_messages.<i>.message.role` / `.message.content`, or the
 *   multimodal `.message.contents.<j>.message_content.text`;
 * - OpenLLMetry / Traceloop: `gen_ai.prompt.<i>.role` / `.content`;
 * - GenAI semconv: `gen_ai.input.messages`, a JSON string (or an OTLP array of kvlists) of
 *   `{ role, parts: [{ type: 'text', content }, { type: 'tool_call_response', response }, ...] }`.
 *
 * Hostile spans: one pass over the attributes, indices above MAX_MESSAGES and JSON above
 * MAX_JSON_CHARS give up (undefined: no new_input_length rather than one measured on a cut
 * history, whose tail is exactly the part that matters). So does a message the receiver
 * dropped as over max_string_bytes (null): its length is not known.
 */

/** Message indices at or above this give up; the decoder already caps attributes per span (1,024). */
export const MAX_MESSAGES = 1_024;
/** `gen_ai.input.messages` JSON longer than this is not parsed. */
export const MAX_JSON_CHARS = 1_000_000;
/** Parts per message in the OpenInference multimodal form. */
const MAX_PARTS = 64;

interface Slot {
  role?: string;
  content?: string;
  parts?: string[];
}

type Conv = 'openinference' | 'traceloop';

export function promptMessagesOf(a: Readonly<Record<string, unknown>>): PromptMessage[] | undefined {
  const oi: Slot[] = [];
  const tl: Slot[] = [];
  // Too many messages, or one we read was dropped: the measure would be of a cut history.
  let unknown = false;
  for (const k in a) {
    let conv: Conv;
    let at: number;
    if (k.startsWith(G.OPENINFERENCE_INPUT_MESSAGES_PREFIX)) {
      conv = 'openinference';
      at = G.OPENINFERENCE_INPUT_MESSAGES_PREFIX.length;
    } else if (k.startsWith(G.TRACELOOP_PROMPT_PREFIX)) {
      conv = 'traceloop';
      at = G.TRACELOOP_PROMPT_PREFIX.length;
    } else continue;
    const idx = leadingIndex(k, at);
    if (idx === undefined) continue;
    if (idx.value >= MAX_MESSAGES) {
      unknown = true;
      continue;
    }
    const rest = k.slice(idx.end);
    const v = a[k];
    if (typeof v !== 'string') {
      // null: a value over the receiver's max_string_bytes, dropped with the span kept. Read as
      // '' it would measure a long new input as 0 (or as the message before it).
      if (v === null && isReadSlot(conv, rest)) unknown = true;
      continue;
    }
    const slots = conv === 'openinference' ? oi : tl;
    const slot = (slots[idx.value] ??= {});
    if (conv === 'openinference') readOpenInference(slot, rest, v);
    else if (rest === '.role') slot.role = v;
    else if (rest === '.content') slot.content = v;
  }
  if (unknown) return undefined;
  const fromIndexed = compact(oi) ?? compact(tl);
  if (fromIndexed !== undefined) return fromIndexed;
  return semconvMessages(a[G.GEN_AI_INPUT_MESSAGES]);
}

/** The attributes readOpenInference and the Traceloop branch take (others, as tool calls, are not read). */
function isReadSlot(conv: Conv, rest: string): boolean {
  if (conv === 'traceloop') return rest === '.role' || rest === '.content';
  return (
    rest === '.message.role' ||
    rest === '.message.content' ||
    (rest.startsWith('.message.contents.') && rest.endsWith('.message_content.text'))
  );
}

function readOpenInference(slot: Slot, rest: string, v: string): void {
  if (rest === '.message.role') slot.role = v;
  else if (rest === '.message.content') slot.content = v;
  else if (rest.startsWith('.message.contents.') && rest.endsWith('.message_content.text')) {
    const j = leadingIndex(rest, '.message.contents.'.length);
    if (j === undefined || j.value >= MAX_PARTS || rest.length !== j.end + '.message_content.text'.length)
      return;
    (slot.parts ??= [])[j.value] = v;
  }
}

/** Decimal index starting at `from`, ending at a '.' or the key's end; at most 6 digits. */
function leadingIndex(k: string, from: number): { value: number; end: number } | undefined {
  let end = from;
  while (end < k.length && end - from <= 6) {
    const c = k.charCodeAt(end);
    if (c < 48 || c > 57) break;
    end++;
  }
  if (end === from || end - from > 6 || (end < k.length && k[end] !== '.')) return undefined;
  return { value: Number(k.slice(from, end)), end };
}

/** Messages in index order (holes skipped); undefined when no message has a role. */
function compact(slots: readonly (Slot | undefined)[]): PromptMessage[] | undefined {
  const out: PromptMessage[] = [];
  let roles = 0;
  for (const s of slots) {
    // Indices with only attributes we do not read (Traceloop `.tool_calls.<j>.*`) are no message.
    if (s === undefined || (s.role === undefined && s.content === undefined && s.parts === undefined))
      continue;
    if (s.role !== undefined) roles++;
    const content =
      s.content ?? (s.parts !== undefined ? s.parts.filter((p) => p !== undefined).join('') : '');
    out.push({ role: s.role ?? '', content });
  }
  return roles > 0 ? out : undefined;
}

function semconvMessages(v: unknown): PromptMessage[] | undefined {
  let list: unknown = v;
  if (typeof v === 'string') {
    if (v.length === 0 || v.length > MAX_JSON_CHARS) return undefined;
    try {
      list = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_MESSAGES) return undefined;
  const out: PromptMessage[] = [];
  for (const m of list) {
    if (typeof m !== 'object' || m === null) return undefined;
    const { role, parts } = m as { role?: unknown; parts?: unknown };
    if (typeof role !== 'string') return undefined;
    // In the OTLP array form a null part value was dropped by the receiver (over its cap); in
    // the JSON string form null is the sender's own.
    const content = Array.isArray(parts) ? partsText(parts, typeof v !== 'string') : '';
    if (content === undefined) return undefined;
    out.push({ role, content });
  }
  return out;
}

/**
 * Text parts' content and tool results (string, else their JSON); other parts (media, tool
 * calls) count 0. Undefined when `nullDropped` and a content or response is null (unknown length).
 */
function partsText(parts: readonly unknown[], nullDropped: boolean): string | undefined {
  let text = '';
  for (let i = 0; i < parts.length && i < MAX_PARTS; i++) {
    const p = parts[i];
    if (typeof p !== 'object' || p === null) continue;
    const { content, response } = p as { content?: unknown; response?: unknown };
    if (nullDropped && (content === null || response === null)) return undefined;
    if (typeof content === 'string') text += content;
    else if (typeof response === 'string') text += response;
    else if (response !== undefined && response !== null) text += jsonText(response);
  }
  return text;
}

function jsonText(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}
